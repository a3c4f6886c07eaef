package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The cluster section of README.md, run as a user would: every shell block of the section exactly as
// printed (bash -e, from the JellyBean root), on a real one-node Slurm cluster on loopback and under Open
// MPI, with the default plan and data. Then a kill -9 of one Slurm task: the job must end FAILED with the
// dead rank named and its partial results kept, and the README's --resume command must finish exactly the
// missing items.
//
// Needs root, the Slurm and munge packages (.ci/slurm-up.sh installs them) and Open MPI; about 1.5 minutes.
func TestClusterCommandsFromREADME(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Slurm and Open MPI jobs (root, system packages): part of .ci/run")
	}
	if os.Geteuid() != 0 {
		t.Fatal("this test brings up a Slurm cluster and runs mpirun as root: run it as root (CI does)")
	}
	blocks := readmeClusterBlocks(t)
	setup, launchSh, sbatch, resume, srun, mpirun := blocks[0], blocks[1], blocks[2], blocks[3], blocks[4], blocks[5]
	for _, c := range []struct{ block, want string }{
		{setup, "go build -o bin/jellybean ./job"}, {launchSh, "./launch.sh -H hostfiles/localhost"}, {sbatch, "sbatch --ntasks=6 job/launch/examples/jellybean.sbatch hostfiles/localhost"},
		{resume, "--resume \"$RUN_ID\""}, {srun, "srun "}, {mpirun, "mpirun "},
	} {
		if !strings.Contains(c.block, c.want) {
			t.Fatalf("README's cluster blocks are not in the order this test expects: %q lacks %q", c.block, c.want)
		}
	}
	env := append(slurmUp(t), "JELLYBEAN_ORT_LIB="+ortLib)
	var made []string // run directories this test created in the root, removed when it passes
	t.Cleanup(func() {
		if !t.Failed() {
			for _, d := range made {
				os.RemoveAll(d)
			}
		}
	})

	runBlock(t, "setup", setup, env)

	// 1. The README's sbatch command.
	id := submitted(t, runBlock(t, "sbatch", sbatch, env))
	if state := waitJob(t, id, env); state != "COMPLETED" {
		t.Fatalf("sbatch job %d ended %s:\n%s", id, state, jobOutput(t, id))
	}
	runDir := slurmRunDir(t, id)
	made = append(made, runDir)
	want := readResults(t, runDir)
	if len(want) != 400 {
		t.Fatalf("sbatch run: %d results, want the default split's 400", len(want))
	}
	for _, f := range []string{"eval.json", "summary.json", "plan.toml", "hostfile", fmt.Sprintf("slurm-%d.out", id)} {
		if _, err := os.Stat(filepath.Join(runDir, f)); err != nil {
			t.Errorf("sbatch run: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "runs", fmt.Sprintf("slurm-%d.out", id))); err == nil {
		t.Errorf("the job's output stayed in runs/ instead of moving into %s", runDir)
	}

	// A wrong --ntasks: FAILED at once with what to change, and no run directory.
	id = submitted(t, runBlock(t, "sbatch with too few tasks",
		"sbatch --ntasks=4 job/launch/examples/jellybean.sbatch hostfiles/localhost plan/examples/default.toml", env))
	if state := waitJob(t, id, env); state != "FAILED" || jobField(t, id, env, "ExitCode") != "2:0" {
		t.Errorf("job %d with --ntasks=4 ended %s (exit %s), want FAILED with exit 2", id, state, jobField(t, id, env, "ExitCode"))
	}
	if out := jobOutput(t, id); !strings.Contains(out, "submit with --ntasks=6") {
		t.Errorf("job %d with --ntasks=4 does not say to submit with --ntasks=6:\n%s", id, out)
	}
	if dirs, _ := filepath.Glob(filepath.Join(repoRoot, "runs", fmt.Sprintf("slurm-%d-*", id))); len(dirs) != 0 {
		t.Errorf("a refused submission left run directories %v", dirs)
	}
	made = append(made, filepath.Join(repoRoot, "runs", fmt.Sprintf("slurm-%d.out", id)))

	// 2. Our launcher, 3. srun alone, 4. mpirun: the same answers. Rank 0's port would be the plan's base_port (29500), which
	// other jobs on a shared test machine may hold: the documented JELLYBEAN_RENDEZVOUS picks a free one.
	for _, c := range []struct{ name, block string }{{"launch.sh", launchSh}, {"srun", srun}, {"mpirun", mpirun}} {
		before := runDirs(t)
		runBlock(t, c.name, c.block, append(env, "JELLYBEAN_RENDEZVOUS="+strconv.Itoa(freeBasePort(t))))
		dir := newRunDir(t, before)
		made = append(made, dir)
		sameResults(t, c.name+" run", readResults(t, dir), want)
	}

	// 5. kill -9 of one task of a paced job: FAILED, the dead rank named, partial results kept.
	paced := filepath.Join(t.TempDir(), "paced.toml")
	data, err := os.ReadFile(filepath.Join(repoRoot, "plan", "examples", "default.toml"))
	if err != nil {
		t.Fatal(err)
	}
	data = regexp.MustCompile(`(?m)^input_rate = .*$`).ReplaceAll(data, []byte("input_rate = 40.0"))
	if err := os.WriteFile(paced, data, 0o644); err != nil {
		t.Fatal(err)
	}
	id = submitted(t, runBlock(t, "paced sbatch", "sbatch --ntasks=6 job/launch/examples/jellybean.sbatch hostfiles/localhost "+paced, env))
	runDir = waitSlurmRunDir(t, id)
	made = append(made, runDir)
	waitResultLines(t, runDir, 60)
	const victim = 3
	pid := slurmTaskPID(t, id, victim)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d (task %d): %v", pid, victim, err)
	}
	killed := time.Now()
	if state := waitJob(t, id, env); state != "FAILED" {
		t.Fatalf("job %d ended %s after a kill -9 of task %d, want FAILED:\n%s", id, state, victim, jobOutput(t, id))
	}
	t.Logf("job %d FAILED %v after the kill", id, time.Since(killed).Round(time.Millisecond))
	if code := jobField(t, id, env, "ExitCode"); code != "137:0" {
		t.Errorf("job %d: ExitCode=%s, want 137:0 (128 + SIGKILL, as README.md says)", id, code)
	}
	out := jobOutput(t, id)
	if !regexp.MustCompile(fmt.Sprintf(`rank \d+: .*rank %d \(`, victim)).MatchString(out) {
		t.Errorf("no rank's line names the killed rank %d:\n%s", victim, tail(out, 3000))
	}
	if !strings.Contains(out, "--resume "+filepath.Base(runDir)) {
		t.Errorf("the output does not say how to resume %s:\n%s", filepath.Base(runDir), tail(out, 2000))
	}
	partial := readResults(t, runDir)
	if len(partial) == 0 || len(partial) >= len(want) {
		t.Fatalf("%d results kept after the kill, want some but not all %d", len(partial), len(want))
	}
	for itemID, r := range partial {
		if w := want[itemID]; r.Answer != w.Answer || r.Question != w.Question {
			t.Fatalf("kept result %d = %+v, want %+v", itemID, r, w)
		}
	}

	// 6. The README's --resume command finishes exactly the missing items.
	id = submitted(t, runBlock(t, "resume", resume, append(env, "RUN_ID="+filepath.Base(runDir))))
	if state := waitJob(t, id, env); state != "COMPLETED" {
		t.Fatalf("resume job %d ended %s:\n%s", id, state, jobOutput(t, id))
	}
	sameResults(t, "killed and resumed run", readResults(t, runDir), want)
}

// readmeClusterBlocks returns the ```sh blocks of README.md's "Running on a cluster" section, in order.
func readmeClusterBlocks(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "\n## Running on a cluster\n")
	if start < 0 {
		t.Fatal(`README.md has no "## Running on a cluster" section`)
	}
	section := text[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1) {
		blocks = append(blocks, m[1])
	}
	if len(blocks) != 6 {
		t.Fatalf("README's cluster section has %d sh blocks; this test runs 6 (setup, launch.sh, sbatch, resume, srun, mpirun)", len(blocks))
	}
	return blocks
}

// runBlock runs a README block exactly as printed with bash -e from the root and returns its stdout.
func runBlock(t *testing.T, name, block string, env []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", block)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s block failed: %v\n%s\nstdout:\n%s\nstderr:\n%s", name, err, block, tail(stdout.String(), 6000), tail(stderr.String(), 6000))
	}
	return stdout.String()
}

// slurmUp brings the loopback cluster up (unless it already is) and returns the environment the Slurm
// commands need. A cluster this test started is stopped when it ends.
func slurmUp(t *testing.T) []string {
	t.Helper()
	script := filepath.Join(repoRoot, ".ci", "slurm-up.sh")
	out, err := exec.Command("bash", script, "up").CombinedOutput()
	if err != nil {
		t.Fatalf(".ci/slurm-up.sh: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "already up") {
		t.Cleanup(func() {
			if out, err := exec.Command("bash", script, "down").CombinedOutput(); err != nil {
				t.Errorf(".ci/slurm-up.sh down: %v\n%s", err, out)
			}
		})
	}
	m := regexp.MustCompile(`export (SLURM_CONF=\S+)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf(".ci/slurm-up.sh printed no SLURM_CONF:\n%s", out)
	}
	return []string{m[1]}
}

func submitted(t *testing.T, out string) int {
	t.Helper()
	m := regexp.MustCompile(`Submitted batch job (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("sbatch said %q", out)
	}
	id, _ := strconv.Atoi(m[1])
	return id
}

// jobField is one field of `scontrol show job`.
func jobField(t *testing.T, id int, env []string, name string) string {
	t.Helper()
	cmd := exec.Command("scontrol", "show", "job", strconv.Itoa(id))
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scontrol show job %d: %v\n%s", id, err, out)
	}
	m := regexp.MustCompile(`\b` + name + `=(\S+)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("scontrol show job %d: no %s:\n%s", id, name, out)
	}
	return m[1]
}

// waitJob waits for a Slurm job to end and returns its final state (there is no accounting: scontrol
// keeps finished jobs for a few minutes).
func waitJob(t *testing.T, id int, env []string) string {
	t.Helper()
	deadline := time.Now().Add(4 * time.Minute)
	for time.Now().Before(deadline) {
		switch state := jobField(t, id, env, "JobState"); state {
		case "PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED":
			time.Sleep(250 * time.Millisecond)
		default:
			return state
		}
	}
	t.Fatalf("job %d still running after 4 minutes:\n%s", id, jobOutput(t, id))
	return ""
}

// slurmRunDir is the run directory the sbatch script made for job id.
func slurmRunDir(t *testing.T, id int) string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(repoRoot, "runs", fmt.Sprintf("slurm-%d-*", id)))
	if len(dirs) != 1 {
		t.Fatalf("job %d: run directories %v, want one runs/slurm-%d-<time>", id, dirs, id)
	}
	return dirs[0]
}

func waitSlurmRunDir(t *testing.T, id int) string {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if dirs, _ := filepath.Glob(filepath.Join(repoRoot, "runs", fmt.Sprintf("slurm-%d-*", id))); len(dirs) == 1 {
			return dirs[0]
		}
	}
	t.Fatalf("job %d made no run directory within a minute", id)
	return ""
}

// jobOutput is the sbatch script's output (moved into the run directory), or what is left in runs/.
func jobOutput(t *testing.T, id int) string {
	name := fmt.Sprintf("slurm-%d.out", id)
	paths, _ := filepath.Glob(filepath.Join(repoRoot, "runs", "*", name))
	paths = append(paths, filepath.Join(repoRoot, "runs", name))
	for _, p := range paths {
		if data, err := os.ReadFile(p); err == nil {
			return string(data)
		}
	}
	return "(no output file " + name + ")"
}

// waitResultLines waits until runDir's results.jsonl holds at least n lines.
func waitResultLines(t *testing.T, runDir string, n int) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		data, _ := os.ReadFile(filepath.Join(runDir, "results.jsonl"))
		if bytes.Count(data, []byte("\n")) >= n {
			return
		}
	}
	t.Fatalf("%s: fewer than %d results after 2 minutes", runDir, n)
}

// slurmTaskPID finds the `jellybean run` process of task `task` of job id (its environment says so).
func slurmTaskPID(t *testing.T, id, task int) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*")
	wantJob := []byte(fmt.Sprintf("\x00SLURM_JOB_ID=%d\x00", id))
	wantTask := []byte(fmt.Sprintf("\x00SLURM_PROCID=%d\x00", task))
	for _, p := range procs {
		cmdline, err := os.ReadFile(filepath.Join(p, "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte("jellybean\x00run\x00")) {
			continue
		}
		environ, err := os.ReadFile(filepath.Join(p, "environ"))
		if err != nil {
			continue
		}
		environ = append([]byte{0}, environ...)
		if bytes.Contains(environ, wantJob) && bytes.Contains(environ, wantTask) {
			pid, _ := strconv.Atoi(filepath.Base(p))
			return pid
		}
	}
	t.Fatalf("no jellybean run process of job %d task %d", id, task)
	return 0
}

func runDirs(t *testing.T) map[string]bool {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(repoRoot, "runs"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]bool{}
	for _, e := range ents {
		m[e.Name()] = true
	}
	return m
}

// newRunDir is the one run directory that appeared since before.
func newRunDir(t *testing.T, before map[string]bool) string {
	t.Helper()
	var added []string
	for name := range runDirs(t) {
		if !before[name] {
			added = append(added, name)
		}
	}
	if len(added) != 1 {
		t.Fatalf("new run directories %v, want one", added)
	}
	return filepath.Join(repoRoot, "runs", added[0])
}
