package pipeline

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"jellybean/collective"
	"jellybean/hostfiles"
	"jellybean/job/flow"
	"jellybean/job/runid"
	"jellybean/plan"
	_ "jellybean/workloads/transforms" // text_field, split_text
)

// A step with no model runtime, for pipeline tests that run in milliseconds: upper-cases a text, and
// fails on the text "boom" (to test failures).
func init() {
	flow.Register("test_upper", func(p flow.Params, env flow.Env) (flow.Step, flow.Signature, error) {
		var s struct {
			In  string `toml:"in"`
			Out string `toml:"out"`
		}
		if err := flow.DecodeParams(p, &s); err != nil {
			return nil, flow.Signature{}, err
		}
		text := func(n string) flow.TensorSpec { return flow.TensorSpec{Name: n, DType: collective.Uint8, Rank: 1} }
		return upperStep{s.In, s.Out}, flow.Signature{Reads: []flow.TensorSpec{text(s.In)}, Writes: []flow.TensorSpec{text(s.Out)}}, nil
	})
}

type upperStep struct{ in, out string }

func (u upperStep) Process(items []*flow.Item) ([]*flow.Item, error) {
	for _, it := range items {
		s, err := flow.TextOf(it, u.in)
		if err != nil {
			return nil, err
		}
		if s == "boom" {
			return nil, fmt.Errorf("%s: cannot upper-case %q", it.Name(), s)
		}
		it.Set(flow.Text(u.out, strings.ToUpper(s)))
	}
	return items, nil
}

func (upperStep) Close() error { return nil }

const memWorkflow = `
name = "mem"
[[node]]
name = "Read"
kind = "source"
step = [{ op = "text_field", field = "s", out = "s" }]
[[node]]
name = "ReadTag"
kind = "source"
step = [{ op = "text_field", field = "tag", out = "tag" }]
[[node]]
name = "Split"
inputs = ["Read"]
step = [{ op = "split_text", in = "s", out = "w" }]
[[node]]
name = "Upper"
inputs = ["Split"]
step = [{ op = "test_upper", in = "w", out = "W" }]
[[node]]
name = "Join"
inputs = ["Upper", "ReadTag"]
fan_in = []
step = [{ op = "test_upper", in = "tag", out = "TAG" }]
emit = ["TAG"]
[[node]]
name = "Sink"
kind = "sink"
inputs = ["Regroup", "Join"]
fields = ["W", "TAG"]
[[node]]
name = "Regroup"
inputs = ["Upper"]
fan_in = ["W"]
emit = ["W"]
`

// memJob writes the workflow, a manifest of n items and a plan over 9 ranks on two "hosts", and returns
// the plan, hostfile and the dataset's texts.
func memJob(t *testing.T, texts []string) (*plan.Plan, *hostfiles.Hostfile, string) {
	t.Helper()
	dir := t.TempDir()
	// Join reads tags, which are whole items: it must not see sub-items, so it takes ReadTag and the
	// regrouped words.
	wf := strings.Replace(memWorkflow, `inputs = ["Upper", "ReadTag"]
fan_in = []`, `inputs = ["ReadTag"]`, 1)
	writeFile(t, filepath.Join(dir, "wf.toml"), wf)
	var m strings.Builder
	for i, s := range texts {
		line, _ := json.Marshal(map[string]any{"id": i * 3, "s": s, "tag": fmt.Sprintf("t%d", i)})
		m.Write(append(line, '\n'))
	}
	writeFile(t, filepath.Join(dir, "m.jsonl"), m.String())
	p, err := plan.Parse("mem.toml", []byte(fmt.Sprintf(`
job = "mem"
workflow = %q
dataset = %q
batch_size = 3
[[stage]]
name = "Read"
worker = [{ host = "a", weight = 1 }, { host = "b", weight = 2 }]
[[stage]]
name = "ReadTag"
worker = [{ host = "a", weight = 1 }]
[[stage]]
name = "Split"
worker = [{ host = "a", weight = 1 }]
[[stage]]
name = "Upper"
worker = [{ host = "a", weight = 1 }, { host = "b", weight = 1 }]
[[stage]]
name = "Join"
worker = [{ host = "b", weight = 1 }]
[[stage]]
name = "Regroup"
worker = [{ host = "b", weight = 1 }]
[[stage]]
name = "Sink"
worker = [{ host = "a", weight = 1 }]
`, filepath.Join(dir, "wf.toml"), filepath.Join(dir, "m.jsonl"))))
	if err != nil {
		t.Fatal(err)
	}
	hf, err := hostfiles.Parse("mem-hosts", strings.NewReader("a slots=5\nb slots=4\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Validate(p, "mem.toml", plan.Options{Hostfile: hf, Root: dir, CheckFiles: true}); err != nil {
		t.Fatal(err)
	}
	return p, hf, dir
}

// runMem runs every rank of the job in this process over an in-memory mesh.
func runMem(t *testing.T, p *plan.Plan, hf *hostfiles.Hostfile, runDir string, resume bool) []error {
	return runMemLocked(t, p, hf, runDir, resume, false)
}

func runMemLocked(t *testing.T, p *plan.Plan, hf *hostfiles.Hostfile, runDir string, resume, lock bool) []error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mesh := NewMemMesh(hf.WorldSize())
	errs := make([]error, hf.WorldSize())
	var wg sync.WaitGroup
	for r := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := mesh.Open(r)
			defer tr.Close()
			errs[r] = Run(ctx, Config{Hostfile: hf, Plan: p, PlanName: "mem.toml", Rank: r, Root: "/", RunDir: runDir,
				JobID: "mem", Resume: resume, LockRun: lock, Cores: 2, Stdout: &strings.Builder{}, Transport: tr})
		}()
	}
	wg.Wait()
	return errs
}

func readMemResults(t *testing.T, path string) map[int64][2]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[int64][2]any{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l struct {
			ID  int64    `json:"id"`
			W   []string `json:"W"`
			TAG string   `json:"TAG"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		if _, dup := got[l.ID]; dup {
			t.Fatalf("item %d twice", l.ID)
		}
		got[l.ID] = [2]any{l.W, l.TAG}
	}
	return got
}

// The whole runner — routing, joins, fan-out/fan-in, results, summary — over an in-memory mesh with a
// step that needs no model runtime: no sockets, no ONNX Runtime, milliseconds.
func TestPipelineOverMemMesh(t *testing.T) {
	var texts []string
	for i := range 50 {
		texts = append(texts, strings.Repeat("ab cd ", i%4)+fmt.Sprint("x", i))
	}
	texts[7] = "" // an empty family
	p, hf, dir := memJob(t, texts)
	runDir := filepath.Join(dir, "run")
	requireRanksOK(t, runMem(t, p, hf, runDir, false))
	got := readMemResults(t, filepath.Join(runDir, "results.jsonl"))
	if len(got) != len(texts) {
		t.Fatalf("%d results, want %d", len(got), len(texts))
	}
	for i, s := range texts {
		words := strings.Fields(strings.ToUpper(s))
		if words == nil {
			words = []string{}
		}
		want := [2]any{words, fmt.Sprintf("T%d", i)}
		if g := got[int64(i*3)]; !reflect.DeepEqual(g, want) {
			t.Errorf("item %d: %v, want %v", i*3, g, want)
		}
	}
	var sum struct {
		Completed int `json:"completed"`
		Ranks     []struct {
			Rank int         `json:"rank"`
			Held *Watermarks `json:"held_at_most"`
		} `json:"ranks"`
	}
	data, err := os.ReadFile(filepath.Join(runDir, "summary.json"))
	if err != nil || json.Unmarshal(data, &sum) != nil || sum.Completed != len(texts) {
		t.Fatalf("summary: %s %v", data, err)
	}
	// Every rank reports what it held at most; the fan-out's rank counts the sub-items it made.
	subItems := int64(0)
	for _, r := range sum.Ranks {
		if r.Held == nil {
			t.Fatalf("summary: rank %d has no held_at_most", r.Rank)
		}
		subItems += r.Held.SubItemsEmitted
	}
	if subItems == 0 {
		t.Errorf("summary: no rank counted the sub-items its fan-out made")
	}
}

// A step that fails stops every rank; each names the failing rank; the results already written are kept,
// and a resume (once the input is fixed) finishes exactly the missing items.
func TestFailureAndResumeOverMemMesh(t *testing.T) {
	var texts []string
	for i := range 40 {
		texts = append(texts, fmt.Sprint("w", i))
	}
	texts[25] = "boom"
	p, hf, dir := memJob(t, texts)
	runDir := filepath.Join(dir, "run")
	errs := runMem(t, p, hf, runDir, false)
	failed := 0
	for r, err := range errs {
		if err == nil {
			continue
		}
		failed++
		if !strings.Contains(err.Error(), `cannot upper-case "boom"`) {
			t.Errorf("rank %d: %v (does not name the root cause)", r, err)
		}
	}
	if failed != len(errs) {
		t.Fatalf("%d of %d ranks failed; every rank must stop: %v", failed, len(errs), errs)
	}
	before := readMemResults(t, filepath.Join(runDir, "results.jsonl"))
	if _, ok := before[75]; ok {
		t.Fatal("the failed item has a result")
	}
	// Fix the input and resume.
	texts[25] = "fixed"
	var m strings.Builder
	for i, s := range texts {
		line, _ := json.Marshal(map[string]any{"id": i * 3, "s": s, "tag": fmt.Sprintf("t%d", i)})
		m.Write(append(line, '\n'))
	}
	writeFile(t, filepath.Join(dir, "m.jsonl"), m.String())
	requireRanksOK(t, runMem(t, p, hf, runDir, true))
	after := readMemResults(t, filepath.Join(runDir, "results.jsonl"))
	if len(after) != len(texts) {
		t.Fatalf("%d results after resume, want %d", len(after), len(texts))
	}
	for id, v := range before {
		if !reflect.DeepEqual(after[id], v) {
			t.Errorf("item %d changed on resume", id)
		}
	}
	if got := after[75]; !reflect.DeepEqual(got, [2]any{[]string{"FIXED"}, "T25"}) {
		t.Fatalf("resumed item: %v", got)
	}
}

// Without a launcher (srun, mpirun) the sink takes the run's lock: a second job on the same run
// directory is refused, naming the holder.
func TestSinkTakesTheRunLock(t *testing.T) {
	p, hf, dir := memJob(t, []string{"a b", "c"})
	runDir := filepath.Join(dir, "run")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	held, err := runid.Acquire(runDir)
	if err != nil {
		t.Fatal(err)
	}
	errs := runMemLocked(t, p, hf, runDir, false, true)
	sink := errs[len(errs)-5] // the sink is the last stage placed on host a (ranks 0-4)
	if sink == nil || !strings.Contains(sink.Error(), "is in use by PID") {
		t.Fatalf("sink: %v (all: %v)", sink, errs)
	}
	held.Release()
	requireRanksOK(t, runMemLocked(t, p, hf, runDir, false, true))
}

// A rank that fails while preparing (here the sink: the run already holds results) stops every rank at
// once with its reason: nobody waits for it until a timeout.
func TestPreparationFailureStopsEveryRank(t *testing.T) {
	p, hf, dir := memJob(t, []string{"a b", "c"})
	runDir := filepath.Join(dir, "run")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(runDir, "results.jsonl"), `{"id":0}`+"\n")
	start := time.Now()
	errs := runMem(t, p, hf, runDir, false)
	for r, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "already holds results") {
			t.Errorf("rank %d: %v", r, err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the job took %v to stop", d)
	}
}
