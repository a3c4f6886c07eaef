package gpucheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"jellybean/plan"
)

// JobConfig describes the small mixed job: the default plan with the first worker of one stage moved to a
// device (one GPU rank; the stage's other workers, if any, stay on the CPU beside it).
type JobConfig struct {
	Root     string  // JellyBean root (ranks' working directory)
	Binary   string  // jellybean executable
	BasePlan string  // plan to start from, relative to Root (default plan/examples/default.toml)
	Dataset  string  // manifest, relative to Root ("" keeps the base plan's)
	Stage    string  // stage whose worker goes to Device (default: the one running the largest model file)
	Device   string  // e.g. "cuda:0"
	Items    int     // plan limit
	Rate     float64 // plan input_rate (items/s); 0 = as fast as possible
	BasePort int     // 0 keeps the base plan's
	RunsDir  string  // absolute directory for run directories (a temporary one)
	RunID    string
	Timeout  time.Duration
}

// JobResult is what one launch of the mixed job did.
type JobResult struct {
	Device     string  `json:"device"`
	Stage      string  `json:"stage"`
	Rank       int     `json:"rank"`  // rank of the moved worker
	Ranks      int     `json:"ranks"` // ranks of the job
	ExitOK     bool    `json:"exit_ok"`
	Completed  int     `json:"completed"` // lines in results.jsonl
	WallSecond float64 `json:"wall_seconds"`
	Output     string  `json:"output"` // launcher's stderr+stdout (tail)
	RunDir     string  `json:"run_dir"`
}

// WriteMixedPlan writes the mixed plan and a one-host hostfile into dir and returns their paths and the
// rank of the moved worker (ranks are numbered in plan order: one per worker).
func WriteMixedPlan(c JobConfig, dir string) (planPath, hostfile string, rank int, err error) {
	base := c.BasePlan
	if base == "" {
		base = "plan/examples/default.toml"
	}
	p, err := plan.Load(filepath.Join(c.Root, base))
	if err != nil {
		return "", "", 0, err
	}
	stage := c.Stage
	if stage == "" {
		if stage, err = LargestModelStage(p, c.Root); err != nil {
			return "", "", 0, fmt.Errorf("%s: %w", base, err)
		}
	}
	p.Job = "gpucheck-mixed"
	if c.Dataset != "" {
		p.Dataset = c.Dataset
	}
	p.Limit, p.InputRate = c.Items, c.Rate
	if c.BasePort > 0 {
		p.BasePort = c.BasePort
	}
	rank, slots := -1, 0
	for i := range p.Stages {
		for j := range p.Stages[i].Workers {
			w := &p.Stages[i].Workers[j]
			if w.Host != "localhost" {
				return "", "", 0, fmt.Errorf("%s: gpucheck needs a one-host plan (stage %s has host %q)", base, p.Stages[i].Name, w.Host)
			}
			if p.Stages[i].Name == stage && rank < 0 {
				w.Device, rank = c.Device, slots
			}
			slots++
		}
	}
	if rank < 0 {
		return "", "", 0, fmt.Errorf("%s: no stage %q", base, stage)
	}
	data, err := p.Encode()
	if err != nil {
		return "", "", 0, err
	}
	planPath = filepath.Join(dir, "mixed.toml")
	hostfile = filepath.Join(dir, "hostfile")
	if err := os.WriteFile(planPath, data, 0o644); err != nil {
		return "", "", 0, err
	}
	hf := fmt.Sprintf("# gpucheck: the mixed job on this machine\nlocalhost slots=%d\n", slots)
	return planPath, hostfile, rank, os.WriteFile(hostfile, []byte(hf), 0o644)
}

// RunMixedJob launches the mixed job with the real launcher and waits for it. When sigterm is set, it
// sends SIGTERM to the moved rank once the job has finished its first item and expects a clean abort.
func RunMixedJob(c JobConfig, sigterm bool) (JobResult, error) {
	dir, err := os.MkdirTemp("", "gpucheck-job-")
	if err != nil {
		return JobResult{}, err
	}
	defer os.RemoveAll(dir)
	planPath, hostfile, rank, err := WriteMixedPlan(c, dir)
	if err != nil {
		return JobResult{}, err
	}
	res := JobResult{Device: c.Device, Stage: c.Stage, Rank: rank, RunDir: filepath.Join(c.RunsDir, c.RunID)}
	if p, err := plan.Load(planPath); err == nil {
		res.Stage = stageOfRank(p, rank)
		for _, st := range p.Stages {
			res.Ranks += len(st.Workers)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Binary, "launch", "-H", hostfile, "-p", planPath,
		"--runs", c.RunsDir, "--run-id", c.RunID, "--grace", "5s", "--progress-every", "1h")
	cmd.Dir = c.Root
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	var signalErr error
	if sigterm {
		signalErr = terminateRankAfterFirstItem(ctx, cmd.Process.Pid, rank, res.RunDir)
	}
	waitErr := cmd.Wait()
	res.WallSecond = time.Since(start).Seconds()
	res.ExitOK = waitErr == nil
	res.Output = tail(out.String(), 4000)
	res.Completed = countLines(filepath.Join(res.RunDir, "results.jsonl"))
	if ctx.Err() != nil {
		return res, fmt.Errorf("mixed job did not finish within %v; output:\n%s", c.Timeout, res.Output)
	}
	return res, signalErr
}

// terminateRankAfterFirstItem waits for the first result, then sends SIGTERM to the launcher's child
// running `--rank rank`.
func terminateRankAfterFirstItem(ctx context.Context, launcherPID, rank int, runDir string) error {
	results := filepath.Join(runDir, "results.jsonl")
	for countLines(results) == 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("no item finished before the deadline; SIGTERM not sent")
		case <-time.After(100 * time.Millisecond):
		}
	}
	pid, err := rankPID(launcherPID, rank)
	if err != nil {
		return err
	}
	return syscall.Kill(pid, syscall.SIGTERM)
}

// rankPID finds the launcher's child process whose command line has `--rank N`. It scans /proc/*/stat for
// the parent pid rather than reading /proc/PID/task/*/children, which some kernels (gVisor) lack.
func rankPID(launcherPID, rank int) (int, error) {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		data, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
		i := bytes.LastIndexByte(data, ')')
		f := strings.Fields(string(data[i+1:]))
		if i < 0 || len(f) < 2 || f[1] != strconv.Itoa(launcherPID) {
			continue
		}
		dir := filepath.Dir(st)
		cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		for k := 0; k+1 < len(args); k++ {
			if args[k] == "--rank" && args[k+1] == strconv.Itoa(rank) {
				return strconv.Atoi(filepath.Base(dir))
			}
		}
	}
	return 0, fmt.Errorf("no child of launcher %d runs rank %d", launcherPID, rank)
}

// rejectionRE is the start-up refusal a CUDA placement gets on a host without that GPU.
var rejectionRE = regexp.MustCompile(`rank (\d+) on host (\S+): plan places it on (cuda:\d+), but this host has no such GPU`)

// Rejection returns the rank, host and device named by a start-up refusal in output, if any.
func Rejection(output string) (rank int, host, device string, ok bool) {
	m := rejectionRE.FindStringSubmatch(output)
	if m == nil {
		return 0, "", "", false
	}
	rank, _ = strconv.Atoi(m[1])
	return rank, m[2], m[3], true
}

// summaryCompleted reads `completed` from a run's summary.json (-1 when absent).
func summaryCompleted(runDir string) int {
	data, err := os.ReadFile(filepath.Join(runDir, "summary.json"))
	if err != nil {
		return -1
	}
	var s struct {
		Completed int `json:"completed"`
	}
	if json.Unmarshal(data, &s) != nil {
		return -1
	}
	return s.Completed
}

func countLines(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return bytes.Count(data, []byte("\n"))
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// LargestModelStage is the model stage of the plan that runs the largest model file: the one a GPU
// helps most, so the mixed job moves it.
func LargestModelStage(p *plan.Plan, root string) (string, error) {
	if err := p.Bind(root); err != nil {
		return "", err
	}
	best, size := "", int64(-1)
	for i := range p.Stages {
		if !p.IsModel(i) {
			continue
		}
		st, err := os.Stat(plan.Resolve(root, p.ModelFile(i)))
		if err != nil {
			return "", fmt.Errorf("stage %q: %w", p.Stages[i].Name, err)
		}
		if st.Size() > size {
			best, size = p.Stages[i].Name, st.Size()
		}
	}
	if best == "" {
		return "", fmt.Errorf("no stage runs a model")
	}
	return best, nil
}

// stageOfRank is the stage of a rank of a plan (ranks are numbered in plan order, one per worker).
func stageOfRank(p *plan.Plan, rank int) string {
	r := 0
	for _, s := range p.Stages {
		for range s.Workers {
			if r == rank {
				return s.Name
			}
			r++
		}
	}
	return ""
}
