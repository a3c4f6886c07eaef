package bench

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

//go:embed mpi/alltoallv.c
var mpiSource []byte

// BuildMPI compiles the Open MPI comparison program into dir with mpicc and returns its path.
func BuildMPI(dir string) (string, error) {
	mpicc, err := exec.LookPath("mpicc")
	if err != nil {
		return "", fmt.Errorf("mpicc not found (apt-get install openmpi-bin libopenmpi-dev): %w", err)
	}
	src := filepath.Join(dir, "alltoallv.c")
	if err := os.WriteFile(src, mpiSource, 0o644); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "alltoallv")
	if out, err := exec.Command(mpicc, "-O2", "-o", bin, src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("mpicc: %v: %s", err, out)
	}
	return bin, nil
}

// runMPI runs the compiled program with Open MPI's TCP transport on loopback (the configuration the
// project compares against) and returns the aggregate throughput.
func runMPI(ctx context.Context, o Options) (float64, error) {
	args := []string{"--oversubscribe", "--allow-run-as-root", "--mca", "pml", "ob1", "--mca", "btl", "tcp,self",
		"--mca", "btl_tcp_if_include", "lo", "-np", strconv.Itoa(o.Ranks), o.MPI, strconv.Itoa(o.Bytes), strconv.Itoa(o.Rounds)}
	cmd := exec.CommandContext(ctx, "mpirun", args...)
	cmd.Env = append(os.Environ(), "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		return 0, fmt.Errorf("mpirun %s: %v: %s", strings.Join(args, " "), err, msg)
	}
	var r struct{ Seconds float64 }
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil || r.Seconds <= 0 {
		return 0, fmt.Errorf("mpirun output %q: %v", out, err)
	}
	delivered := float64(o.Bytes) * float64(o.Rounds) * float64(o.Ranks) * float64(o.Ranks-1)
	return delivered / r.Seconds / 1e9, nil
}
