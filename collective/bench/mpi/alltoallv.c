/* Open MPI comparison for `jellybean bench collective --mpi`: every rank calls MPI_Alltoallv with BYTES
 * bytes per destination, ROUNDS times after two warm-up calls; rank 0 prints the slowest rank's time as
 * one JSON line. Build: mpicc -O2 -o alltoallv alltoallv.c */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc != 3) {
        if (rank == 0) fprintf(stderr, "usage: alltoallv BYTES ROUNDS\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    long bytes = atol(argv[1]);
    int rounds = atoi(argv[2]);
    if (bytes < 0 || rounds <= 0 || bytes * (long)size > 0x7fffffffL) {
        if (rank == 0) fprintf(stderr, "alltoallv: bad BYTES or ROUNDS\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    char *sbuf = malloc(bytes * size + 1), *rbuf = malloc(bytes * size + 1);
    int *counts = malloc(sizeof(int) * size), *displs = malloc(sizeof(int) * size);
    if (!sbuf || !rbuf || !counts || !displs) MPI_Abort(MPI_COMM_WORLD, 3);
    uint64_t x = 0x9E3779B97F4A7C15ull ^ (uint64_t)rank;
    for (long i = 0; i < bytes * size; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        sbuf[i] = (char)x;
    }
    for (int i = 0; i < size; i++) {
        counts[i] = (int)bytes;
        displs[i] = (int)(bytes * i);
    }
    for (int i = 0; i < 2; i++)
        MPI_Alltoallv(sbuf, counts, displs, MPI_BYTE, rbuf, counts, displs, MPI_BYTE, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    for (int i = 0; i < rounds; i++)
        MPI_Alltoallv(sbuf, counts, displs, MPI_BYTE, rbuf, counts, displs, MPI_BYTE, MPI_COMM_WORLD);
    double t = MPI_Wtime() - t0, tmax = 0;
    MPI_Reduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0) printf("{\"seconds\": %.9f}\n", tmax);
    free(sbuf); free(rbuf); free(counts); free(displs);
    MPI_Finalize();
    return 0;
}
