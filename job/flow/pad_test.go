package flow

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jellybean/collective"
	"jellybean/job/onnx"
	"jellybean/job/onnx/onnxbuild"
	"jellybean/plan/workflow"
)

// With pad = false, items of different lengths never share a batch, so what the model sees of an item
// does not depend on its batch-mates: an identity model then returns every item at its own length. With
// padding (the default) the short items come back at the batch's longest length, zeros appended.
func TestModelWithoutPaddingBatchesByShape(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ONNX Runtime")
	}
	if _, err := onnx.Init(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m := onnxbuild.New("id")
	m.Output(m.Node("Identity", m.Input("x", onnxbuild.Float32, "batch", "len")), "y", onnxbuild.Float32, "batch", "len")
	if err := m.Save(filepath.Join(dir, "id.onnx")); err != nil {
		t.Fatal(err)
	}
	src := `
name = "pad"
[[node]]
name = "Read"
kind = "source"
step = [{ op = "test_vec" }]
[[node]]
name = "M"
inputs = ["Read"]
[node.model]
PAD
input = [{ name = "x" }]
output = [{ name = "y" }]
variant = [{ name = "v", file = "id.onnx" }]
[[node]]
name = "Out"
kind = "sink"
inputs = ["M"]
fields = ["y"]
`
	lengths := []int{2, 4, 2, 3, 4, 1}
	// Full batches (what GPU sessions run) must give every item the same output as without them, while
	// the model runs filled-up batches of 8: one batch padded, four shapes (2, 4, 3, 1) without padding.
	for _, tc := range []struct {
		pad  string
		full bool
		rows int
	}{{"", false, 6}, {"pad = false", false, 6}, {"", true, 8}, {"pad = false", true, 32}} {
		pad := tc.pad
		path := filepath.Join(dir, "wf.toml")
		if err := os.WriteFile(path, []byte(strings.Replace(src, "PAD", pad, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		w, err := workflow.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		g, err := Compile(w, map[string]string{"M": "v"}, Env{BatchSize: 8, FullBatches: tc.full}, 1)
		if err != nil {
			t.Fatal(err)
		}
		var items []*Item
		for i, n := range lengths {
			v := make([]float32, n)
			for k := range v {
				v[k] = float32(10*i + k + 1)
			}
			items = append(items, &Item{ID: int64(i), Tensors: []collective.Tensor{collective.FromFloat32s("x", []int64{int64(n)}, v)}})
		}
		out, _, err := g.Nodes[1].Process(items)
		rows := 0
		for _, st := range g.Nodes[1].steps {
			if ms, ok := st.s.(*modelStep); ok {
				rows += ms.rowsRun
			}
		}
		g.Close()
		if err != nil {
			t.Fatal(err)
		}
		if rows != tc.rows {
			t.Errorf("%q, full batches %v: the model ran %d rows, want %d", pad, tc.full, rows, tc.rows)
		}
		if len(out) != len(lengths) {
			t.Fatalf("%q: %d items out, want %d", pad, len(out), len(lengths))
		}
		for i, it := range out {
			if it.ID != int64(i) {
				t.Fatalf("%q: item %d out at position %d: order changed", pad, it.ID, i)
			}
			y, err := it.Need("y")
			if err != nil {
				t.Fatal(err)
			}
			want := lengths[i]
			if pad == "" {
				want = 4 // the longest item of the micro-batch
			}
			got, err := collective.Float32s(y)
			if err != nil {
				t.Fatal(err)
			}
			if len(y.Shape) != 1 || y.Shape[0] != int64(want) || len(got) != want {
				t.Fatalf("%q: item %d: shape %v, want [%d]", pad, i, y.Shape, want)
			}
			for k, x := range got {
				exp := float32(0)
				if k < lengths[i] {
					exp = float32(10*i + k + 1)
				}
				if x != exp {
					t.Fatalf("%q: item %d: y[%d] = %v, want %v", pad, i, k, x, exp)
				}
			}
		}
	}
}

func TestFillBatch(t *testing.T) {
	a, b := &Item{ID: 1}, &Item{ID: 2}
	got := fillBatch([]*Item{a, b}, 4)
	if len(got) != 4 || got[0] != a || got[1] != b || got[2] != b || got[3] != b {
		t.Fatalf("fillBatch = %v", got)
	}
}

// SetBatchSize is how the profiler times one compiled node at several batch sizes: a GPU session (here
// forced on the CPU) then fills a partial batch up to the size set, not the size compiled.
func TestSetBatchSizeChangesTheFill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ONNX Runtime")
	}
	m := onnxbuild.New("id")
	m.Output(m.Node("Identity", m.Input("x", onnxbuild.Float32, "batch", "len")), "y", onnxbuild.Float32, "batch", "len")
	g := oneModelGraph(t, m, `[{ name = "x" }]`, `[{ name = "y" }]`, "y", Env{BatchSize: 8, FullBatches: true})
	rows := func() int {
		n := 0
		for _, st := range g.Nodes[1].steps {
			if ms, ok := st.s.(*modelStep); ok {
				n, ms.rowsRun = ms.rowsRun, 0
			}
		}
		return n
	}
	item := func() []*Item {
		return []*Item{{ID: 1, Tensors: []collective.Tensor{collective.FromFloat32s("x", []int64{3}, []float32{1, 2, 3})}}}
	}
	for _, tc := range []struct{ size, rows int }{{0, 8}, {2, 2}, {1, 1}, {8, 8}} {
		if tc.size > 0 {
			g.Nodes[1].SetBatchSize(tc.size)
		}
		out, _, err := g.Nodes[1].Process(item())
		if err != nil {
			t.Fatal(err)
		}
		y, err := out[0].Need("y")
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := collective.Float32s(y); len(got) != 3 || got[2] != 3 {
			t.Errorf("batch size %d: y = %v", tc.size, got)
		}
		if r := rows(); r != tc.rows {
			t.Errorf("batch size %d: the model ran %d rows, want %d", tc.size, r, tc.rows)
		}
	}
}

// A lengths_of input is filled like the tensor it measures: the model sees 8 lengths, and every item gets
// back its own length (the filler rows' are dropped).
func TestFullBatchesWithLengths(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ONNX Runtime")
	}
	m := onnxbuild.New("lens")
	m.Input("x", onnxbuild.Float32, "batch", "len")
	m.Output(m.Node("Identity", m.Input("n", onnxbuild.Int64, "batch")), "out", onnxbuild.Int64, "batch")
	g := oneModelGraph(t, m, `[{ name = "x" }, { name = "n", lengths_of = "x" }]`, `[{ name = "out" }]`, "out", Env{BatchSize: 8, FullBatches: true})
	lengths := []int{3, 1, 2}
	var items []*Item
	for i, n := range lengths {
		items = append(items, &Item{ID: int64(i), Tensors: []collective.Tensor{collective.FromFloat32s("x", []int64{int64(n)}, make([]float32, n))}})
	}
	out, _, err := g.Nodes[1].Process(items)
	if err != nil {
		t.Fatal(err)
	}
	for i, it := range out {
		o, err := it.Need("out")
		if err != nil {
			t.Fatal(err)
		}
		got, err := collective.Int64s(o)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0] != int64(lengths[i]) {
			t.Errorf("item %d: out = %v, want [%d]", i, got, lengths[i])
		}
	}
}

// oneModelGraph saves m as model.onnx, writes a workflow source → M (the model, with the given input and
// output bindings) → sink (writing field), and compiles it with env, M built.
func oneModelGraph(t *testing.T, m *onnxbuild.Model, inputs, outputs, field string, env Env) *Graph {
	t.Helper()
	if _, err := onnx.Init(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(filepath.Join(dir, "model.onnx")); err != nil {
		t.Fatal(err)
	}
	src := "name = \"one\"\n[[node]]\nname = \"Read\"\nkind = \"source\"\nstep = [{ op = \"test_vec\" }]\n" +
		"[[node]]\nname = \"M\"\ninputs = [\"Read\"]\n[node.model]\ninput = " + inputs + "\noutput = " + outputs + "\n" +
		"variant = [{ name = \"v\", file = \"model.onnx\" }]\n" +
		"[[node]]\nname = \"Out\"\nkind = \"sink\"\ninputs = [\"M\"]\nfields = [\"" + field + "\"]\n"
	path := filepath.Join(dir, "wf.toml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := workflow.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Compile(w, map[string]string{"M": "v"}, env, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}
