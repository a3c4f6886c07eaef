package launch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"jellybean/plan/workflow/workflowtest"
	_ "jellybean/workloads/all" // the steps the fixture workflow names: the launcher checks them

	"jellybean/hostfiles"
	"jellybean/plan"
)

// fakeRank is the test fixture built from testdata/fakerank: it takes a rank's command line and secret
// and behaves as the test's fakerank.json says.
var fakeRank string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "launch-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fakeRank = filepath.Join(dir, "fakerank")
	if out, err := exec.Command("go", "build", "-o", fakeRank, "./testdata/fakerank").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the fake rank: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fixture is a JellyBean root for one test: hostfile, plan and the fake ranks' behaviour.
type fixture struct {
	t    testing.TB
	root string
	out  bytes.Buffer
	errb bytes.Buffer
}

// newFixture makes a root whose plan is valid for hostfile (at least 6 slots): the shipped default
// plan, with its workers placed on the hostfile's slots (extra slots become more ImageFeatures workers),
// its models taken from the repository and its dataset an (unread) manifest in the root.
func newFixture(t testing.TB, hostfile string, behaviour map[string]any) *fixture {
	f := &fixture{t: t, root: t.TempDir()}
	f.write("hostfile", hostfile)
	f.writeDataset(fixtureItems)
	f.write("plan.toml", fixturePlan(t, hostfile))
	data, _ := json.Marshal(behaviour)
	f.write("fakerank.json", string(data))
	return f
}

func fixturePlan(t testing.TB, hostfile string) string {
	t.Helper()
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Load(filepath.Join(repo, "plan", "examples", "default.toml"))
	if err != nil {
		t.Fatal(err)
	}
	hf, err := hostfiles.Parse("hostfile", strings.NewReader(hostfile))
	if err != nil {
		t.Fatal(err)
	}
	slots := hf.Ranks()
	if len(slots) < len(p.Stages) {
		t.Fatalf("fixture hostfile has %d slots; the plan needs at least %d", len(slots), len(p.Stages))
	}
	p.Dataset = "manifest.jsonl"
	p.Workflow = filepath.Join(repo, p.Workflow)
	for i := range p.Stages {
		st := &p.Stages[i]
		if st.Name == "ImageFeatures" {
			for len(st.Workers) < 1+len(slots)-len(p.Stages) {
				st.Workers = append(st.Workers, st.Workers[0])
			}
		}
	}
	n := 0
	for i := range p.Stages {
		for w := range p.Stages[i].Workers {
			p.Stages[i].Workers[w].Host = slots[n].Host
			n++
		}
	}
	data, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// fixtureItems is the size of the fixture's dataset (the fake ranks never read it; the launcher
// fingerprints it and counts results against it).
const fixtureItems = 3

// writeDataset writes a manifest of n items with their (small, not decodable) image and audio files.
func (f *fixture) writeDataset(n int) {
	var m strings.Builder
	if err := os.MkdirAll(filepath.Join(f.root, "data"), 0o755); err != nil {
		f.t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&m, `{"id":%d,"image":"data/%d.png","audio":"data/%d.wav","question":"what color is it","answer":"red"}`+"\n", i, i, i)
		f.write(fmt.Sprintf("data/%d.png", i), fmt.Sprintf("image %d", i))
		f.write(fmt.Sprintf("data/%d.wav", i), fmt.Sprintf("audio %d", i))
	}
	f.write("manifest.jsonl", m.String())
}

func (f *fixture) write(name, text string) {
	if err := os.WriteFile(filepath.Join(f.root, name), []byte(text), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) config() Config {
	return Config{
		Hostfile: filepath.Join(f.root, "hostfile"), Plan: filepath.Join(f.root, "plan.toml"),
		Root: f.root, Binary: fakeRank, Hostname: "this-test-host",
		Grace: 2 * time.Second, ProgressInterval: time.Millisecond,
		Out: &f.out, Err: &f.errb,
	}
}

// run runs the launcher with a hard bound: a launcher that hangs fails the test instead of hanging it.
func (f *fixture) run(cfg Config) (*Result, error, time.Duration) {
	f.t.Helper()
	type ret struct {
		res *Result
		err error
	}
	done := make(chan ret, 1)
	start := time.Now()
	go func() { r, err := Run(cfg); done <- ret{r, err} }()
	select {
	case r := <-done:
		return r.res, r.err, time.Since(start)
	case <-time.After(60 * time.Second):
		f.t.Fatalf("launcher still running after 60s; stderr:\n%s", f.errb.String())
		return nil, nil, 0
	}
}

// seen is what a fake rank recorded about how it was started.
type seen struct {
	Secret string   `json:"secret"`
	JobID  string   `json:"job_id"`
	Resume bool     `json:"resume"`
	PID    int      `json:"pid"`
	Stdin  bool     `json:"stdin"`
	Args   []string `json:"args"`
}

func readSeen(t *testing.T, runDir string, rank int) seen {
	t.Helper()
	var s seen
	data, err := os.ReadFile(filepath.Join(runDir, "fake", fmt.Sprint(rank)+".json"))
	if err == nil {
		err = json.Unmarshal(data, &s)
	}
	if err != nil {
		t.Fatalf("rank %d left no record: %v", rank, err)
	}
	return s
}

// waitStarted waits until ranks have all left their records (started and read their secret) and returns
// them. It runs in helper goroutines, so it returns an error instead of failing the test itself.
func waitStarted(runDir string, ranks ...int) (map[int]seen, error) {
	out := map[int]seen{}
	deadline := time.Now().Add(30 * time.Second)
	for _, r := range ranks {
		path := filepath.Join(runDir, "fake", fmt.Sprint(r)+".json")
		for {
			data, err := os.ReadFile(path)
			var s seen
			if err == nil && json.Unmarshal(data, &s) == nil {
				out[r] = s
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("rank %d did not start within 30s", r)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return out, nil
}

// whenStarted runs act (in the background) once ranks have started in the run directory the launcher
// reports through cfg.OnRunDir; the returned channel yields act's error, or why it never ran.
func whenStarted(cfg *Config, ranks []int, act func(dir string, started map[int]seen) error) <-chan error {
	dirc := make(chan string, 1)
	cfg.OnRunDir = func(_, dir string) { dirc <- dir }
	result := make(chan error, 1)
	go func() {
		dir := <-dirc
		started, err := waitStarted(dir, ranks...)
		if err == nil {
			err = act(dir, started)
		}
		result <- err
	}()
	return result
}

// background collects whenStarted's outcome after the launcher has returned.
func background(t *testing.T, result <-chan error) {
	t.Helper()
	select {
	case err := <-result:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the test's background action never finished")
	}
}

// cueWhenStarted creates the cue file "go" in the fixture's root once all six ranks have started, and
// records when (ranks configured with until_file then act).
func cueWhenStarted(f *fixture, cfg *Config) (<-chan error, *time.Time) {
	cued := new(time.Time)
	bg := whenStarted(cfg, allRanks(6), func(string, map[int]seen) error {
		*cued = time.Now()
		return os.WriteFile(filepath.Join(f.root, "go"), nil, 0o644)
	})
	return bg, cued
}

func allRanks(n int) []int {
	r := make([]int, n)
	for i := range r {
		r[i] = i
	}
	return r
}

// assertGone fails unless pid no longer runs (gone, or a zombie nobody has reaped yet) within d.
func assertGone(t *testing.T, what string, pid int, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(stat), ") Z ") {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s (pid %d) still running %v later", what, pid, d)
			return
		}
	}
}

func TestRunSuccess(t *testing.T) {
	f := newFixture(t, "localhost slots=6\n", map[string]any{"0": map[string]any{"sleep": "300ms", "progress": 4}})
	cfg := f.config()
	var idSeen string
	cfg.OnRunDir = func(id, dir string) { idSeen = id }
	res, err, _ := f.run(cfg)
	if err != nil {
		t.Fatalf("Run: %v\nstderr:\n%s", err, f.errb.String())
	}
	if res.Ranks != 6 || idSeen != res.RunID || res.RunDir != filepath.Join(f.root, "runs", res.RunID) {
		t.Fatalf("result %+v, OnRunDir id %q", res, idSeen)
	}
	for _, name := range []string{PlanFile, HostfileFile} {
		if _, err := os.Stat(filepath.Join(res.RunDir, name)); err != nil {
			t.Errorf("run directory lacks its %s copy: %v", name, err)
		}
	}
	var secret string
	for r := 0; r < 6; r++ {
		s := readSeen(t, res.RunDir, r)
		if len(s.Secret) != 64 || (secret != "" && s.Secret != secret) {
			t.Errorf("rank %d got secret %q; want the job's one 64-hex-digit secret", r, s.Secret)
		}
		secret = s.Secret
		if s.JobID != "jb-"+res.RunID || s.Stdin || s.Resume {
			t.Errorf("rank %d: %+v", r, s)
		}
		if strings.Contains(strings.Join(s.Args, " "), s.Secret) {
			t.Errorf("rank %d: secret on the command line %q", r, s.Args)
		}
		want := fmt.Sprintf("run -H runs/%[1]s/hostfile -p runs/%[1]s/plan.toml --rank %d --run-dir runs/%[1]s", res.RunID, r)
		if got := strings.Join(s.Args[1:], " "); got != want {
			t.Errorf("rank %d args %q, want %q", r, got, want)
		}
		log, _ := os.ReadFile(filepath.Join(res.RunDir, RanksDir, fmt.Sprint(r)+".log"))
		if !strings.Contains(string(log), fmt.Sprintf("fakerank %d started", r)) {
			t.Errorf("rank %d log %q lacks its stdout", r, log)
		}
	}
	if !strings.Contains(f.errb.String(), "progress: 4/4 items (100%)") {
		t.Errorf("no final progress line on stderr:\n%s", f.errb.String())
	}
	if !strings.Contains(f.out.String(), "results: runs/"+res.RunID+"/results.jsonl") {
		t.Errorf("success report lacks the results path:\n%s", f.out.String())
	}
}

func TestRunFailureStopsOtherRanks(t *testing.T) {
	f := newFixture(t, "localhost slots=6\n", map[string]any{
		"*": map[string]any{"sleep": "60s"},
		"2": map[string]any{"sleep": "60s", "until_file": "go", "exit": 4, "say": "boom: model file missing"},
	})
	cfg := f.config()
	bg, cued := cueWhenStarted(f, &cfg)
	res, err, _ := f.run(cfg)
	background(t, bg)
	took := time.Since(*cued)
	var rf *RankFailure
	if !errors.As(err, &rf) {
		t.Fatalf("Run error %v (%T), want a RankFailure", err, err)
	}
	if rf.Rank != 2 || rf.Host != "localhost" || rf.ExitCode() != 4 || rf.LastLine != "boom: model file missing" {
		t.Errorf("failure %+v", rf)
	}
	msg := err.Error()
	for _, want := range []string{"rank 2", "localhost", "exit status 4", "boom: model file missing", "runs/" + res.RunID + "/ranks/2.log"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	if took > 10*time.Second {
		t.Errorf("launcher took %v to stop the other ranks; want < 10s", took)
	}
	for _, r := range []int{0, 1, 3, 4, 5} {
		assertGone(t, fmt.Sprintf("rank %d", r), readSeen(t, res.RunDir, r).PID, time.Second)
	}
}

func TestRunKilledRankIsTheCause(t *testing.T) {
	f := newFixture(t, "localhost slots=6\n", map[string]any{"*": map[string]any{"sleep": "60s"}})
	cfg := f.config()
	var killed time.Time
	bg := whenStarted(&cfg, allRanks(6), func(_ string, s map[int]seen) error {
		killed = time.Now()
		return syscall.Kill(s[1].PID, syscall.SIGKILL)
	})
	res, err, _ := f.run(cfg)
	background(t, bg)
	took := time.Since(killed)
	var rf *RankFailure
	if !errors.As(err, &rf) || rf.Rank != 1 || rf.ExitCode() != 128+9 || !strings.Contains(rf.Cause, "killed by signal 9") {
		t.Fatalf("error %v; want rank 1 killed by signal 9", err)
	}
	if took > 10*time.Second {
		t.Errorf("took %v", took)
	}
	for _, r := range []int{0, 2, 3, 4, 5} {
		assertGone(t, fmt.Sprintf("rank %d", r), readSeen(t, res.RunDir, r).PID, time.Second)
	}
}

func TestRunEscalatesToSIGKILL(t *testing.T) {
	f := newFixture(t, "localhost slots=6\n", map[string]any{
		"0": map[string]any{"sleep": "60s", "until_file": "go", "exit": 1, "say": "first failure"},
		"*": map[string]any{"sleep": "60s", "ignore_term": true},
	})
	cfg := f.config()
	cfg.Grace = 500 * time.Millisecond
	bg, cued := cueWhenStarted(f, &cfg)
	res, err, _ := f.run(cfg)
	background(t, bg)
	took := time.Since(*cued)
	var rf *RankFailure
	if !errors.As(err, &rf) || rf.Rank != 0 {
		t.Fatalf("error %v; want rank 0's failure (rank 1's SIGKILL is the launcher's doing)", err)
	}
	if took > 5*time.Second {
		t.Errorf("a rank ignoring SIGTERM held the launcher for %v (grace 500ms)", took)
	}
	for r := 1; r < 6; r++ {
		assertGone(t, fmt.Sprintf("rank %d", r), readSeen(t, res.RunDir, r).PID, time.Second)
	}
}

func TestRunInterrupted(t *testing.T) {
	f := newFixture(t, "localhost slots=6\n", map[string]any{"*": map[string]any{"sleep": "60s"}})
	cfg := f.config()
	sigs := make(chan os.Signal, 1)
	cfg.Signals = sigs
	bg := whenStarted(&cfg, allRanks(6), func(string, map[int]seen) error {
		sigs <- syscall.SIGINT
		return nil
	})
	res, err, _ := f.run(cfg)
	background(t, bg)
	var in *Interrupted
	if !errors.As(err, &in) || in.ExitCode() != 130 || in.Ranks != 6 {
		t.Fatalf("error %v; want Interrupted by SIGINT with 6 ranks stopped", err)
	}
	for r := 0; r < 6; r++ {
		assertGone(t, fmt.Sprintf("rank %d", r), readSeen(t, res.RunDir, r).PID, time.Second)
	}
}

func TestRunResume(t *testing.T) {
	f := newFixture(t, "localhost slots=6\n", map[string]any{})
	cfg := f.config()
	cfg.RunID = "first"
	if _, err, _ := f.run(cfg); err != nil {
		t.Fatal(err)
	}
	first := readSeen(t, filepath.Join(f.root, "runs", "first"), 0)

	// The user's files may have changed since; --resume runs the copies.
	f.write("plan.toml", strings.Replace(fixturePlan(t, "localhost slots=6\n"), "vqa-default", "changed", 1))
	cfg = f.config()
	cfg.Hostfile, cfg.Plan, cfg.Resume = "", "", "first"
	res, err, _ := f.run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := readSeen(t, res.RunDir, 0)
	if !s.Resume || s.Args[len(s.Args)-1] != "--resume" {
		t.Errorf("resumed rank args %q", s.Args)
	}
	if s.Secret == first.Secret {
		t.Errorf("a resumed run reused the earlier secret")
	}
	log, _ := os.ReadFile(filepath.Join(res.RunDir, RanksDir, "0.log"))
	if strings.Count(string(log), "fakerank 0 started") != 2 || !strings.Contains(string(log), "resumed at") {
		t.Errorf("rank 0's log should hold both attempts with a marker:\n%s", log)
	}

	cfg.Plan = filepath.Join(f.root, "plan.toml") // differs from the copy
	if _, err, _ := f.run(cfg); err == nil || !strings.Contains(err.Error(), "differs from the run's copy") {
		t.Errorf("resume with a different plan: %v", err)
	}
}

func TestRunBadInputs(t *testing.T) {
	cases := []struct {
		name   string
		tweak  func(f *fixture, c *Config)
		wantIn []string
	}{
		{"missing hostfile", func(f *fixture, c *Config) { c.Hostfile = filepath.Join(f.root, "nope") }, []string{"nope"}},
		{"broken hostfile", func(f *fixture, c *Config) { f.write("hostfile", "localhost slots=2\nn2 slots=many\n") },
			[]string{"hostfile:2"}},
		{"unknown plan key", func(f *fixture, c *Config) {
			f.write("plan.toml", "batchsize = 3\n"+fixturePlan(t, "localhost slots=6\n"))
		},
			[]string{"plan.toml", "batchsize"}},
		{"plan syntax", func(f *fixture, c *Config) { f.write("plan.toml", "job = \"x\"\n[[stage]\n") },
			[]string{"plan.toml:"}},
		{"slots do not match the plan", func(f *fixture, c *Config) { f.write("hostfile", "localhost slots=7\n") },
			[]string{"localhost", "7 slots"}},
		{"missing model", func(f *fixture, c *Config) {
			wf := workflowtest.WithModel(t, filepath.Join(repoRoot(t), "workloads/vqa/workflow.toml"), f.root, "ImageFeatures", "res64", "image_res99.onnx")
			f.write("plan.toml", strings.Replace(fixturePlan(t, "localhost slots=6\n"), filepath.Join(repoRoot(t), "workloads/vqa/workflow.toml"), wf, 1))
		}, []string{"image_res99.onnx", `node "ImageFeatures"`}},
		{"no plan flag", func(f *fixture, c *Config) { c.Plan = "" }, []string{"-p PLAN"}},
		{"bad run id", func(f *fixture, c *Config) { c.RunID = "../x" }, []string{"../x"}},
		{"resume unknown run", func(f *fixture, c *Config) { c.Resume = "never-ran" }, []string{"never-ran"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, "localhost slots=6\n", map[string]any{})
			cfg := f.config()
			c.tweak(f, &cfg)
			_, err, _ := f.run(cfg)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.wantIn {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if entries, _ := os.ReadDir(filepath.Join(f.root, "runs")); len(entries) != 0 {
				t.Errorf("a failed start left run directories behind: %v", entries)
			}
		})
	}

	t.Run("existing run id", func(t *testing.T) {
		f := newFixture(t, "localhost slots=6\n", map[string]any{})
		cfg := f.config()
		cfg.RunID = "dup"
		if _, err, _ := f.run(cfg); err != nil {
			t.Fatal(err)
		}
		if _, err, _ := f.run(cfg); err == nil || !strings.Contains(err.Error(), "--resume dup") {
			t.Errorf("second run with the same id: %v", err)
		}
	})

	t.Run("rank program missing", func(t *testing.T) {
		f := newFixture(t, "localhost slots=6\n", map[string]any{})
		cfg := f.config()
		cfg.Binary = filepath.Join(f.root, "no-such-jellybean")
		_, err, _ := f.run(cfg)
		var rf *RankFailure
		if !errors.As(err, &rf) || !strings.Contains(rf.Cause, "could not start") || !strings.Contains(err.Error(), "no-such-jellybean") {
			t.Errorf("error %v", err)
		}
	})
}

// BenchmarkLaunchSixRanks measures the launcher's own cost per job: run directory, secret, starting six
// rank processes (the fake rank, which exits at once), supervising them and reporting. Compare with
// BenchmarkSpawnOnly, the bare cost of starting and reaping six processes, measured the same way.
func BenchmarkLaunchSixRanks(b *testing.B) {
	f := newFixture(b, "localhost slots=6\n", map[string]any{})
	for b.Loop() {
		if _, err := Run(f.config()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSpawnOnly(b *testing.B) {
	dir := b.TempDir()
	for b.Loop() {
		var cmds []*exec.Cmd
		for r := 0; r < 6; r++ {
			cmd := exec.Command(fakeRank, "run", "-H", "/dev/null", "-p", "/dev/null", "--rank", fmt.Sprint(r), "--run-dir", dir)
			cmd.Dir = dir
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			cmds = append(cmds, cmd)
		}
		for _, c := range cmds {
			if err := c.Wait(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
