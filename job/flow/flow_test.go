package flow

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"jellybean/collective"
	"jellybean/plan/workflow"
)

// Test steps, registered under names no workflow of the repository uses.
func init() {
	Register("test_text", func(p Params, env Env) (Step, Signature, error) {
		var s struct {
			Field string `toml:"field"`
		}
		if err := DecodeParams(p, &s); err != nil {
			return nil, Signature{}, err
		}
		return stepFunc(func(items []*Item) ([]*Item, error) {
			for _, it := range items {
				v, err := it.Record.String(s.Field)
				if err != nil {
					return nil, err
				}
				it.Set(Text("text", v))
			}
			return items, nil
		}), Signature{Fields: []string{s.Field}, Writes: []TensorSpec{{Name: "text", DType: collective.Uint8, Rank: 1}}}, nil
	})
	// test_chars: fan-out, one sub-item per character.
	Register("test_chars", func(p Params, env Env) (Step, Signature, error) {
		return stepFunc(func(items []*Item) ([]*Item, error) {
				var out []*Item
				for _, it := range items {
					s, err := TextOf(it, "text")
					if err != nil {
						return nil, err
					}
					if s == "" {
						out = append(out, it.Child(0, 0))
					}
					for k := range len(s) {
						c := it.Child(k, len(s))
						c.Set(Text("char", s[k:k+1]))
						c.Set(collective.FromFloat32s("code", nil, []float32{float32(s[k])}))
						out = append(out, c)
					}
				}
				// Reverse, so that the fan-in must restore the order.
				for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
					out[i], out[j] = out[j], out[i]
				}
				return out, nil
			}), Signature{FanOut: true, Reads: []TensorSpec{{Name: "text", DType: collective.Uint8, Rank: 1}},
				Writes: []TensorSpec{{Name: "char", DType: collective.Uint8, Rank: 1}, {Name: "code", DType: collective.Float32, Rank: 0}}}, nil
	})
	Register("test_wants_int", func(p Params, env Env) (Step, Signature, error) {
		return stepFunc(func(items []*Item) ([]*Item, error) { return items, nil }),
			Signature{Reads: []TensorSpec{{Name: "text", DType: collective.Int64, Rank: 1}}}, nil
	})
}

type stepFunc func([]*Item) ([]*Item, error)

func (f stepFunc) Process(items []*Item) ([]*Item, error) { return f(items) }
func (f stepFunc) Close() error                           { return nil }

const chars = `
name = "chars"
[[node]]
name = "Read"
kind = "source"
step = [{ op = "test_text", field = "s" }]
[[node]]
name = "Split"
inputs = ["Read"]
step = [{ op = "test_chars" }]
[[node]]
name = "Out"
kind = "sink"
inputs = ["Split"]
fan_in = ["char", "code"]
fields = ["char", "code"]
`

func compileText(t *testing.T, src string, build ...int) (*Graph, error) {
	t.Helper()
	w, err := workflow.Parse("wf.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return Compile(w, nil, Env{BatchSize: 4}, build...)
}

func TestFanOutFanInRoundTrip(t *testing.T) {
	g, err := compileText(t, chars, 0, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if g.Nodes[1].Depth != 1 || g.Nodes[2].Depth != 0 || g.Nodes[0].Fields[0] != "s" {
		t.Fatalf("depths %d %d", g.Nodes[1].Depth, g.Nodes[2].Depth)
	}
	var items []*Item
	for id, s := range []string{"abc", "", "zy"} {
		raw, _ := json.Marshal(s)
		items = append(items, &Item{ID: int64(id), Record: &Record{Fields: map[string]json.RawMessage{"s": raw}}})
	}
	read, _, err := g.Nodes[0].Process(items)
	if err != nil {
		t.Fatal(err)
	}
	subs, _, err := g.Nodes[1].Process(read)
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 6 { // 3 + placeholder + 2
		t.Fatalf("%d sub-items", len(subs))
	}
	for _, s := range subs {
		if len(s.Tensors) > 0 && s.Record != nil {
			t.Fatal("records are not sent on")
		}
	}
	// Sub-items arrive at the fan-in in two batches, out of order.
	first, _, err := g.Nodes[2].Process(subs[:1])
	if err != nil || len(first) != 0 {
		t.Fatalf("complete too early: %d %v", len(first), err)
	}
	rest, _, err := g.Nodes[2].Process(subs[1:])
	if err != nil || len(rest) != 3 {
		t.Fatalf("%d parents, %v", len(rest), err)
	}
	want := map[int64]string{0: `{"id":0,"char":["a","b","c"],"code":[97,98,99],"variants":null}`,
		1: `{"id":1,"char":[],"code":[],"variants":null}`, 2: `{"id":2,"char":["z","y"],"code":[122,121],"variants":null}`}
	for _, p := range rest {
		line, err := ResultLine(p, []string{"char", "code"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(line) != want[p.ID] {
			t.Errorf("item %d: %s, want %s", p.ID, line, want[p.ID])
		}
	}
	if err := g.Nodes[2].Finish(); err != nil {
		t.Fatal(err)
	}
	// A family that never completes is an error at the end of the stream.
	if _, _, err := g.Nodes[2].Process(subs[:1]); err != nil {
		t.Fatal(err)
	}
	if err := g.Nodes[2].Finish(); err == nil || !strings.Contains(err.Error(), "1 families incomplete") {
		t.Fatalf("%v", err)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct{ name, old, new, want string }{
		{"unknown op", `op = "test_chars"`, `op = "test_charz"`, `wf.toml: node "Split": step[0] (op "test_charz"): unknown op`},
		{"unknown parameter", `op = "test_text", field = "s"`, `op = "test_text", feld = "s"`, `node "Read": step[0] (op "test_text"): unknown parameter(s): feld`},
		{"fan-in without fan-out", `step = [{ op = "test_chars" }]`, `step = [{ op = "test_text", field = "s" }]`, `node "Split": step[0] (op "test_text"): reads manifest fields`},
		{"wrong dtype", `step = [{ op = "test_chars" }]`, `step = [{ op = "test_chars" }, { op = "test_wants_int" }]`, `node "Split": step[1] (op "test_wants_int"): reads tensor "text" as int64, but it is uint8`},
		{"fan-in tensor missing", `fan_in = ["char", "code"]`, `fan_in = ["char", "cod"]`, `node "Out": fan_in: tensor "cod" does not reach this node`},
		{"sink at depth", `fan_in = ["char", "code"]`, ``, `node "Out": items reach the sink at fan-out depth 1: regroup sub-items with fan_in first`},
		{"emit unknown", `step = [{ op = "test_chars" }]`, `step = [{ op = "test_chars" }]` + "\nemit = [\"chr\"]", `node "Split": emit: tensor "chr" is not available`},
		{"field missing", `fields = ["char", "code"]`, `fields = ["char", "codes"]`, `node "Out": fields: tensor "codes" does not reach the sink`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(chars, tc.old, tc.new, 1)
			if src == chars {
				t.Fatal("change did not apply")
			}
			_, err := compileText(t, src)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\nwant %q", err, tc.want)
			}
		})
	}
	// A fan_in with no fan-out upstream.
	src := strings.Replace(chars, `step = [{ op = "test_chars" }]`, `fan_in = ["text"]`, 1)
	if _, err := compileText(t, src); err == nil || !strings.Contains(err.Error(), `node "Split": fan_in: no fan-out upstream`) {
		t.Fatalf("%v", err)
	}
}

func TestStackPadsRaggedTensors(t *testing.T) {
	a := collective.FromFloat32s("x", []int64{2, 1}, []float32{1, 2})
	b := collective.FromFloat32s("x", []int64{1, 3}, []float32{3, 4, 5})
	s, err := Stack("x", []collective.Tensor{a, b})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := collective.Float32s(s)
	if fmt.Sprint(s.Shape, v) != "[2 2 3] [1 0 0 2 0 0 3 4 5 0 0 0]" {
		t.Fatalf("%v %v", s.Shape, v)
	}
	if _, err := Stack("x", []collective.Tensor{a, Text("x", "no")}); err == nil {
		t.Fatal("mixed dtypes stacked")
	}
	parts, err := Unstack("x", s, 2)
	if err != nil || fmt.Sprint(parts[1].Shape) != "[2 3]" {
		t.Fatalf("%v %v", parts, err)
	}
}

// A stacker reuses its buffer: a batch stacked after a larger one is exactly what a fresh Stack makes
// (padding zeroed again, no bytes of the previous batch left).
func TestStackerReusesItsBuffer(t *testing.T) {
	var st stacker
	batches := [][]collective.Tensor{
		{collective.FromFloat32s("x", []int64{4}, []float32{9, 9, 9, 9}), collective.FromFloat32s("x", []int64{3}, []float32{8, 8, 8})},
		{collective.FromFloat32s("x", []int64{1}, []float32{1}), collective.FromFloat32s("x", []int64{3}, []float32{2, 3, 4})},
		{collective.FromFloat32s("x", []int64{2}, []float32{5, 6}), collective.FromFloat32s("x", []int64{2}, []float32{7, 8})},
	}
	for k, ts := range batches {
		want, err := Stack("x", ts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := st.stack("x", ts)
		if err != nil || fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) || string(got.Data) != string(want.Data) {
			t.Fatalf("batch %d: %v %v, want %v %v (%v)", k, got.Shape, got.Data, want.Shape, want.Data, err)
		}
	}
}

func TestRunSequential(t *testing.T) {
	g, err := compileText(t, chars, 0, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	var items []*Item
	for id, s := range []string{"ab", "", "xyz"} {
		raw, _ := json.Marshal(s)
		items = append(items, &Item{ID: int64(id), Record: &Record{Fields: map[string]json.RawMessage{"s": raw}}})
	}
	out, _, err := g.RunSequential(items)
	if err != nil || len(out) != 3 {
		t.Fatalf("%d items, %v", len(out), err)
	}
	got := map[int64]string{}
	for _, it := range out {
		line, err := ResultLine(it, []string{"char"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got[it.ID] = string(line)
	}
	if got[0] != `{"id":0,"char":["a","b"],"variants":null}` || got[1] != `{"id":1,"char":[],"variants":null}` || got[2] != `{"id":2,"char":["x","y","z"],"variants":null}` {
		t.Fatalf("%v", got)
	}
}
