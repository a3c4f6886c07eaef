package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"jellybean/collective"
	"jellybean/job/flow"
)

func f32Item(id int64, name string, shape []int64, v []float32) Item {
	return Item{Item: flow.Item{ID: id, T0: 1000 + id, Tensors: []collective.Tensor{collective.FromFloat32s(name, shape, v)}}}
}

func TestPackUnpackRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		items []Item
	}{
		{"empty", nil},
		{"stacked", []Item{f32Item(1, "x", []int64{2}, []float32{1, 2}), f32Item(2, "x", []int64{2}, []float32{3, 4})}},
		{"ragged", []Item{f32Item(5, "audio", []int64{3}, []float32{1, 2, 3}), f32Item(9, "audio", []int64{1}, []float32{7}),
			f32Item(11, "audio", []int64{0}, []float32{})}},
		{"text and two tensors", []Item{
			{Item: flow.Item{ID: 3, T0: 7, Tensors: []collective.Tensor{flow.Text("answer", "red"), flow.Text("question", "what color")}}},
			{Item: flow.Item{ID: 4, T0: 8, Tensors: []collective.Tensor{flow.Text("answer", "two"), flow.Text("question", "")}}},
		}},
		{"sub-items", []Item{
			{Item: flow.Item{ID: 3, T0: 7, Sub: []int32{0}, SubN: []int32{2}, Tensors: []collective.Tensor{flow.Text("line", "ab")}}},
			{Item: flow.Item{ID: 3, T0: 7, Sub: []int32{1}, SubN: []int32{2}, Tensors: []collective.Tensor{flow.Text("line", "c")}}},
		}},
		{"multi-dim stacked", []Item{f32Item(0, "image", []int64{3, 1, 2}, []float32{1, 2, 3, 4, 5, 6})}},
	}
	// One packer for every case, twice over: its reused scratch buffer must not leak one batch into the
	// next.
	var pk packer
	for _, tc := range append(tests, tests...) {
		t.Run(tc.name, func(t *testing.T) {
			b, err := pk.pack(tc.items)
			if err != nil {
				t.Fatal(err)
			}
			wire := collective.AppendBatch(nil, &b)
			back, err := collective.DecodeBatch(wire)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Unpack(back)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.items) {
				t.Fatalf("%d items back, want %d", len(got), len(tc.items))
			}
			for i := range got {
				w := tc.items[i]
				if got[i].ID != w.ID || got[i].T0 != w.T0 || len(got[i].Tensors) != len(w.Tensors) {
					t.Fatalf("item %d: %+v, want %+v", i, got[i], w)
				}
				for k := range w.Tensors {
					g, e := got[i].Tensors[k], w.Tensors[k]
					if g.Name != e.Name || g.DType != e.DType || !reflect.DeepEqual(g.Shape, e.Shape) || string(g.Data) != string(e.Data) {
						t.Fatalf("item %d tensor %d: %+v, want %+v", i, k, g, e)
					}
				}
			}
		})
	}
}

func TestPackRejectsMismatchedItems(t *testing.T) {
	_, err := Pack([]Item{f32Item(1, "x", []int64{1}, []float32{1}), f32Item(2, "y", []int64{1}, []float32{1})})
	if err == nil || !strings.Contains(err.Error(), `item 2 does not have tensor "x"`) {
		t.Fatalf("error %v", err)
	}
}

func TestUnpackRejectsBadBatches(t *testing.T) {
	good, _ := Pack([]Item{f32Item(5, "a", []int64{2}, []float32{1, 2}), f32Item(6, "a", []int64{1}, []float32{3})})
	tests := []struct {
		name   string
		change func(b *collective.Batch)
		want   string
	}{
		{"no t0", func(b *collective.Batch) { b.Tensors = b.Tensors[1:] }, `without "t0"`},
		{"ragged overrun", func(b *collective.Batch) {
			b.Tensors[2] = collective.FromInt64s("a:shape", []int64{2, 1}, []int64{2, 5})
		}, "runs past the data"},
		{"ragged leftover", func(b *collective.Batch) {
			b.Tensors[2] = collective.FromInt64s("a:shape", []int64{2, 1}, []int64{1, 1})
		}, "left over"},
		{"wrong item count", func(b *collective.Batch) { b.IDs = append(b.IDs, 7) }, "3 items"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := good
			b.Tensors = append([]collective.Tensor(nil), good.Tensors...)
			b.IDs = append([]int64(nil), good.IDs...)
			tc.change(&b)
			_, err := Unpack(b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestJoiner(t *testing.T) {
	j := newJoiner(2)
	if _, ok, err := j.add(0, f32Item(1, "features", []int64{1}, []float32{1})); ok || err != nil {
		t.Fatal("ready after one branch")
	}
	if _, _, err := j.add(0, f32Item(1, "features", []int64{1}, []float32{1})); err == nil {
		t.Fatal("duplicate accepted")
	}
	q := Item{Item: flow.Item{ID: 1, T0: 500, Tensors: []collective.Tensor{flow.Text("question", "what")}}}
	it, ok, err := j.add(1, q)
	if !ok || err != nil || it.T0 != 500 || len(it.Tensors) != 2 {
		t.Fatalf("merged %+v ok=%v err=%v", it, ok, err)
	}
	if _, ok := it.Tensor("question"); !ok {
		t.Fatal("question missing")
	}
	j.add(1, Item{Item: flow.Item{ID: 9}})
	if got := j.incomplete(); !reflect.DeepEqual(got, []string{"9"}) {
		t.Fatalf("incomplete %v", got)
	}
	if _, _, err := j.add(2, Item{Item: flow.Item{ID: 3}}); err == nil {
		t.Fatal("bad branch accepted")
	}
}

func TestReadResultsTruncatesPartialLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "results.jsonl")
	tests := []struct {
		name, content, after string
		done                 []int64
		err                  string
	}{
		{"missing file", "", "", nil, ""},
		{"complete", `{"id":1,"answer":"a"}` + "\n" + `{"id":3,"answer":"b"}` + "\n", "", []int64{1, 3}, ""},
		{"partial tail", `{"id":1,"answer":"a"}` + "\n" + `{"id":2,"ans`, `{"id":1,"answer":"a"}` + "\n", []int64{1}, ""},
		{"corrupt middle", `{"id":1}` + "\n" + "garbage\n" + `{"id":2}` + "\n", "", nil, "results.jsonl:2:"},
		{"duplicate", `{"id":1}` + "\n" + `{"id":1}` + "\n", "", nil, "results.jsonl:2: item 1 appears twice"},
		{"not in the dataset", `{"id":1}` + "\n" + `{"id":400}` + "\n", "", nil, "results.jsonl:2: item 400 is not in the dataset"},
		{"no id", `{"answer":"x"}` + "\n", "", nil, `results.jsonl:1: no "id"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(path)
			if tc.content != "" {
				os.WriteFile(path, []byte(tc.content), 0o644)
			}
			done, err := ReadResults(path, func(id int64) bool { return id < 400 })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(done) != len(tc.done) {
				t.Fatalf("done %v, want %v", done, tc.done)
			}
			for _, id := range tc.done {
				if !done[id] {
					t.Fatalf("id %d not done", id)
				}
			}
			if tc.after != "" {
				if b, _ := os.ReadFile(path); string(b) != tc.after {
					t.Fatalf("file after: %q", b)
				}
			}
		})
	}
}

func TestResultsWriterRejectsDuplicates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.jsonl")
	w, err := openResults(path, map[int64]bool{4: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	if err := w.write([]int64{1}, [][]byte{[]byte(`{"id":1,"answer":"x"}`)}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{1, 4} {
		if err := w.write([]int64{id}, [][]byte{[]byte(`{}`)}); err == nil || !strings.Contains(err.Error(), "twice") {
			t.Fatalf("id %d: error %v", id, err)
		}
	}
	if b, _ := os.ReadFile(path); string(b) != `{"id":1,"answer":"x"}`+"\n" {
		t.Fatalf("file %q", b)
	}
}

func TestPercentile(t *testing.T) {
	v := sortedCopy([]float64{5, 1, 4, 2, 3, 6, 7, 8, 9, 10})
	for _, tc := range []struct{ p, want float64 }{{50, 5}, {90, 9}, {99, 10}, {100, 10}, {0, 1}, {10, 1}, {11, 2}} {
		if got := percentile(v, tc.p); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p, got, tc.want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Fatal("empty")
	}
}

func TestJobItems(t *testing.T) {
	m := &flow.Manifest{IDs: []int64{0, 2, 5, 7}}
	all, todo := jobItems(m, 3, map[int64]bool{2: true})
	if !reflect.DeepEqual(all, []int64{0, 2, 5}) || !reflect.DeepEqual(todo, []int64{0, 5}) {
		t.Fatalf("all %v todo %v", all, todo)
	}
	all, todo = jobItems(m, 0, nil)
	if len(all) != 4 || len(todo) != 4 {
		t.Fatal("no limit")
	}
}

func TestPacerSchedulesFromStart(t *testing.T) {
	p := pacer{start: time.Now(), rate: 200}
	for k := 0; k < 20; k++ {
		if err := p.wait(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	// Item 19 at 200/s is due 95 ms after the start.
	if el := time.Since(p.start); el < 90*time.Millisecond {
		t.Fatalf("20 items at 200/s took only %v", el)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	slow := pacer{start: time.Now(), rate: 0.001}
	if err := slow.wait(ctx, 5); err == nil {
		t.Fatal("cancelled wait returned nil")
	}
	if err := (&pacer{}).wait(context.Background(), 1000); err != nil {
		t.Fatal("unpaced wait failed")
	}
}

// BenchmarkPackUnpack measures the runner's per-message work for a micro-batch of 8 image items
// (pack, encode, decode, unpack); divide by 8 for the per-item cost.
func BenchmarkPackUnpack(b *testing.B) {
	img := make([]float32, 3*64*64)
	items := make([]Item, 8)
	for i := range items {
		items[i] = f32Item(int64(i), "image", []int64{3, 64, 64}, img)
	}
	var buf []byte
	var pk packer
	b.ReportAllocs()
	for b.Loop() {
		batch, err := pk.pack(items)
		if err != nil {
			b.Fatal(err)
		}
		buf = collective.AppendBatch(buf[:0], &batch)
		back, err := collective.DecodeBatch(buf)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Unpack(back); err != nil {
			b.Fatal(err)
		}
	}
}
