package e2e

import (
	"encoding/json"
	"fmt"
	"jellybean/plan/workflow/workflowtest"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"jellybean/job/launch/sshtest"
	"jellybean/plan"
)

// jobLimit bounds every launch: a hung job fails its test instead of hanging CI.
const jobLimit = 3 * time.Minute

var (
	baselineOnce sync.Once
	baseline     map[int64]result
	baselineErr  string
)

// uninterrupted returns the results of a plain single-host run of the default plan on the test data,
// the reference every other run must reproduce item for item.
func uninterrupted(t *testing.T) map[int64]result {
	t.Helper()
	baselineOnce.Do(func() {
		dir := t.TempDir()
		hf, pl := writeJob(t, dir, jobSpec{hosts: []string{"localhost"}, basePort: freeBasePort(t)})
		r := runLaunch(t, filepath.Join(dir, "runs"), nil, jobLimit, "-H", hf, "-p", pl)
		if r.code != 0 {
			baselineErr = fmt.Sprintf("single-host run failed (exit %d):\n%s", r.code, r.stderr)
			return
		}
		if !strings.Contains(r.stdout, "results: ") {
			baselineErr = "no results line in the launcher's report:\n" + r.stdout
			return
		}
		baseline = readResults(t, r.runDir)
		if len(baseline) != datasetItems {
			baselineErr = fmt.Sprintf("single-host run finished %d of %d items", len(baseline), datasetItems)
		}
	})
	if baselineErr != "" {
		t.Fatal(baselineErr)
	}
	return baseline
}

func TestMultiHostOverSSHEqualsSingleHost(t *testing.T) {
	want := uninterrupted(t)
	srv := sshtest.Start(t)
	dir := t.TempDir()
	hf, pl := writeJob(t, dir, jobSpec{hosts: sshtest.Hosts, basePort: freeBasePort(t)})
	env := append(srv.Env(), "JELLYBEAN_REMOTE_BIN="+jellybean, "JELLYBEAN_REMOTE_ORT_LIB="+ortLib)
	r := runLaunch(t, filepath.Join(dir, "runs"), env, jobLimit, "-H", hf, "-p", pl)
	if r.code != 0 {
		t.Fatalf("multi-host run failed (exit %d):\n%s\nsshd log:\n%s", r.code, r.stderr, tail(srv.Log(), 2000))
	}
	for _, h := range sshtest.Hosts {
		if !strings.Contains(r.stderr, h) {
			t.Errorf("launcher did not report host %s:\n%s", h, r.stderr)
		}
	}
	sameResults(t, "multi-host run over ssh", readResults(t, r.runDir), want)
}

// kill -9 of one rank mid-run: a model rank (its peers see a broken link) and the sink (the writer of
// results.jsonl itself).
func TestKilledRankStopsJobAndResumeCompletesIt(t *testing.T) {
	for _, op := range []string{"ImageFeatures", "Sink"} {
		t.Run(op, func(t *testing.T) { killAndResume(t, op) })
	}
}

func killAndResume(t *testing.T, victimOp string) {
	want := uninterrupted(t)
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	// Paced sources (a few items/s) make the job last long enough to be killed in the middle.
	hf, pl := writeJob(t, dir, jobSpec{hosts: []string{"localhost"}, basePort: freeBasePort(t), inputRate: 6})
	p, err := plan.Load(pl)
	if err != nil {
		t.Fatal(err)
	}
	victim := rankOfStage(t, p, victimOp)

	l := startLaunch(t, runs, nil, jobLimit, "-H", hf, "-p", pl)
	runDir := waitRunDir(t, l)
	waitResults(t, runDir, 3, 90*time.Second)
	ranks := rankPIDs(t, l.cmd.Process.Pid)
	if len(ranks) != workerCount(p) {
		t.Fatalf("found rank processes %v; want one per plan worker", ranks)
	}
	if err := syscall.Kill(ranks[victim], syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 rank %d: %v", victim, err)
	}
	killed := time.Now()
	for rank, pid := range ranks {
		if rank != victim {
			waitGone(t, fmt.Sprintf("rank %d", rank), pid, killed.Add(10*time.Second))
		}
	}
	r := l.wait(t)
	if r.code == 0 {
		t.Fatalf("launcher exited 0 after rank %d was killed:\n%s", victim, r.stderr)
	}
	last := lastLine(r.stderr)
	t.Logf("launcher: exit %d: %s", r.code, last)
	for _, w := range []string{fmt.Sprintf("rank %d ", victim), "localhost", "killed by signal 9"} {
		if !strings.Contains(last, w) {
			t.Errorf("launcher's last line %q does not say %q", last, w)
		}
	}
	partial := readResults(t, runDir)
	if len(partial) >= datasetItems {
		t.Fatalf("the job finished all %d items before the kill: slow the sources down", datasetItems)
	}
	t.Logf("killed rank %d with %d/%d items done", victim, len(partial), datasetItems)

	r = runLaunch(t, runs, nil, jobLimit, "--resume", r.runID)
	if r.code != 0 {
		t.Fatalf("resume failed (exit %d):\n%s", r.code, r.stderr)
	}
	final := readResults(t, runDir) // fails on any item written twice
	sameResults(t, "killed and resumed run", final, want)
	var summary struct {
		Completed int `json:"completed"`
		ThisRun   int `json:"completed_this_run"`
		Attempts  []struct {
			Attempt   int `json:"attempt"`
			Completed int `json:"completed"`
		} `json:"attempts"`
	}
	if data, err := os.ReadFile(filepath.Join(runDir, "summary.json")); err != nil || json.Unmarshal(data, &summary) != nil {
		t.Fatalf("summary.json after resume: %v", err)
	}
	if summary.ThisRun != datasetItems-len(partial) || summary.Completed != datasetItems {
		t.Errorf("resume processed %d items (completed %d); want exactly the %d missing of %d",
			summary.ThisRun, summary.Completed, datasetItems-len(partial), datasetItems)
	}
	// The summary counts both attempts: the killed one (which wrote no summary of its own; its items are
	// the lines it left) and the resume.
	if len(summary.Attempts) != 2 || summary.Attempts[0].Attempt != 1 || summary.Attempts[1].Completed != summary.ThisRun {
		t.Errorf("attempts in summary.json: %+v; want the killed attempt and the resume", summary.Attempts)
	}
	for id, res := range partial {
		if fmt.Sprint(final[id]) != fmt.Sprint(res) {
			t.Errorf("item %d changed on resume: %+v -> %+v", id, res, final[id])
		}
	}
	// The killed attempt's timing is kept, not truncated by the resume.
	kept, _ := filepath.Glob(filepath.Join(runDir, "attempts", "1", "timing", "*.csv"))
	if len(kept) != workerCount(p) {
		t.Errorf("attempts/1/timing holds %d files; want one per rank (%d)", len(kept), workerCount(p))
	}
	rows := 0
	for _, k := range kept {
		data, _ := os.ReadFile(k)
		rows += strings.Count(string(data), "\n") - 1
	}
	if rows == 0 {
		t.Errorf("the killed attempt's timing files hold no rows")
	}
}

func TestBadInputsFailWithOneClearLine(t *testing.T) {
	type tc struct {
		name  string
		setup func(t *testing.T, dir string) (args []string, env []string)
		want  []string // fragments of the last stderr line
	}
	job := func(t *testing.T, dir string, spec jobSpec) []string {
		if spec.hosts == nil {
			spec.hosts = []string{"localhost"}
		}
		if spec.basePort == 0 {
			spec.basePort = freeBasePort(t)
		}
		hf, pl := writeJob(t, dir, spec)
		return []string{"-H", hf, "-p", pl}
	}
	var heldPort int
	cases := []tc{
		{"broken hostfile", func(t *testing.T, dir string) ([]string, []string) {
			args := job(t, dir, jobSpec{})
			writeFile(t, args[1], "localhost slots=6\nnode2 slots=lots\n")
			return args, nil
		}, []string{"hostfile:2", "lots"}},
		{"unknown plan key", func(t *testing.T, dir string) ([]string, []string) {
			args := job(t, dir, jobSpec{})
			data, _ := os.ReadFile(args[3])
			writeFile(t, args[3], "frobnicate = 1\n"+string(data))
			return args, nil
		}, []string{"plan.toml", "frobnicate"}},
		{"missing model", func(t *testing.T, dir string) ([]string, []string) {
			return job(t, dir, jobSpec{tweak: func(p *plan.Plan) {
				p.Workflow = workflowtest.WithModel(t, filepath.Join(repoRoot, p.Workflow), dir, "ImageFeatures", "", "workloads/vqa/models/no-such-model.onnx")
			}}), nil
		}, []string{"no-such-model.onnx"}},
		{"port in use", func(t *testing.T, dir string) ([]string, []string) {
			base := freeBasePort(t)
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			heldPort = base
			// Fixed ports (as a site whose firewall opens only a port range would run): rank 0's is taken.
			return job(t, dir, jobSpec{basePort: base}), []string{"JELLYBEAN_FIXED_PORTS=1"}
		}, []string{"rank 0 ", "in use"}},
		{"unreachable host", func(t *testing.T, dir string) ([]string, []string) {
			// Nothing listens for ssh on 127.0.0.4.
			return job(t, dir, jobSpec{hosts: []string{"localhost", "127.0.0.4"}}),
				[]string{"JELLYBEAN_SSH_PORT=" + strconv.Itoa(closedPort(t)), "JELLYBEAN_SSH_OPTS=-F none -o StrictHostKeyChecking=no"}
		}, []string{"127.0.0.4", "ssh"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			args, env := c.setup(t, dir)
			r := runLaunch(t, filepath.Join(dir, "runs"), env, time.Minute, args...)
			if r.code == 0 {
				t.Fatalf("exit status 0; stderr:\n%s", r.stderr)
			}
			last := lastLine(r.stderr)
			t.Logf("exit %d after %v: %s", r.code, r.took.Round(time.Millisecond), last)
			if !strings.HasPrefix(last, "jellybean launch: ") {
				t.Errorf("last line %q is not the launcher's error", last)
			}
			for _, w := range c.want {
				if c.name == "port in use" && w == "in use" && !strings.Contains(last, strconv.Itoa(heldPort)) {
					t.Errorf("last line %q does not name the port %d", last, heldPort)
				}
				if !strings.Contains(last, w) {
					t.Errorf("last line %q does not say %q\nstderr:\n%s", last, w, r.stderr)
				}
			}
		})
	}

	t.Run("rank out of range", func(t *testing.T) {
		dir := t.TempDir()
		args := job(t, dir, jobSpec{})
		r := runRank(t, append(args, "--rank", "99", "--run-dir", filepath.Join(dir, "run"))...)
		if r.code == 0 {
			t.Fatalf("exit status 0; stderr:\n%s", r.stderr)
		}
		if last := lastLine(r.stderr); !strings.Contains(last, "99") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("want one line naming rank 99; stderr:\n%s", r.stderr)
		}
	})
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// closedPort is a port nothing listens on (bound, then released).
func closedPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.4:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// Ctrl-C (SIGINT to the launcher) stops every rank and exits 130, like mpirun.
func TestInterruptStopsAllRanks(t *testing.T) {
	dir := t.TempDir()
	hf, pl := writeJob(t, dir, jobSpec{hosts: []string{"localhost"}, basePort: freeBasePort(t), inputRate: 3})
	l := startLaunch(t, filepath.Join(dir, "runs"), nil, jobLimit, "-H", hf, "-p", pl)
	runDir := waitRunDir(t, l)
	waitResults(t, runDir, 1, 90*time.Second)
	ranks := rankPIDs(t, l.cmd.Process.Pid)
	if len(ranks) != 6 {
		t.Fatalf("found rank processes %v; want the default plan's 6", ranks)
	}
	if err := l.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	for rank, pid := range ranks {
		waitGone(t, fmt.Sprintf("rank %d", rank), pid, sent.Add(10*time.Second))
	}
	r := l.wait(t)
	if r.code != 130 || !strings.Contains(lastLine(r.stderr), "interrupted") {
		t.Errorf("exit %d, last line %q; want 130 and an interrupted message", r.code, lastLine(r.stderr))
	}
	readResults(t, runDir) // whatever was finished is intact
}

// A launcher killed outright (kill -9: no chance to stop anything) still takes its ranks with it: local
// ranks get SIGTERM from the kernel when their parent dies (Pdeathsig).
func TestLauncherKilledTakesRanksWithIt(t *testing.T) {
	dir := t.TempDir()
	hf, pl := writeJob(t, dir, jobSpec{hosts: []string{"localhost"}, basePort: freeBasePort(t), inputRate: 3})
	l := startLaunch(t, filepath.Join(dir, "runs"), nil, jobLimit, "-H", hf, "-p", pl)
	runDir := waitRunDir(t, l)
	waitResults(t, runDir, 1, 90*time.Second)
	ranks := rankPIDs(t, l.cmd.Process.Pid)
	if len(ranks) != 6 {
		t.Fatalf("found rank processes %v; want the default plan's 6", ranks)
	}
	if err := l.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	for rank, pid := range ranks {
		waitGone(t, fmt.Sprintf("rank %d", rank), pid, killed.Add(10*time.Second))
	}
	_ = l.cmd.Wait()
	readResults(t, runDir)
}
