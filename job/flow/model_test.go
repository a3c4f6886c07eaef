package flow

import (
	"fmt"
	"jellybean/collective"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jellybean/job/onnx/onnxbuild"
	"jellybean/plan/workflow"
)

// Model bindings are checked against the ONNX file before data flows: names, element types and ranks.
func TestModelBindingsCheckedAtStartUp(t *testing.T) {
	dir := t.TempDir()
	m := onnxbuild.New("scale")
	x := m.Input("x", onnxbuild.Float32, "batch", 2)
	m.Output(m.Node("Mul", x, m.Constant("", onnxbuild.Float32, []int64{2}, []float32{2, 3})), "y", onnxbuild.Float32, "batch", 2)
	if err := m.Save(filepath.Join(dir, "scale.onnx")); err != nil {
		t.Fatal(err)
	}
	const src = `
name = "bind"
[[node]]
name = "Read"
kind = "source"
step = [{ op = "test_text", field = "s" }]
[[node]]
name = "M"
inputs = ["Read"]
[node.model]
input = [{ name = "x", tensor = "text" }]
output = [{ name = "y" }]
variant = [{ name = "v", file = "scale.onnx" }]
[[node]]
name = "Out"
kind = "sink"
inputs = ["M"]
fields = ["y"]
`
	tests := []struct{ name, old, new, want string }{
		{"wrong dtype", ``, ``, `node "M": model.variant "v": model.input[0] "x" (float32 [-1 2]): reads tensor "text" as float32, but it is uint8`},
		{"unknown input", `{ name = "x", tensor = "text" }`, `{ name = "z", tensor = "text" }`, `model.input[0]: ` + filepath.Join(dir, "scale.onnx") + ` has no input "z" (inputs [x])`},
		{"missing file", `file = "scale.onnx"`, `file = "none.onnx"`, `node "M": model.variant "v"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "wf.toml")
			if err := os.WriteFile(path, []byte(strings.Replace(src, tc.old, tc.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			w, err := workflow.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Compile(w, nil, Env{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), path) {
				t.Fatalf("error %v\nwant %q", err, tc.want)
			}
		})
	}
}

func init() {
	Register("test_vec", func(p Params, env Env) (Step, Signature, error) {
		return stepFunc(func(items []*Item) ([]*Item, error) { return items, nil }),
			Signature{Writes: []TensorSpec{{Name: "x", DType: collective.Float32, Rank: 1}}}, nil
	})
	Register("test_copy", func(p Params, env Env) (Step, Signature, error) {
		var s struct {
			In  string `toml:"in"`
			Out string `toml:"out"`
		}
		if err := DecodeParams(p, &s); err != nil {
			return nil, Signature{}, err
		}
		return stepFunc(func(items []*Item) ([]*Item, error) { return items, nil }),
			Signature{Reads: []TensorSpec{{Name: s.In, Rank: -1}}, Writes: []TensorSpec{{Name: s.Out, DType: collective.Float32, Rank: 1}}}, nil
	})
}

// A variant's params replace the parameters of the node's steps: here the post step's output name.
func TestVariantParams(t *testing.T) {
	dir := t.TempDir()
	m := onnxbuild.New("id")
	m.Output(m.Input("x", onnxbuild.Float32, "batch", 2), "y", onnxbuild.Float32, "batch", 2)
	if err := m.Save(filepath.Join(dir, "id.onnx")); err != nil {
		t.Fatal(err)
	}
	src := `
name = "vp"
[[node]]
name = "Read"
kind = "source"
step = [{ op = "test_vec" }]
[[node]]
name = "M"
inputs = ["Read"]
post = [{ op = "test_copy", in = "y", out = "small" }]
[node.model]
input = [{ name = "x" }]
output = [{ name = "y" }]
variant = [{ name = "a", file = "id.onnx" }, { name = "b", file = "id.onnx", params = { out = "big" } }]
[[node]]
name = "Out"
kind = "sink"
inputs = ["M"]
fields = ["y"]
`
	path := filepath.Join(dir, "wf.toml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := workflow.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for v, want := range map[string]string{"a": "small", "b": "big"} {
		g, err := Compile(w, map[string]string{"M": v}, Env{})
		if err != nil {
			t.Fatal(err)
		}
		if names := fmt.Sprint(g.Nodes[1].Emits); !strings.Contains(names, want+" (float32") {
			t.Errorf("variant %s emits %s, want %s", v, names, want)
		}
	}
	bad := strings.Replace(src, `params = { out = "big" }`, `params = { outt = "big" }`, 1)
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	w, _ = workflow.Load(path)
	if _, err := Compile(w, map[string]string{"M": "b"}, Env{}); err == nil || !strings.Contains(err.Error(), `model.variant "b": params.outt: no step of the node has that parameter`) {
		t.Fatalf("%v", err)
	}
}
