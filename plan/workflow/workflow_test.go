package workflow

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const good = `
name = "t"
[[node]]
name = "Read"
kind = "source"
step = [{ op = "text_field", field = "s", out = "s" }]
[[node]]
name = "M"
inputs = ["Read"]
[node.model]
input = [{ name = "x", tensor = "s" }]
output = [{ name = "y" }]
variant = [{ name = "a", file = "a.onnx" }, { name = "b", file = "b.onnx" }]
[[node]]
name = "Out"
kind = "sink"
inputs = ["M"]
fields = ["y"]
`

func TestParseGood(t *testing.T) {
	w, err := Parse("dir/wf.toml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if w.Dir != "dir" || len(w.Nodes) != 3 || w.Sink() != 2 || w.Nodes[0].Steps[0].Op != "text_field" ||
		w.Nodes[0].Steps[0].Params["field"] != "s" || w.Resolve("a.onnx") != "dir/a.onnx" {
		t.Fatalf("%+v", w)
	}
	if got := w.Node("M").VariantNames(); len(got) != 2 || got[1] != "b" || !w.Node("M").Model.Batched() {
		t.Fatalf("variants %v", got)
	}
	if c := w.Consumers(0); len(c) != 1 || c[0] != 1 {
		t.Fatalf("consumers %v", c)
	}
}

// Every malformed file gets one error that names the file, the node and the field at fault.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, old, new, want string
	}{
		{"unknown key", `fields = ["y"]`, `fields = ["y"]` + "\nfeilds = 1", `wf.toml: unknown key(s): node.feilds`},
		{"syntax", `kind = "sink"`, `kind = "sink`, `wf.toml:16:`},
		{"unknown input", `inputs = ["M"]`, `inputs = ["N"]`, `wf.toml: node "Out": inputs: unknown node "N"`},
		{"cycle", `inputs = ["Read"]`, `inputs = ["Read", "Out"]`, `inputs: form a cycle`},
		{"two sinks", `kind = "source"`, `kind = "sink"`, `exactly one node with kind = "sink", found 2`},
		{"bad kind", `kind = "source"`, `kind = "src"`, `node "Read": kind = "src": want "source", "sink" or none`},
		{"no variants", `variant = [{ name = "a", file = "a.onnx" }, { name = "b", file = "b.onnx" }]`, ``, `node "M": model.variant: at least one`},
		{"duplicate variant", `{ name = "b", file`, `{ name = "a", file`, `node "M": model.variant[1]: name "a" used twice`},
		{"variant without file", `{ name = "b", file = "b.onnx" }`, `{ name = "b" }`, `node "M": model.variant[1] "b": file: missing`},
		{"binding without name", `input = [{ name = "x", tensor = "s" }]`, `input = [{ tensor = "s" }]`, `node "M": model.input[0]: name: missing`},
		{"lengths of nothing", `input = [{ name = "x", tensor = "s" }]`, `input = [{ name = "x", tensor = "s" }, { name = "n", lengths_of = "z" }]`, `model.input[1] "n": lengths_of = "z" is not another (tensor) input`},
		{"dangling node", `inputs = ["M"]`, `inputs = ["Read"]`, `node "M": its output goes nowhere`},
		{"sink without fields", `fields = ["y"]`, ``, `node "Out": fields: missing`},
		{"source with inputs", `kind = "source"`, "kind = \"source\"\ninputs = [\"M\"]", `node "Read": inputs: a source reads the dataset`},
		{"step without op", `step = [{ op = "text_field", field`, `step = [{ field`, `step without op`},
		{"post without model", "[[node]]\nname = \"Out\"", "[[node]]\nname = \"P\"\ninputs = [\"M\"]\npost = [{ op = \"x\" }]\n[[node]]\nname = \"Out\"", `node "P": post: post steps follow a model`},
		{"same variant as unknown", `output = [{ name = "y" }]`, "output = [{ name = \"y\" }]\nsame_variant_as = \"Z\"", `model.same_variant_as = "Z": not a model node`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(good, tc.old, tc.new, 1)
			if src == good {
				t.Fatalf("the test's change %q did not apply", tc.old)
			}
			_, err := Parse("wf.toml", []byte(src))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "wf.toml") {
				t.Fatalf("error %v\nwant it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
		})
	}
}

func TestCheckFilesNamesTheMissingModel(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wf.toml")
	if err := os.WriteFile(path, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.onnx"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	err = w.CheckFiles()
	if err == nil || !strings.Contains(err.Error(), `node "M": model.variant "b": file = "b.onnx": file not found`) {
		t.Fatalf("%v", err)
	}
}
