package flow

import (
	"fmt"
	"testing"

	"jellybean/collective"
	"jellybean/job/onnx"
	"jellybean/job/onnx/onnxbuild"
)

// fakePool is a pool of empty sessions (no runtime) named by the order they were opened; failAt makes the
// n-th open fail.
func fakePool(max int, eager bool, failAt int) *shapeSessions {
	opened := 0
	return &shapeSessions{max: max, eager: eager, own: map[string]*onnx.Session{}, seen: map[string]bool{},
		shared: &onnx.Session{Path: "shared"},
		open: func() (*onnx.Session, error) {
			opened++
			if opened == failAt {
				return nil, fmt.Errorf("out of GPU memory (test)")
			}
			return &onnx.Session{Path: fmt.Sprint("own", opened)}, nil
		}}
}

type pick struct {
	key, want string
	opened    bool
	count     int
}

func checkPicks(t *testing.T, name string, p *shapeSessions, picks []pick) {
	t.Helper()
	for i, tc := range picks {
		s, opened := p.get(tc.key)
		if s.Path != tc.want || opened != tc.opened || p.count() != tc.count {
			t.Errorf("%s, run %d, shape %s: session %s, opened %v, %d open; want %s, %v, %d",
				name, i, tc.key, s.Path, opened, p.count(), tc.want, tc.opened, tc.count)
		}
	}
}

// The first shape takes the session the step opened; a later shape gets a session of its own the second
// time it comes (the first time when eager), until the limit; a shape seen once, and every shape past the
// limit or after a failed open, runs on the first session. (Sessions here are empty values: no runtime.)
func TestShapeSessionsPick(t *testing.T) {
	checkPicks(t, "lazy", fakePool(3, false, 0), []pick{
		{"a", "shared", false, 1}, {"a", "shared", false, 1}, // one shape: one session, ever
		{"b", "shared", false, 1}, {"b", "own1", true, 2}, {"a", "shared", false, 2},
		{"c", "shared", false, 2}, {"c", "own2", true, 3}, // the limit
		{"d", "shared", false, 3}, {"d", "shared", false, 3}, {"b", "own1", false, 3}, {"c", "own2", false, 3},
	})
	checkPicks(t, "eager", fakePool(3, true, 0), []pick{
		{"a", "shared", false, 1}, {"b", "own1", true, 2}, {"a", "shared", false, 2}, {"c", "own2", true, 3},
		{"d", "shared", false, 3}, {"b", "own1", false, 3},
	})
	failing := fakePool(5, true, 2)
	checkPicks(t, "a failed open", failing, []pick{
		{"a", "shared", false, 1}, {"b", "own1", true, 2},
		{"c", "shared", false, 2}, // the open fails: shared, and no more tries
		{"d", "shared", false, 2}, {"b", "own1", false, 2},
	})
	if failing.openErr == nil || failing.own["c"] != nil {
		t.Errorf("after a failed open: error %v, own %v", failing.openErr, failing.own)
	}
	checkPicks(t, "limit 1", fakePool(1, true, 0), []pick{{"a", "shared", false, 1}, {"b", "shared", false, 1}, {"b", "shared", false, 1}})

	// reset (a new batch size in the profiler) closes all but the first session, which the next first
	// shape takes; a failed open is forgotten
	if err := failing.reset(); err != nil || failing.count() != 1 || failing.openErr != nil || len(failing.own) != 0 {
		t.Fatalf("reset: %v, %d open, error %v, own %v", err, failing.count(), failing.openErr, failing.own)
	}
	checkPicks(t, "after reset", failing, []pick{{"e", "shared", false, 1}, {"f", "own3", true, 2}})
	if err := failing.close(); err != nil || len(failing.own) != 0 {
		t.Errorf("close: %v, %d left", err, len(failing.own))
	}
}

// With real sessions (ONNX Runtime on the CPU, made to act like a GPU step), for a padded model (a shape
// gets its session when it comes back) and one that never pads (at once): every batch comes back right
// whichever session ran it, and the shapes that got sessions are those the rule gives, within the limit.
func TestShapeSessionsRunRight(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ONNX Runtime")
	}
	m := onnxbuild.New("id")
	m.Output(m.Node("Identity", m.Input("x", onnxbuild.Float32, "batch", "len")), "y", onnxbuild.Float32, "batch", "len")
	if oneModelGraph(t, m, `[{ name = "x" }]`, `[{ name = "y" }]`, "y", Env{BatchSize: 2}).Nodes[1].PreparesShapes() {
		t.Error("a CPU node with one session says it keeps sessions per shape")
	}
	for _, tc := range []struct {
		name, pad string
		own       []string // the shapes with a session of their own at the end
	}{
		{"padded", "", []string{"2x3x;", "2x5x;", "2x9x;"}},
		{"never pads", "\npad = false", []string{"2x3x;", "2x5x;", "2x7x;"}},
	} {
		m := onnxbuild.New("id")
		m.Output(m.Node("Identity", m.Input("x", onnxbuild.Float32, "batch", "len")), "y", onnxbuild.Float32, "batch", "len")
		// the pad key goes into the node's [node.model] table after the input list
		g := oneModelGraph(t, m, `[{ name = "x" }]`+tc.pad, `[{ name = "y" }]`, "y", Env{BatchSize: 2, FullBatches: true, ShapeSessions: 3})
		if !g.Nodes[1].PreparesShapes() {
			t.Errorf("%s: a node keeping sessions per shape says it does not (the profiler would not warm it)", tc.name)
		}
		var step *modelStep
		for _, st := range g.Nodes[1].steps {
			if ms, ok := st.s.(*modelStep); ok {
				step = ms
			}
		}
		id := int64(0)
		for _, n := range []int{3, 5, 7, 5, 9, 9, 1, 3} {
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
					t.Fatalf("%s: item %d of length %d: y has %d values", tc.name, it.ID, n, len(got))
				}
				for k, x := range got {
					if x != float32(100*it.ID+int64(k)) {
						t.Fatalf("%s: item %d: y[%d] = %v", tc.name, it.ID, k, x)
					}
				}
			}
		}
		if step.sessions.count() != 3 || len(step.sessions.own) != len(tc.own) {
			t.Errorf("%s: %d sessions open for %d shapes, want 3 (the limit) for %d", tc.name, step.sessions.count(), len(step.sessions.own), len(tc.own))
		}
		for _, key := range tc.own {
			if step.sessions.own[key] == nil {
				t.Errorf("%s: shape %s has no session of its own (own: %v)", tc.name, key, step.sessions.own)
			}
		}
		// the profiler's next batch size: that size's shapes start afresh on the first session
		g.Nodes[1].SetBatchSize(4)
		if step.sessions.count() != 1 || len(step.sessions.own) != 0 {
			t.Errorf("%s: after a new batch size %d sessions open, own %v", tc.name, step.sessions.count(), step.sessions.own)
		}
	}
}
