package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testSecret is a fixed job secret for the jobs started without `jellybean launch` (as a batch script
// exports it); tests only.
var testSecret = strings.Repeat("5e", 32)

// Open MPI's mpirun starts the ranks; each takes its rank from OMPI_COMM_WORLD_RANK, and -x hands them
// the secret from the environment.
func TestMpirunRunsAJob(t *testing.T) {
	want := uninterrupted(t)
	mpirun, err := exec.LookPath("mpirun")
	if err != nil {
		t.Fatal("mpirun not found: install it with `apt-get install -y openmpi-bin` (this test runs a job under Open MPI)")
	}
	dir := t.TempDir()
	hf, pl := writeJob(t, dir, jobSpec{hosts: []string{"localhost"}, basePort: freeBasePort(t)})
	runDir := filepath.Join(dir, "runs", "mpi")
	ctx, cancel := context.WithTimeout(context.Background(), jobLimit)
	defer cancel()
	// As documented in job/launch/examples/jellybean.sbatch: the same hostfile, --map-by slot.
	cmd := exec.CommandContext(ctx, mpirun, "--allow-run-as-root", "--hostfile", hf, "--map-by", "slot",
		"-x", "JELLYBEAN_JOB_SECRET", "-x", "JELLYBEAN_JOB_ID", "-x", "JELLYBEAN_ORT_LIB",
		jellybean, "run", "-H", hf, "-p", pl, "--run-dir", runDir)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "JELLYBEAN_JOB_SECRET="+testSecret, "JELLYBEAN_JOB_ID=mpi-e2e", "JELLYBEAN_ORT_LIB="+ortLib)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) } // mpirun stops its ranks on SIGTERM
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mpirun: %v\n%s", err, tail(string(out), 4000))
	}
	sameResults(t, "run under mpirun", readResults(t, runDir), want)
}

// Under srun each task has SLURM_PROCID and SLURM_JOB_ID; without --run-dir the run lands in
// runs/slurm-<job id> under the root. Slurm is not installed here, so the test gives six processes the
// environment srun gives its tasks (the ranks read nothing else from Slurm).
func TestSlurmStyleRanks(t *testing.T) {
	want := uninterrupted(t)
	dir := t.TempDir()
	hf, pl := writeJob(t, dir, jobSpec{hosts: []string{"localhost"}, basePort: freeBasePort(t)})
	// The root is a scratch copy holding only links to what the ranks read, so that runs/ is the test's own.
	root := t.TempDir()
	for _, name := range []string{"workloads", ".cache"} {
		if err := os.Symlink(filepath.Join(repoRoot, name), filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	jobID := strconv.Itoa(os.Getpid())
	ctx, cancel := context.WithTimeout(context.Background(), jobLimit)
	defer cancel()
	type proc struct {
		cmd *exec.Cmd
		out *bytes.Buffer
	}
	var procs []proc
	for r := 0; r < 6; r++ {
		cmd := exec.CommandContext(ctx, jellybean, "run", "-H", hf, "-p", pl)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "JELLYBEAN_JOB_SECRET="+testSecret, "JELLYBEAN_ORT_LIB="+ortLib,
			"SLURM_PROCID="+strconv.Itoa(r), "SLURM_JOB_ID="+jobID, "SLURM_NTASKS=6")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.WaitDelay = 5 * time.Second
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, proc{cmd, &out})
	}
	for r, p := range procs {
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("SLURM_PROCID=%d: %v\n%s", r, err, tail(p.out.String(), 2000))
		}
	}
	if t.Failed() {
		return
	}
	sameResults(t, "Slurm-style ranks", readResults(t, filepath.Join(root, "runs", "slurm-"+jobID)), want)
}

// `jellybean launch --list-ranks` is the SLURM_HOSTFILE the sbatch example gives srun: one host per rank.
func TestListRanksForSlurm(t *testing.T) {
	dir := t.TempDir()
	hf := filepath.Join(dir, "hostfile")
	writeFile(t, hf, "# two nodes\nnode1 slots=2\nnode2:1\nnode1 slots=1   # merged into node1\n")
	cmd := exec.Command(jellybean, "launch", "-H", hf, "--list-ranks")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got, want := string(out), "node1\nnode1\nnode1\nnode2\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
