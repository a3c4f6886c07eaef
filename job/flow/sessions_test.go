package flow

import (
	"fmt"
	"testing"

	"jellybean/collective"
	"jellybean/job/onnx"
	"jellybean/job/onnx/onnxbuild"
)

// A shape gets a session of its own the second time it comes, until the limit; a shape seen once, and
// every shape past the limit, runs on the shared session. (Sessions here are empty values: no runtime.)
func TestShapeSessionsPick(t *testing.T) {
	opened := 0
	p := &shapeSessions{max: 3, own: map[string]*onnx.Session{}, seen: map[string]bool{},
		shared: &onnx.Session{Path: "shared"},
		open: func() (*onnx.Session, error) {
			opened++
			return &onnx.Session{Path: fmt.Sprint("own", opened)}, nil
		}}
	for i, tc := range []struct{ key, want string }{
		{"a", "shared"}, {"b", "shared"}, {"a", "own1"}, {"a", "own1"}, {"c", "shared"}, {"b", "own2"},
		{"c", "shared"}, // the limit: shared, own1, own2
		{"b", "own2"}, {"a", "own1"}, {"d", "shared"}, {"d", "shared"},
	} {
		s, _, err := p.get(tc.key)
		if err != nil {
			t.Fatal(err)
		}
		if s.Path != tc.want {
			t.Errorf("run %d, shape %s: session %s, want %s", i, tc.key, s.Path, tc.want)
		}
	}
	if p.count() != 3 || opened != 2 {
		t.Errorf("%d sessions, %d opened; want 3 and 2", p.count(), opened)
	}
	if err := p.close(); err != nil || len(p.own) != 0 {
		t.Errorf("close: %v, %d left", err, len(p.own))
	}

	// eager (a model that never pads): a shape's own session from its first run, up to the limit
	opened = 0
	eager := &shapeSessions{max: 3, eager: true, own: map[string]*onnx.Session{}, seen: map[string]bool{}, shared: &onnx.Session{Path: "shared"},
		open: func() (*onnx.Session, error) {
			opened++
			return &onnx.Session{Path: fmt.Sprint("own", opened)}, nil
		}}
	for i, tc := range []struct{ key, want string }{{"a", "own1"}, {"b", "own2"}, {"a", "own1"}, {"c", "shared"}, {"b", "own2"}} {
		if s, _, _ := eager.get(tc.key); s.Path != tc.want {
			t.Errorf("eager run %d, shape %s: session %s, want %s", i, tc.key, s.Path, tc.want)
		}
	}

	one := &shapeSessions{max: 1, own: map[string]*onnx.Session{}, seen: map[string]bool{}, shared: &onnx.Session{Path: "shared"},
		open: func() (*onnx.Session, error) { t.Fatal("a limit of 1 opened a session"); return nil, nil }}
	for _, k := range []string{"a", "a", "b", "b"} {
		if s, _, _ := one.get(k); s.Path != "shared" {
			t.Errorf("limit 1: shape %s on %s", k, s.Path)
		}
	}
}

// With real sessions (ONNX Runtime on the CPU, made to act like a GPU step): every batch comes back
// right whichever session ran it, recurring shapes got their own sessions and no more were opened than
// the limit.
func TestShapeSessionsRunRight(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ONNX Runtime")
	}
	m := onnxbuild.New("id")
	m.Output(m.Node("Identity", m.Input("x", onnxbuild.Float32, "batch", "len")), "y", onnxbuild.Float32, "batch", "len")
	g := oneModelGraph(t, m, `[{ name = "x" }]`, `[{ name = "y" }]`, "y", Env{BatchSize: 2, FullBatches: true, ShapeSessions: 3})
	var step *modelStep
	for _, st := range g.Nodes[1].steps {
		if ms, ok := st.s.(*modelStep); ok {
			step = ms
		}
	}
	id := int64(0)
	for _, n := range []int{3, 5, 3, 5, 7, 3, 7, 9, 9, 5, 1} {
		var items []*Item
		for range 2 {
			v := make([]float32, n)
			for k := range v {
				v[k] = float32(100*id + int64(k))
			}
			items = append(items, &Item{ID: id, Tensors: []collective.Tensor{collective.FromFloat32s("x", []int64{int64(n)}, v)}})
			id++
		}
		out, _, err := g.Nodes[1].Process(items)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out {
			y, err := it.Need("y")
			if err != nil {
				t.Fatal(err)
			}
			got, _ := collective.Float32s(y)
			if len(got) != n {
				t.Fatalf("item %d of length %d: y has %d values", it.ID, n, len(got))
			}
			for k, x := range got {
				if x != float32(100*it.ID+int64(k)) {
					t.Fatalf("item %d: y[%d] = %v", it.ID, k, x)
				}
			}
		}
	}
	if step.sessions.count() != 3 {
		t.Errorf("%d sessions open, want 3 (the limit)", step.sessions.count())
	}
	for _, key := range []string{"2x3x;", "2x5x;"} {
		if step.sessions.own[key] == nil {
			t.Errorf("shape %s recurred first but has no session of its own (own: %v)", key, step.sessions.own)
		}
	}
}
