package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"jellybean/plan"
)

// workerCount is the number of ranks a plan needs.
func workerCount(p *plan.Plan) int {
	n := 0
	for _, s := range p.Stages {
		n += len(s.Workers)
	}
	return n
}

// rankOfStage is the rank of the first worker of the first stage with op, for a plan whose workers all sit
// on one host (ranks then follow plan order: stage order, then worker order).
func rankOfStage(t *testing.T, p *plan.Plan, name string) int {
	t.Helper()
	rank := 0
	for _, s := range p.Stages {
		if s.Name == name && len(s.Workers) > 0 {
			return rank
		}
		rank += len(s.Workers)
	}
	t.Fatalf("plan has no %s stage", name)
	return -1
}

// waitRunDir waits for the launcher to report its run directory.
func waitRunDir(t *testing.T, l *launcher) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if id, err := os.ReadFile(l.idFile); err == nil && len(bytes.TrimSpace(id)) > 0 {
			return filepath.Join(l.runs, strings.TrimSpace(string(id)))
		}
	}
	t.Fatalf("launcher created no run directory in 30s; stderr:\n%s", l.stderr.String())
	return ""
}

// waitResults waits until results.jsonl holds at least n complete lines.
func waitResults(t *testing.T, runDir string, n int, limit time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		data, _ := os.ReadFile(filepath.Join(runDir, "results.jsonl"))
		if bytes.Count(data, []byte("\n")) >= n {
			return
		}
	}
	t.Fatalf("fewer than %d results after %v", n, limit)
}

// rankPIDs maps rank → PID for the `jellybean run` children of the launcher (from /proc: the launcher
// starts its local ranks itself, with `--rank R` on their command lines).
func rankPIDs(t *testing.T, launcher int) map[int]int {
	t.Helper()
	tasks, err := filepath.Glob("/proc/" + strconv.Itoa(launcher) + "/task/*/children")
	if err != nil || len(tasks) == 0 {
		t.Fatalf("reading the launcher's children from /proc: %v", err)
	}
	out := map[int]int{}
	for _, f := range tasks {
		data, _ := os.ReadFile(f)
		for _, field := range strings.Fields(string(data)) {
			pid, _ := strconv.Atoi(field)
			cmdline, err := os.ReadFile("/proc/" + field + "/cmdline")
			if err != nil {
				continue
			}
			args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
			for i := 0; i+1 < len(args); i++ {
				if args[i] == "--rank" {
					if r, err := strconv.Atoi(args[i+1]); err == nil {
						out[r] = pid
					}
				}
			}
		}
	}
	return out
}

// waitGone fails the test unless pid has stopped running (exited; a zombie awaiting its parent counts)
// by the deadline.
func waitGone(t *testing.T, what string, pid int, deadline time.Time) {
	t.Helper()
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s (pid %d) still running 10s after the kill", what, pid)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runRank runs one `jellybean run` directly (as srun or mpirun would), bounded by a minute.
func runRank(t *testing.T, args ...string) launched {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, jellybean, append([]string{"run"}, args...)...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "JELLYBEAN_ORT_LIB="+ortLib, "JELLYBEAN_JOB_ID=e2e", "JELLYBEAN_JOB_SECRET="+strings.Repeat("ab", 32))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	r := launched{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("jellybean run: %v", err)
	}
	if strings.Contains(r.stderr, "panic:") {
		t.Errorf("the rank panicked:\n%s", r.stderr)
	}
	return r
}
