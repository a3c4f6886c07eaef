// Package ranks derives everything a rank needs to know about its role from the hostfile, the plan and
// its rank number: pure functions, no I/O, so that every rank of a job computes the same result.
package ranks

import (
	"fmt"
	"strconv"
	"strings"
)

// RankEnvVars are the environment variables that carry the rank, in the order they are consulted: our
// own launcher's first, then Open MPI, PMIx, MPICH/Hydra (PMI), Slurm, and torchrun-style RANK.
var RankEnvVars = []string{"JELLYBEAN_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID", "RANK"}

// SizeEnvVars name the world size that MPI launchers and Slurm export; when one is set it must agree
// with the hostfile (a mismatch means the hostfile and the launcher disagree about the job).
var SizeEnvVars = []string{"JELLYBEAN_WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS", "WORLD_SIZE"}

// Discover returns the rank and where it came from: flagValue ("" = flag not given) wins, then the first
// set variable of RankEnvVars. getenv is os.Getenv in production.
func Discover(flagValue string, getenv func(string) string) (rank int, from string, err error) {
	if flagValue != "" {
		return parseRank("--rank", flagValue)
	}
	for _, name := range RankEnvVars {
		if v := getenv(name); v != "" {
			return parseRank(name, v)
		}
	}
	return 0, "", fmt.Errorf("no rank: pass --rank or set one of %s (mpirun and srun set theirs)",
		strings.Join(RankEnvVars, ", "))
}

func parseRank(from, v string) (int, string, error) {
	r, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || r < 0 {
		return 0, from, fmt.Errorf("%s=%q is not a rank (want an integer >= 0)", from, v)
	}
	return r, from, nil
}

// CheckWorld checks the rank against the hostfile's world size, and any world size the launcher's
// environment announces.
func CheckWorld(rank int, from string, worldSize int, hostfile string, getenv func(string) string) error {
	if rank >= worldSize {
		return fmt.Errorf("rank %d (from %s) out of range: hostfile %s has %d slots (ranks 0..%d)",
			rank, from, hostfile, worldSize, worldSize-1)
	}
	for _, name := range SizeEnvVars {
		v := getenv(name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%s=%q is not a world size", name, v)
		}
		if n != worldSize {
			return fmt.Errorf("%s=%d but hostfile %s has %d slots: start exactly one rank per slot", name, n, hostfile, worldSize)
		}
		return nil
	}
	return nil
}
