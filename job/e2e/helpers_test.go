package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"jellybean/job/onnx"
	"jellybean/plan"
)

// Paths shared by every test of the package, set up once in TestMain.
var (
	repoRoot  string // JellyBean root: the ranks' working directory (models live here)
	jellybean string // the binary under test, built from ./job
	ortLib    string // ONNX Runtime library for the ranks
	dataset   string // manifest of a small generated test split
)

// datasetItems keeps the jobs short; the fault test paces its sources so that it can be killed mid-run.
const datasetItems = 36

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// Every test here runs the real program with ONNX Runtime, espeak-ng, sshd or mpirun.
		fmt.Println("e2e: skipped in -short mode (real processes, ONNX Runtime and system packages)")
		os.Exit(0)
	}
	code, err := setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		os.Exit(1)
	}
	os.Exit(code(m))
}

func setup() (func(*testing.M) int, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	tmp, err := os.MkdirTemp("", "jellybean-e2e-")
	if err != nil {
		return nil, err
	}
	jellybean = filepath.Join(tmp, "jellybean")
	build := exec.Command("go", "build", "-o", jellybean, "./job")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./job: %v\n%s", err, out)
	}
	if ortLib, err = onnx.LibraryPath(); err != nil {
		return nil, fmt.Errorf("%v (CI fetches it with job/setup/fetch-onnxruntime.sh)", err)
	}
	// A small test split of the embedded workload, generated the way users generate theirs.
	gen := exec.Command(jellybean, "gen-data", "--out", filepath.Join(tmp, "data"), "--split", "test", "--n", strconv.Itoa(datasetItems))
	gen.Dir = repoRoot
	if out, err := gen.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("jellybean gen-data: %v\n%s", err, out)
	}
	dataset = filepath.Join(tmp, "data", "test", "manifest.jsonl")
	return func(m *testing.M) int {
		defer os.RemoveAll(tmp)
		return m.Run()
	}, nil
}

// jobSpec describes one test job: the default plan, placed on the given hosts.
type jobSpec struct {
	hosts     []string // workers are spread over these hosts in contiguous blocks, in plan order
	inputRate float64  // items/s per source; 0 = batch mode
	basePort  int
	tweak     func(p *plan.Plan)
}

// writeJob writes a plan and its matching hostfile into dir and returns their paths. The plan is the
// shipped default (plan/examples/default.toml) with the test's dataset, ports and placement.
func writeJob(t *testing.T, dir string, spec jobSpec) (hostfilePath, planPath string) {
	t.Helper()
	p, err := plan.Load(filepath.Join(repoRoot, "plan", "examples", "default.toml"))
	if err != nil {
		t.Fatalf("the default plan: %v", err)
	}
	p.Dataset = dataset
	p.Limit = 0
	p.InputRate = spec.inputRate
	p.BasePort = spec.basePort
	var workers []*plan.Worker
	for si := range p.Stages {
		for wi := range p.Stages[si].Workers {
			workers = append(workers, &p.Stages[si].Workers[wi])
		}
	}
	slots := map[string]int{}
	for i, w := range workers {
		w.Host = spec.hosts[i*len(spec.hosts)/len(workers)]
		slots[w.Host]++
	}
	if spec.tweak != nil {
		spec.tweak(p)
	}
	var hf strings.Builder
	for _, h := range spec.hosts {
		fmt.Fprintf(&hf, "%s slots=%d\n", h, slots[h])
	}
	hostfilePath = filepath.Join(dir, "hostfile")
	planPath = filepath.Join(dir, "plan.toml")
	data, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(planPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hostfilePath, []byte(hf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return hostfilePath, planPath
}

// freeBasePort returns a base port whose next 16 ports are free on every test address. It stays below
// Linux's ephemeral range (32768-60999), where an outgoing connection could take a port between this
// check and the ranks' bind.
func freeBasePort(t *testing.T) int {
	t.Helper()
	for attempt := 0; attempt < 50; attempt++ {
		base := 20000 + rand.IntN(12000)
		if portsFree(base, 16) {
			return base
		}
	}
	t.Fatal("no free port range found on loopback")
	return 0
}

func portsFree(base, n int) bool {
	for _, h := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		for p := base; p < base+n; p++ {
			l, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(p)))
			if err != nil {
				return false
			}
			l.Close()
		}
	}
	return true
}

// launched is a finished `jellybean launch` process.
type launched struct {
	code   int
	stdout string
	stderr string
	runID  string
	runDir string
	took   time.Duration
}

// launcher is a `jellybean launch` process the test started.
type launcher struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr bytes.Buffer
	idFile string
	runs   string
	start  time.Time
	cancel context.CancelFunc
}

// startLaunch starts `jellybean launch args...` from the JellyBean root with runs under runsDir. Every
// test bounds it: the process is killed after limit.
func startLaunch(t *testing.T, runsDir string, env []string, limit time.Duration, args ...string) *launcher {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	l := &launcher{idFile: filepath.Join(t.TempDir(), "run-id"), runs: runsDir, cancel: cancel}
	all := append([]string{"launch", "--runs", runsDir, "--run-id-file", l.idFile, "--grace", "3s", "--progress-every", "1s"}, args...)
	l.cmd = exec.CommandContext(ctx, jellybean, all...)
	l.cmd.Dir = repoRoot
	l.cmd.Env = append(os.Environ(), "JELLYBEAN_ORT_LIB="+ortLib)
	l.cmd.Env = append(l.cmd.Env, env...)
	l.cmd.Stdout, l.cmd.Stderr = &l.stdout, &l.stderr
	l.cmd.WaitDelay = 5 * time.Second
	l.start = time.Now()
	if err := l.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = l.cmd.Wait() })
	return l
}

func (l *launcher) wait(t *testing.T) launched {
	t.Helper()
	err := l.cmd.Wait()
	l.cancel()
	r := launched{stdout: l.stdout.String(), stderr: l.stderr.String(), took: time.Since(l.start)}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("jellybean launch: %v\nstderr:\n%s", err, r.stderr)
		}
		r.code = ee.ExitCode()
	}
	if id, err := os.ReadFile(l.idFile); err == nil {
		r.runID = strings.TrimSpace(string(id))
		r.runDir = filepath.Join(l.runs, r.runID)
	}
	if strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "goroutine ") {
		t.Errorf("the launcher panicked:\n%s", r.stderr)
	}
	return r
}

func runLaunch(t *testing.T, runsDir string, env []string, limit time.Duration, args ...string) launched {
	t.Helper()
	return startLaunch(t, runsDir, env, limit, args...).wait(t)
}

// result is one line of results.jsonl, compared field by field across runs.
type result struct {
	ID       int64             `json:"id"`
	Answer   string            `json:"answer"`
	Question string            `json:"question"`
	Variants map[string]string `json:"variants"`
}

// readResults parses results.jsonl strictly: every line must be a complete JSON object, and no item
// may appear twice.
func readResults(t *testing.T, runDir string) map[int64]result {
	t.Helper()
	f, err := os.Open(filepath.Join(runDir, "results.jsonl"))
	if err != nil {
		t.Fatalf("results: %v", err)
	}
	defer f.Close()
	data, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Errorf("results.jsonl ends in a partial line: %q", tail(string(data), 80))
	}
	out := map[int64]result{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("results.jsonl:%d: %v: %q", line, err, sc.Text())
		}
		if _, dup := out[r.ID]; dup {
			t.Errorf("results.jsonl:%d: item %d written twice", line, r.ID)
		}
		out[r.ID] = r
	}
	return out
}

// sameResults fails unless got holds exactly want's items with identical answers, questions and variants.
func sameResults(t *testing.T, what string, got, want map[int64]result) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d items, want %d", what, len(got), len(want))
	}
	var ids []int64
	for id := range want {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	bad := 0
	for _, id := range ids {
		g, ok := got[id]
		w := want[id]
		if !ok || g.Answer != w.Answer || g.Question != w.Question || fmt.Sprint(g.Variants) != fmt.Sprint(w.Variants) {
			if bad++; bad <= 5 {
				t.Errorf("%s: item %d = %+v (present %v), want %+v", what, id, g, ok, w)
			}
		}
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
