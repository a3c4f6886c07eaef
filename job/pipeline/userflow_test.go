package pipeline

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"jellybean/hostfiles"
	"jellybean/job/onnx/onnxbuild"
	"jellybean/plan"
	_ "jellybean/workloads/transforms" // the generic steps the workflow file names
)

// A user's own workflow, declared only as files: two tiny ONNX models (generated here), a workflow file,
// a manifest and a plan. No Go code of the user's: it runs on the generic steps. The graph has two
// sources, a fan-out (a sentence into its words), a batched model per word, the matching fan-in, a
// second model branch, and a join at the sink:
//
//	ReadText -> Words (split_text: fan-out; model: byte sum per word) -> Regroup (fan_in) --\
//	                                                                                           Sink
//	ReadVec  -> Classify (model: softmax(v·W); argmax_label)  ----------------------------------/
func TestUserWorkflowWithoutGoCode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ONNX Runtime and ranks over TCP")
	}
	dir := t.TempDir()
	w := [][]float32{{1, 0, 0}, {0, 2, 0}, {0, 0, 3}, {1, 1, -1}}
	writeUserModels(t, dir, w)
	labels := []string{"alpha", "beta", "gamma"}
	writeFile(t, filepath.Join(dir, "labels.txt"), strings.Join(labels, "\n")+"\n")
	writeFile(t, filepath.Join(dir, "workflow.toml"), `
name = "words-and-vectors"

[[node]]
name = "ReadText"
kind = "source"
step = [{ op = "text_field", field = "sentence", out = "sentence" }]

[[node]]
name = "ReadVec"
kind = "source"
step = [{ op = "tensor_field", field = "vec", out = "vec", dtype = "float32", shape = [4] }]

[[node]]
name = "Words"
inputs = ["ReadText"]
step = [{ op = "split_text", in = "sentence", out = "word" }]
emit = ["word", "sum"]
[node.model]
input = [{ name = "bytes", tensor = "word" }]
output = [{ name = "sum" }]
variant = [{ name = "v1", file = "bytesum.onnx" }]

[[node]]
name = "Regroup"
inputs = ["Words"]
fan_in = ["word", "sum"]
emit = ["word", "sum"]

[[node]]
name = "Classify"
inputs = ["ReadVec"]
emit = ["label"]
[node.model]
input = [{ name = "v", tensor = "vec" }]
output = [{ name = "probs" }]
variant = [{ name = "small", file = "classify.onnx" }]
[[node.post]]
op = "argmax_label"
in = "probs"
out = "label"
labels = "labels.txt"

[[node]]
name = "Sink"
kind = "sink"
inputs = ["Regroup", "Classify"]
fields = ["word", "sum", "label"]
`)
	// The dataset: sentences of 0..6 words (an empty one makes an empty family) and vectors.
	type item struct {
		ID       int64     `json:"id"`
		Sentence string    `json:"sentence"`
		Vec      []float32 `json:"vec"`
	}
	vocab := []string{"a", "bb", "ccc", "dd", "xyz", "héllo"}
	var items []item
	var manifest strings.Builder
	for id := int64(0); id < 60; id++ {
		var words []string
		for k := int64(0); k < id%7; k++ {
			words = append(words, vocab[(id+k)%int64(len(vocab))])
		}
		it := item{ID: id, Sentence: strings.Join(words, " "), Vec: []float32{float32(id % 5), float32(id % 3), float32(id % 2), 1}}
		items = append(items, it)
		line, _ := json.Marshal(it)
		manifest.Write(append(line, '\n'))
	}
	writeFile(t, filepath.Join(dir, "manifest.jsonl"), manifest.String())

	base := freeBasePort(t, 4, "127.0.0.2", "127.0.0.3")
	planText := fmt.Sprintf(`
job = "user"
workflow = %q
dataset = %q
base_port = %d
batch_size = 4
[[stage]]
name = "ReadText"
worker = [{ host = "127.0.0.2", weight = 1 }]
[[stage]]
name = "ReadVec"
worker = [{ host = "127.0.0.3", weight = 1 }]
[[stage]]
name = "Words"
variant = "v1"
worker = [{ host = "127.0.0.2", weight = 1 }, { host = "127.0.0.3", weight = 2 }]
[[stage]]
name = "Regroup"
worker = [{ host = "127.0.0.2", weight = 1 }, { host = "127.0.0.3", weight = 1 }]
[[stage]]
name = "Classify"
variant = "small"
worker = [{ host = "127.0.0.3", weight = 1 }]
[[stage]]
name = "Sink"
worker = [{ host = "127.0.0.2", weight = 1 }]
`, filepath.Join(dir, "workflow.toml"), filepath.Join(dir, "manifest.jsonl"), base)
	p, err := plan.Parse("user.toml", []byte(planText))
	if err != nil {
		t.Fatal(err)
	}
	hf, err := hostfiles.Parse("user-hosts", strings.NewReader("127.0.0.2 slots=4\n127.0.0.3 slots=4\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Validate(p, "user.toml", plan.Options{Hostfile: hf, Root: dir, CheckFiles: true}); err != nil {
		t.Fatal(err)
	}
	runDir := filepath.Join(dir, "run")
	var progress strings.Builder
	requireRanksOK(t, runJob(t, p, hf, runDir, false, &progress))

	// Every item, computed here in Go without any model: the words, each word's byte sum, and the label
	// of the arg-max of v·W.
	f, err := os.Open(filepath.Join(runDir, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type line struct {
		ID       int64             `json:"id"`
		Word     []string          `json:"word"`
		Sum      []float64         `json:"sum"`
		Label    string            `json:"label"`
		Variants map[string]string `json:"variants"`
	}
	got := map[int64]line{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		got[l.ID] = l
	}
	if len(got) != len(items) {
		t.Fatalf("%d results, want %d", len(got), len(items))
	}
	for _, it := range items {
		l := got[it.ID]
		words := strings.Fields(it.Sentence)
		if len(words) == 0 {
			words = []string{}
		}
		sums := make([]float64, len(words))
		for i, wd := range words {
			for _, b := range []byte(wd) {
				sums[i] += float64(b)
			}
		}
		best, bestScore := 0, math.Inf(-1)
		for c := range 3 {
			s := 0.0
			for k := range 4 {
				s += float64(it.Vec[k] * w[k][c])
			}
			if s > bestScore {
				best, bestScore = c, s
			}
		}
		if !reflect.DeepEqual(l.Word, words) || !reflect.DeepEqual(l.Sum, sums) || l.Label != labels[best] {
			t.Errorf("item %d: got words %q sums %v label %q, want %q %v %q", it.ID, l.Word, l.Sum, l.Label, words, sums, labels[best])
		}
		if l.Variants["Words"] != "v1" || l.Variants["Classify"] != "small" {
			t.Errorf("item %d: variants %v", it.ID, l.Variants)
		}
	}
}

// writeUserModels writes bytesum.onnx (uint8 [N, L] -> float32 [N]: the sum of each row's bytes) and
// classify.onnx (float32 [N, 4] -> softmax(v·W) [N, 3]).
func writeUserModels(t *testing.T, dir string, w [][]float32) {
	t.Helper()
	m := onnxbuild.New("bytesum")
	x := m.Input("bytes", onnxbuild.Uint8, "batch", "len")
	f := m.NodeAttrs("Cast", []string{x}, onnxbuild.Attrs{"to": onnxbuild.Float32})
	axes := m.Constant("", onnxbuild.Int64, []int64{1}, []int64{1})
	sum := m.NodeAttrs("ReduceSum", []string{f, axes}, onnxbuild.Attrs{"keepdims": 0})
	m.Output(sum, "sum", onnxbuild.Float32, "batch")
	if err := m.Save(filepath.Join(dir, "bytesum.onnx")); err != nil {
		t.Fatal(err)
	}
	c := onnxbuild.New("classify")
	v := c.Input("v", onnxbuild.Float32, "batch", 4)
	var flat []float32
	for _, row := range w {
		flat = append(flat, row...)
	}
	wt := c.Constant("w", onnxbuild.Float32, []int64{4, 3}, flat)
	probs := c.NodeAttrs("Softmax", []string{c.Node("MatMul", v, wt)}, onnxbuild.Attrs{"axis": 1})
	c.Output(probs, "probs", onnxbuild.Float32, "batch", 3)
	if err := c.Save(filepath.Join(dir, "classify.onnx")); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
