package pipeline

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"jellybean/collective"
	"jellybean/hostfiles"
	"jellybean/job/flow"
	"jellybean/plan"
	"jellybean/workloads/vqa"
	"jellybean/workloads/vqa/dataset"
)

// The end-to-end tests run a whole job in this process: every rank is a goroutine with its own
// communicator on loopback (127.0.0.2 and 127.0.0.3 act as two hosts), real ONNX Runtime sessions on the
// shipped models, and a small dataset generated with the workload's generator (espeak-ng).

const testItems = 30

var (
	dataOnce sync.Once
	dataDir  string
	dataErr  error
)

// testDataset generates the dataset once per test binary.
func testDataset(t *testing.T) string {
	t.Helper()
	dataOnce.Do(func() {
		dataDir, dataErr = os.MkdirTemp("", "jellybean-pipeline-data-")
		if dataErr == nil {
			dataErr = dataset.Generate(dataset.Spec{Out: dataDir, Split: "test", N: testItems, Seed: 7}, nil)
		}
	})
	if dataErr != nil {
		t.Fatalf("generating the test dataset (needs espeak-ng: apt-get install -y espeak-ng): %v", dataErr)
	}
	return filepath.Join(dataDir, "test", "manifest.jsonl")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if dataDir != "" {
		os.RemoveAll(dataDir)
	}
	os.Exit(code)
}

func repoRoot(t *testing.T) string {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// freeBasePort finds a base port such that base..base+n-1 are free on the given hosts.
func freeBasePort(t *testing.T, n int, hosts ...string) int {
	t.Helper()
	base, err := FreeBasePort(n, hosts...)
	if err != nil {
		t.Fatal(err)
	}
	return base
}

// twoHostPlan places ten workers on two loopback "hosts", with uneven weights, several workers per
// model stage, and a join whose inputs come from different hosts.
func twoHostPlan(t *testing.T, manifest string, base, batch int) (*plan.Plan, *hostfiles.Hostfile) {
	t.Helper()
	src := fmt.Sprintf(`
job = "e2e"
workflow = "workloads/vqa/workflow.toml"
dataset = %q
base_port = %d
batch_size = %d
[predicted]
throughput_items_per_second = 10.0
[[stage]]
name = "ReadImage"
[[stage.worker]]
host = "127.0.0.2"
weight = 1
[[stage.worker]]
host = "127.0.0.3"
weight = 2
[[stage]]
name = "ReadSpeech"
[[stage.worker]]
host = "127.0.0.3"
weight = 1
[[stage]]
name = "ImageFeatures"
variant = "res32"
[[stage.worker]]
host = "127.0.0.2"
weight = 1
[[stage.worker]]
host = "127.0.0.3"
weight = 1
[[stage]]
name = "SpeechRecognition"
variant = "ctc-small"
batch_size = 3
[[stage.worker]]
host = "127.0.0.2"
weight = 3
[[stage.worker]]
host = "127.0.0.3"
weight = 1
[[stage]]
name = "VQA"
variant = "res32"
[[stage.worker]]
host = "127.0.0.2"
weight = 1
[[stage.worker]]
host = "127.0.0.3"
weight = 1
[[stage]]
name = "Sink"
[[stage.worker]]
host = "127.0.0.2"
weight = 1
`, manifest, base, batch)
	p, err := plan.Parse("e2e.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	hf, err := hostfiles.Parse("e2e-hosts", strings.NewReader("127.0.0.2 slots=5\n127.0.0.3:5\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Validate(p, "e2e.toml", plan.Options{Hostfile: hf, Root: repoRoot(t), CheckFiles: true}); err != nil {
		t.Fatal(err)
	}
	return p, hf
}

// runJob runs every rank of the job in this process and returns each rank's error.
func runJob(t *testing.T, p *plan.Plan, hf *hostfiles.Hostfile, runDir string, resume bool, progress *strings.Builder) []error {
	return runJobTimeout(t, p, hf, runDir, resume, progress, 20*time.Second, 0)
}

func runJobTimeout(t *testing.T, p *plan.Plan, hf *hostfiles.Hostfile, runDir string, resume bool, progress *strings.Builder, connect time.Duration, window int) []error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := hf.WorldSize()
	errs := make([]error, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for r := 0; r < n; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out strings.Builder
			errs[r] = Run(ctx, Config{Hostfile: hf, Plan: p, PlanName: "e2e.toml", Rank: r, Root: repoRoot(t),
				RunDir: runDir, JobID: "e2e-" + filepath.Base(runDir), Secret: []byte("0123456789abcdef0123"),
				Resume: resume, Cores: 2, Stdout: &out, HeartbeatTimeout: 5 * time.Second,
				ConnectTimeout: connect, Window: window})
			mu.Lock()
			progress.WriteString(out.String())
			mu.Unlock()
		}()
	}
	wg.Wait()
	return errs
}

// testResult is a line of results.jsonl of the VQA workflow used by these tests.
type testResult struct {
	ID       int64             `json:"id"`
	Answer   string            `json:"answer"`
	Question string            `json:"question"`
	Variants map[string]string `json:"variants"`
}

func readResultLines(t *testing.T, path string) map[int64]testResult {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[int64]testResult{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r testResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("results line %q: %v", sc.Text(), err)
		}
		if _, dup := got[r.ID]; dup {
			t.Fatalf("item %d twice in results", r.ID)
		}
		got[r.ID] = r
	}
	return got
}

// reference runs the same workflow on each item alone, node by node in one process, with no ranks,
// routing, joins over the network or batching.
func reference(t *testing.T, p *plan.Plan, manifest string) map[int64]testResult {
	t.Helper()
	order, err := p.Flow.TopoOrder()
	if err != nil {
		t.Fatal(err)
	}
	g, err := flow.Compile(p.Flow, p.Variants(), flow.Env{Device: "cpu", Threads: 1, BatchSize: 1}, order...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	m, err := flow.LoadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]testResult{}
	for _, id := range m.IDs {
		outs := map[int]*flow.Item{}
		for _, i := range order {
			in := &flow.Item{ID: id}
			if rec, _ := m.Record(id); p.Flow.Nodes[i].Kind == "source" {
				in.Record = rec
			}
			for _, name := range p.Flow.Nodes[i].Inputs {
				in.Tensors = append(in.Tensors, outs[p.Flow.Index(name)].Tensors...)
			}
			res, _, err := g.Nodes[i].Process([]*flow.Item{in})
			if err != nil || len(res) != 1 {
				t.Fatalf("reference item %d node %s: %d items, %v", id, p.Flow.Nodes[i].Name, len(res), err)
			}
			outs[i] = res[0]
		}
		last := outs[p.Flow.Sink()]
		a, _ := flow.TextOf(last, "answer")
		q, _ := flow.TextOf(last, "question")
		want[id] = testResult{ID: id, Answer: a, Question: q}
	}
	return want
}

func checkResults(t *testing.T, got, want map[int64]testResult, variants map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d", len(got), len(want))
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Fatalf("item %d missing", id)
		}
		if g.Answer != w.Answer || g.Question != w.Question {
			t.Errorf("item %d: got (%q, %q), the models alone give (%q, %q)", id, g.Answer, g.Question, w.Answer, w.Question)
		}
		if fmt.Sprint(g.Variants) != fmt.Sprint(variants) {
			t.Errorf("item %d: variants %v, want %v", id, g.Variants, variants)
		}
	}
}

func TestJobOnTwoLoopbackHosts(t *testing.T) {
	manifest := testDataset(t)
	p, hf, runDir := twoHostJob(t, manifest, 4)
	var progress strings.Builder
	requireRanksOK(t, runJob(t, p, hf, runDir, false, &progress))
	got := readResultLines(t, filepath.Join(runDir, "results.jsonl"))
	want := reference(t, p, manifest)
	checkResults(t, got, want, p.Variants())

	// The recogniser really listened to the audio: most recognised questions share words with the spoken
	// ones (accuracy itself is the workload's business, measured by jellybean eval).
	m, _ := vqa.LoadManifest(manifest)
	heard := 0
	for _, it := range m.Items {
		words := strings.Fields(got[it.ID].Question)
		if len(words) > 0 && strings.Contains(it.Question, words[0]) {
			heard++
		}
	}
	if heard*2 < len(m.Items) {
		t.Errorf("only %d of %d recognised questions start with a word of the spoken question", heard, len(m.Items))
	}
	if !strings.Contains(progress.String(), fmt.Sprintf(`jellybean-progress {"done":%d,"total":%d}`, testItems, testItems)) {
		t.Errorf("no final progress line in %q", progress.String())
	}

	var s Summary
	data, err := os.ReadFile(filepath.Join(runDir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if s.Items != testItems || s.Completed != testItems || s.CompletedThisRun != testItems || s.ThroughputItemsPerSecond <= 0 ||
		s.LatencyMs["p50"] <= 0 || s.LatencyMs["p99"] < s.LatencyMs["p50"] || s.BytesRaw <= 0 || s.BytesWire <= 0 ||
		len(s.Ranks) != 10 || s.Predicted.ThroughputItemsPerSecond != 10 || s.ThroughputVsPredicted <= 0 {
		t.Fatalf("summary %s", data)
	}
	for _, st := range s.Stages {
		if st.Items != testItems {
			t.Errorf("stage %s handled %d items, want %d", st.Name, st.Items, testItems)
		}
	}
	// Weighted routing: ReadImage's workers have weights 1:2 -> 10 and 20 items.
	if s.Ranks[0].Items != 10 || s.Ranks[5].Items != 20 {
		t.Errorf("ReadImage shards %d and %d items, want 10 and 20", s.Ranks[0].Items, s.Ranks[5].Items)
	}
	// Every rank wrote one timing row per item it handled.
	for r := 0; r < 10; r++ {
		data, err := os.ReadFile(filepath.Join(runDir, "timing", fmt.Sprintf("%d.csv", r)))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if lines[0]+"\n" != timingHeader || int64(len(lines)-1) != s.Ranks[r].Items {
			t.Errorf("rank %d: timing has %d rows, handled %d items", r, len(lines)-1, s.Ranks[r].Items)
		}
	}
}

func TestResumeFinishesOnlyMissingItems(t *testing.T) {
	manifest := testDataset(t)
	p, hf, runDir := twoHostJob(t, manifest, 8)
	var progress strings.Builder
	requireRanksOK(t, runJob(t, p, hf, runDir, false, &progress))
	path := filepath.Join(runDir, "results.jsonl")
	full := readResultLines(t, path)
	// Simulate a job killed mid-write: keep 12 complete lines and half of the 13th.
	data, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(data), "\n")
	kept := strings.Join(lines[:12], "") + lines[12][:len(lines[12])/2]
	if err := os.WriteFile(path, []byte(kept), 0o644); err != nil {
		t.Fatal(err)
	}
	// Without --resume the sink refuses to mix runs.
	errs := runJobTimeout(t, p, hf, runDir, false, &progress, 2*time.Second, 0)
	if errs[9] == nil && errs[0] == nil {
		t.Fatal("second run without resume succeeded")
	}
	found := false
	for _, err := range errs {
		found = found || (err != nil && strings.Contains(err.Error(), "already holds results: pass --resume"))
	}
	if !found {
		t.Fatalf("no rank reported the existing results: %v", errs)
	}
	for r, err := range runJob(t, p, hf, runDir, true, &progress) {
		if err != nil {
			t.Fatalf("resume rank %d: %v", r, err)
		}
	}
	checkResults(t, readResultLines(t, path), full, p.Variants())
	var s Summary
	data, _ = os.ReadFile(filepath.Join(runDir, "summary.json"))
	json.Unmarshal(data, &s)
	if s.Completed != testItems || s.CompletedThisRun != testItems-12 {
		t.Fatalf("resume summary: completed %d, this run %d", s.Completed, s.CompletedThisRun)
	}
}

// TestSmallWindowBoundsTheJoin: with a window of 2 items per source, the job still completes (no
// deadlock) and the join never holds more half-items than the sources' windows allow.
func TestSmallWindowBoundsTheJoin(t *testing.T) {
	manifest := testDataset(t)
	p, hf, runDir := twoHostJob(t, manifest, 4)
	var progress strings.Builder
	requireRanksOK(t, runJobTimeout(t, p, hf, runDir, false, &progress, 20*time.Second, 2))
	if got := readResultLines(t, filepath.Join(runDir, "results.jsonl")); len(got) != testItems {
		t.Fatalf("%d results, want %d", len(got), testItems)
	}
	var s Summary
	data, _ := os.ReadFile(filepath.Join(runDir, "summary.json"))
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	// Three source workers with two tokens each: at most 6 items can be half-joined at any time.
	for _, rs := range s.Ranks {
		if rs.JoinMaxPending > 6 {
			t.Errorf("rank %d (%s) held %d half-joined items, window allows 6", rs.Rank, rs.Stage, rs.JoinMaxPending)
		}
	}
}

// copyDir copies a generated dataset so that a test may damage its copy.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestFailingRankStopsTheJob: one source hits a corrupt image mid-run; every rank stops promptly with an
// error, the others naming the failed rank, and results.jsonl holds only complete lines.
func TestFailingRankStopsTheJob(t *testing.T) {
	manifest := testDataset(t)
	data := filepath.Join(t.TempDir(), "data")
	copyDir(t, filepath.Dir(manifest), data)
	m, err := vqa.LoadManifest(filepath.Join(data, "manifest.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	bad := m.Items[20]
	if err := os.WriteFile(m.ImagePath(bad), []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := freeBasePort(t, 5, "127.0.0.2", "127.0.0.3")
	p, hf := twoHostPlan(t, filepath.Join(data, "manifest.jsonl"), base, 2)
	runDir := t.TempDir()
	var progress strings.Builder
	start := time.Now()
	errs := runJob(t, p, hf, runDir, false, &progress)
	if el := time.Since(start); el > 20*time.Second {
		t.Fatalf("job took %v to stop", el)
	}
	owner := -1
	for r := range errs {
		if errs[r] != nil && strings.Contains(errs[r].Error(), fmt.Sprintf("item %d:", bad.ID)) &&
			strings.Contains(errs[r].Error(), "ReadImage") && !strings.Contains(errs[r].Error(), "failed:") {
			owner = r
		}
	}
	if owner < 0 {
		t.Fatalf("no rank reported the corrupt image of item %d: %v", bad.ID, errs)
	}
	for r, err := range errs {
		if err == nil {
			t.Errorf("rank %d succeeded", r)
		} else if r != owner && !strings.Contains(err.Error(), fmt.Sprintf("rank %d", owner)) {
			t.Errorf("rank %d: error does not name rank %d: %v", r, owner, err)
		}
	}
	results, err := os.ReadFile(filepath.Join(runDir, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(results) > 0 && results[len(results)-1] != '\n' {
		t.Fatal("results.jsonl ends with a partial line")
	}
}

// TestUpstreamLeavingWithoutEndOfStream: a source rank that joins the job and then closes its
// communicator without sending anything (as a failed rank whose abort report got lost would) must not
// leave its downstream waiting: the job stops with an error naming it.
func TestUpstreamLeavingWithoutEndOfStream(t *testing.T) {
	manifest := testDataset(t)
	base := freeBasePort(t, 5, "127.0.0.2", "127.0.0.3")
	p, hf := twoHostPlan(t, manifest, base, 4)
	p.InputRate = 5 // the image sources are still reading when the speech ranks probe
	runDir := t.TempDir()
	const ghost = 6 // ReadSpeech's only worker
	secret := []byte("0123456789abcdef0123")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	errs := make([]error, hf.WorldSize())
	var wg sync.WaitGroup
	start := time.Now()
	for r := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r != ghost {
				errs[r] = Run(ctx, Config{Hostfile: hf, Plan: p, PlanName: "e2e.toml", Rank: r, Root: repoRoot(t),
					RunDir: runDir, JobID: "ghost", Secret: secret, Cores: 2, Stdout: &strings.Builder{},
					HeartbeatTimeout: 5 * time.Second, ConnectTimeout: 20 * time.Second})
				return
			}
			var peers []collective.Peer
			for _, s := range hf.Ranks() {
				peers = append(peers, collective.Peer{Rank: s.Rank, Host: s.Host, Port: base + s.LocalIndex})
			}
			c, err := collective.Open(ctx, collective.Config{JobID: "ghost", Rank: r, Peers: peers, Secret: secret,
				HeartbeatTimeout: 5 * time.Second, ConnectTimeout: 20 * time.Second})
			if err != nil {
				errs[r] = err
				return
			}
			_, errs[r] = c.AllToAllV(ctx, make([][]byte, len(peers))) // the start-up exchange
			c.Close()
		}()
	}
	wg.Wait()
	if el := time.Since(start); el > 30*time.Second {
		t.Fatalf("job took %v to notice", el)
	}
	if errs[ghost] != nil {
		t.Fatalf("ghost rank: %v", errs[ghost])
	}
	// The speech recognisers, waiting for its stream, notice by probing; everyone else hears it from them.
	probed := false
	for r, err := range errs {
		if err != nil && strings.Contains(err.Error(), fmt.Sprintf("rank %d (127.0.0.3) left before the end of its stream", ghost)) {
			probed = true
		}
		if r == ghost {
			continue
		}
		if err == nil {
			t.Errorf("rank %d succeeded without rank %d's items", r, ghost)
		} else if !strings.Contains(err.Error(), fmt.Sprintf("rank %d (127.0.0.3", ghost)) {
			t.Errorf("rank %d: error does not name rank %d: %v", r, ghost, err)
		}
	}
	if !probed {
		t.Errorf("no rank noticed by probing: %v", errs)
	}
}

// TestCompressedJob: with zstd on every link the results are the same and fewer bytes cross the wire.
func TestCompressedJob(t *testing.T) {
	manifest := testDataset(t)
	base := freeBasePort(t, 5, "127.0.0.2", "127.0.0.3")
	p, hf := twoHostPlan(t, manifest, base, 4)
	p.Compress = "fastest"
	runDir := t.TempDir()
	var progress strings.Builder
	for r, err := range runJob(t, p, hf, runDir, false, &progress) {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	checkResults(t, readResultLines(t, filepath.Join(runDir, "results.jsonl")), reference(t, p, manifest), p.Variants())
	var s Summary
	data, _ := os.ReadFile(filepath.Join(runDir, "summary.json"))
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if s.BytesWire <= 0 || s.BytesWire >= s.BytesRaw {
		t.Fatalf("compressed job: %d bytes raw, %d on the wire", s.BytesRaw, s.BytesWire)
	}
}

// twoHostJob is the plan and hostfile of twoHostPlan on free ports of 127.0.0.2/3, and a fresh run directory.
func twoHostJob(t *testing.T, manifest string, batch int) (*plan.Plan, *hostfiles.Hostfile, string) {
	t.Helper()
	p, hf := twoHostPlan(t, manifest, freeBasePort(t, 5, "127.0.0.2", "127.0.0.3"), batch)
	return p, hf, t.TempDir()
}

// requireRanksOK fails the test with the first rank's error.
func requireRanksOK(t *testing.T, errs []error) {
	t.Helper()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
}
