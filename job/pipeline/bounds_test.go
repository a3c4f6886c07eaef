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
)

// Model-free steps for the memory-bound tests: a streaming fan-out that makes `count` sub-items of every
// item (each with its position and a payload), and a deliberately slow item-wise step.
func init() {
	flow.Register("test_fanout", func(p flow.Params, env flow.Env) (flow.Step, flow.Signature, error) {
		s := &testFanOut{}
		if err := flow.DecodeParams(p, s); err != nil {
			return nil, flow.Signature{}, err
		}
		return s, flow.Signature{FanOut: true, Reads: []flow.TensorSpec{{Name: "s", DType: collective.Uint8, Rank: 1}},
			Writes: []flow.TensorSpec{{Name: "idx", DType: collective.Int64, Rank: 0}, {Name: "payload", DType: collective.Uint8, Rank: 1}}}, nil
	})
	flow.Register("test_slow", func(p flow.Params, env flow.Env) (flow.Step, flow.Signature, error) {
		s := &testSlow{}
		if err := flow.DecodeParams(p, s); err != nil {
			return nil, flow.Signature{}, err
		}
		return s, flow.Signature{Reads: []flow.TensorSpec{{Name: "payload", DType: collective.Uint8, Rank: 1}},
			Writes: []flow.TensorSpec{{Name: "sum", DType: collective.Int64, Rank: 0}}}, nil
	})
}

type testFanOut struct {
	Count   int `toml:"count"`
	Payload int `toml:"payload"` // bytes per sub-item
}

func (f *testFanOut) Process(items []*flow.Item) ([]*flow.Item, error) {
	var out []*flow.Item
	for _, it := range items {
		if err := f.Stream(it, func(c *flow.Item) error { out = append(out, c); return nil }); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (f *testFanOut) Stream(it *flow.Item, emit func(*flow.Item) error) error {
	for k := range f.Count {
		c := it.Child(k, f.Count)
		c.Set(collective.FromInt64s("idx", nil, []int64{int64(k)}))
		payload := make([]byte, f.Payload)
		for i := range payload {
			payload[i] = byte(k + i)
		}
		c.Set(collective.Tensor{Name: "payload", DType: collective.Uint8, Shape: []int64{int64(len(payload))}, Data: payload})
		if err := emit(c); err != nil {
			return err
		}
	}
	return nil
}

func (f *testFanOut) Close() error { return nil }

// testSlow sums each sub-item's payload, sleeping per micro-batch: a consumer much slower than the fan-out.
type testSlow struct {
	SleepUs int `toml:"sleep_us"`
}

func (s *testSlow) Process(items []*flow.Item) ([]*flow.Item, error) {
	time.Sleep(time.Duration(s.SleepUs) * time.Microsecond)
	for _, it := range items {
		t, err := it.Need("payload")
		if err != nil {
			return nil, err
		}
		sum := int64(0)
		for _, b := range t.Data {
			sum += int64(b)
		}
		it.Set(collective.FromInt64s("sum", nil, []int64{sum}))
	}
	return items, nil
}

func (s *testSlow) Close() error { return nil }

const fanOutWorkflow = `
name = "fan-out-bounds"
[[node]]
name = "Read"
kind = "source"
step = [{ op = "text_field", field = "s", out = "s" }]
[[node]]
name = "Expand"
inputs = ["Read"]
step = [{ op = "test_fanout", count = %d, payload = %d }]
[[node]]
name = "Slow"
inputs = ["Expand"]
step = [{ op = "test_slow", sleep_us = %d }]
emit = ["idx", "sum"]
[[node]]
name = "Regroup"
inputs = ["Slow"]
fan_in = ["idx", "sum"]
emit = ["idx", "sum"]
[[node]]
name = "Sink"
kind = "sink"
inputs = ["Regroup"]
fields = ["idx", "sum"]
`

// fanOutJob writes a job of items that each fan out into count sub-items, over 6 ranks (two readers).
func fanOutJob(t *testing.T, items, count, payload, sleepUs, batch int) (*plan.Plan, *hostfiles.Hostfile, string) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "wf.toml"), fmt.Sprintf(fanOutWorkflow, count, payload, sleepUs))
	var m strings.Builder
	for i := range items {
		fmt.Fprintf(&m, "{\"id\": %d, \"s\": \"page %d\"}\n", i, i)
	}
	writeFile(t, filepath.Join(dir, "m.jsonl"), m.String())
	p, err := plan.Parse("fanout.toml", []byte(fmt.Sprintf(`
job = "fanout"
workflow = %q
dataset = %q
batch_size = %d
[[stage]]
name = "Read"
worker = [{ host = "a", weight = 1 }, { host = "a", weight = 1 }]
[[stage]]
name = "Expand"
worker = [{ host = "a", weight = 1 }]
[[stage]]
name = "Slow"
worker = [{ host = "a", weight = 1 }]
[[stage]]
name = "Regroup"
worker = [{ host = "a", weight = 1 }]
[[stage]]
name = "Sink"
worker = [{ host = "a", weight = 1 }]
`, filepath.Join(dir, "wf.toml"), filepath.Join(dir, "m.jsonl"), batch)))
	if err != nil {
		t.Fatal(err)
	}
	hf, err := hostfiles.Parse("fanout-hosts", strings.NewReader("a slots=6\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Validate(p, "fanout.toml", plan.Options{Hostfile: hf, Root: dir, CheckFiles: true}); err != nil {
		t.Fatal(err)
	}
	return p, hf, dir
}

// runWatched runs the job over a MemMesh with the given source window and returns each rank's error and
// watermarks.
func runWatched(t *testing.T, p *plan.Plan, hf *hostfiles.Hostfile, runDir string, window int) ([]error, map[string]Watermarks) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	mesh := NewMemMesh(hf.WorldSize())
	errs := make([]error, hf.WorldSize())
	var mu sync.Mutex
	marks := map[string]Watermarks{}
	var wg sync.WaitGroup
	for r := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := mesh.Open(r)
			defer tr.Close()
			errs[r] = Run(ctx, Config{Hostfile: hf, Plan: p, PlanName: "fanout.toml", Rank: r, Root: "/", RunDir: runDir,
				JobID: "fanout", Cores: 2, Stdout: &strings.Builder{}, Transport: tr, Window: window,
				Watermarks: func(w Watermarks) {
					mu.Lock()
					defer mu.Unlock()
					marks[fmt.Sprintf("%s/%d", w.Stage, w.Rank)] = w
				}})
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("the job did not finish in time (a hang): %v", errs)
	}
	return errs, marks
}

// A fan-out of 5,000 sub-items per item in front of a deliberately slow consumer: no rank ever holds more
// than the bound of bounds.go (a few micro-batches in its queues and messages; the fan-in at most
// window x sources families), never a page's worth of sub-items per message or queue slot, and every
// sub-item of every item arrives, in order.
func TestFanOutUnderBackpressureStaysBounded(t *testing.T) {
	const items, count, payload, batch, window = 6, 5000, 200, 32, 1
	p, hf, dir := fanOutJob(t, items, count, payload, 300, batch)
	runDir := filepath.Join(dir, "run")
	errs, marks := runWatched(t, p, hf, runDir, window)
	requireRanksOK(t, errs)

	// Every item, with all its sub-items in order and the slow step's result for each.
	f, err := os.Open(filepath.Join(runDir, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	seen := map[int64]bool{}
	for sc.Scan() {
		var l struct {
			ID  int64   `json:"id"`
			Idx []int64 `json:"idx"`
			Sum []int64 `json:"sum"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		if seen[l.ID] {
			t.Fatalf("item %d twice", l.ID)
		}
		seen[l.ID] = true
		if len(l.Idx) != count || len(l.Sum) != count {
			t.Fatalf("item %d: %d positions and %d sums, want %d", l.ID, len(l.Idx), len(l.Sum), count)
		}
		for k := range count {
			want := int64(0)
			for i := range payload {
				want += int64(byte(k + i))
			}
			if l.Idx[k] != int64(k) || l.Sum[k] != want {
				t.Fatalf("item %d sub-item %d: position %d sum %d, want %d %d", l.ID, k, l.Idx[k], l.Sum[k], k, want)
			}
		}
	}
	if len(seen) != items {
		t.Fatalf("%d items arrived, want %d", len(seen), items)
	}

	// The bound, per rank, in items: queues of a few micro-batches, messages of at most one.
	const sources = 2
	inBound, outBound := (inQueue+2)*batch, (outQueue+2)*batch
	for name, w := range marks {
		t.Logf("%s: %+v", name, w)
		if w.MessageItems > batch {
			t.Errorf("%s sent a message of %d items, more than a micro-batch (%d)", name, w.MessageItems, batch)
		}
		// A message holds at most a micro-batch of sub-items, or one whole item (a regrouped family).
		if maxBytes := max(batch*(payload+200), count*16) + 4096; w.MessageBytes > maxBytes {
			t.Errorf("%s sent a message of %d bytes, bound %d", name, w.MessageBytes, maxBytes)
		}
		if w.InQueueItems > inBound || w.OutQueueItems > outBound || w.PendingItems > 2*batch {
			t.Errorf("%s queued %d in, %d pending, %d out: bound %d / %d / %d", name, w.InQueueItems, w.PendingItems,
				w.OutQueueItems, inBound, 2*batch, outBound)
		}
		if w.FanInFamilies > sources*window || w.FanInSubItems > sources*window*count {
			t.Errorf("%s held %d families (%d sub-items) at its fan-in: bound %d families", name, w.FanInFamilies, w.FanInSubItems, sources*window)
		}
		if w.WindowCapacity > 0 && w.WindowMaxInUse > window {
			t.Errorf("%s had %d items in its window of %d", name, w.WindowMaxInUse, window)
		}
	}
	if m := marks["Expand/2"]; m.SubItemsEmitted != items*count {
		t.Errorf("the fan-out streamed %d sub-items, want %d (marks %v)", m.SubItemsEmitted, items*count, marks)
	}
	if m := marks["Regroup/4"]; m.FanInFamilies == 0 {
		t.Errorf("the fan-in's gauge never saw a family: %+v", m)
	}
}

// A family larger than a fan-in may hold is a clear error naming the item, on every rank, not a hang.
func TestFamilyTooLargeForTheFanInFails(t *testing.T) {
	old := flow.MaxFamily
	flow.MaxFamily = 1000
	defer func() { flow.MaxFamily = old }()
	p, hf, dir := fanOutJob(t, 3, 1500, 8, 0, 16)
	errs, _ := runWatched(t, p, hf, filepath.Join(dir, "run"), 0)
	for r, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "family of 1500 sub-items") || !strings.Contains(err.Error(), "at most 1000") {
			t.Errorf("rank %d: %v, want the fan-in's family-size error", r, err)
		}
	}
}
