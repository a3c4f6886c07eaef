package profile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"jellybean/collective"
	"jellybean/job/flow"
	"jellybean/job/onnx"
	"jellybean/job/onnx/onnxbuild"
	_ "jellybean/workloads/transforms" // text_field, tokenize, argmax_label
)

// textWorkflow writes, into dir, a workflow that is not the embedded one, with its models, vocabulary,
// labels and a dataset, and returns the workflow and manifest paths. Texts are tokenised by a node
// without a model; two models read the tokens (one in two variants) and a third joins their outputs:
//
//	ReadText -> Tokens -> Embed (small | big) --\
//	                  \-> Count ---------------- Join -> Sink
func textWorkflow(t *testing.T, dir string) (workflowPath, manifest string) {
	t.Helper()
	const length = 4
	save := func(name string, m *onnxbuild.Model) {
		if err := m.Save(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	embed := func(scale float32) *onnxbuild.Model {
		m := onnxbuild.New("embed")
		x := m.NodeAttrs("Cast", []string{m.Input("tokens", onnxbuild.Int64, -1, length)}, onnxbuild.Attrs{"to": onnxbuild.Float32})
		y := m.Node("Mul", x, m.Constant("", onnxbuild.Float32, []int64{1}, []float32{scale}))
		m.Output(y, "vec", onnxbuild.Float32, -1, length)
		return m
	}
	save("embed_small.onnx", embed(0.5))
	save("embed_big.onnx", embed(2))
	count := onnxbuild.New("count")
	x := count.NodeAttrs("Cast", []string{count.Input("tokens", onnxbuild.Int64, -1, length)}, onnxbuild.Attrs{"to": onnxbuild.Float32})
	count.Output(count.Node("MatMul", x, count.Constant("", onnxbuild.Float32, []int64{length, 1}, []float32{1, 1, 1, 1})), "cnt", onnxbuild.Float32, -1, 1)
	save("count.onnx", count)
	join := onnxbuild.New("join")
	cat := join.NodeAttrs("Concat", []string{join.Input("vec", onnxbuild.Float32, -1, length), join.Input("cnt", onnxbuild.Float32, -1, 1)}, onnxbuild.Attrs{"axis": 1})
	join.Output(cat, "scores", onnxbuild.Float32, -1, length+1)
	save("join.onnx", join)

	files := map[string]string{
		"vocab.txt":  "<pad>\n<unk>\nred\ngreen\nblue\n",
		"labels.txt": "a\nb\nc\nd\ne\n",
		"workflow.toml": `name = "text-test"
[[node]]
name = "ReadText"
kind = "source"
step = [{ op = "text_field", field = "text", out = "text" }]
[[node]]
name = "Tokens"
inputs = ["ReadText"]
step = [{ op = "tokenize", in = "text", out = "tokens", vocab = "vocab.txt", length = 4 }]
emit = ["tokens"]
[[node]]
name = "Embed"
inputs = ["Tokens"]
[node.model]
input = [{ name = "tokens" }]
output = [{ name = "vec" }]
variant = [{ name = "small", file = "embed_small.onnx" }, { name = "big", file = "embed_big.onnx" }]
[[node]]
name = "Count"
inputs = ["Tokens"]
[node.model]
input = [{ name = "tokens" }]
output = [{ name = "cnt" }]
variant = [{ name = "one", file = "count.onnx" }]
[[node]]
name = "Join"
inputs = ["Embed", "Count"]
emit = ["label"]
[node.model]
input = [{ name = "vec" }, { name = "cnt" }]
output = [{ name = "scores" }]
variant = [{ name = "one", file = "join.onnx" }]
[[node.post]]
op = "argmax_label"
in = "scores"
out = "label"
labels = "labels.txt"
[[node]]
name = "Sink"
kind = "sink"
inputs = ["Join"]
fields = ["label"]
`,
		"manifest.jsonl": `{"id":1,"text":"red green"}
{"id":2,"text":"blue blue blue"}
{"id":3,"text":"green"}
`,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "workflow.toml"), filepath.Join(dir, "manifest.jsonl")
}

// The profiler knows no workflow: on a text workflow it times the node without a model as variant
// "default", every model variant with inputs its upstream nodes made, and sizes every edge but the one
// into the sink from the tensors that travel on it.
func TestMeasureAnyWorkflow(t *testing.T) {
	if testing.Short() {
		t.Skip("needs ONNX Runtime")
	}
	if _, err := onnx.Init(); err != nil {
		t.Fatal(err)
	}
	wf, man := textWorkflow(t, t.TempDir())
	in, err := LoadItems(wf, man, 0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Measure(in, Options{Host: "h", Batches: []int{1, 2}, Repeats: 2, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	var lat []string
	for _, l := range res.Latencies {
		lat = append(lat, fmt.Sprintf("%s/%s/%d", l.Stage, l.Variant, l.Batch))
		// The repeats, or one window per batch of the traced items for a node that cheap.
		if l.Stats.Runs < 2 || l.Stats.Runs > max(2, len(in.IDs)/l.Batch) || !(l.Stats.Median > 0) {
			t.Errorf("%s %s batch %d: %+v", l.Stage, l.Variant, l.Batch, l.Stats)
		}
	}
	want := "Embed/small/1 Embed/small/2 Count/one/1 Count/one/2 Join/one/1 Join/one/2 Tokens/default/1 Tokens/default/2 Embed/big/1 Embed/big/2"
	if got := strings.Join(lat, " "); got != want {
		t.Errorf("latencies\n%s\nwant\n%s", got, want)
	}
	// With a least time the timed runs of these sub-millisecond ops span it: many more than the repeats.
	start := time.Now()
	timed, err := Measure(in, Options{Host: "h", Batches: []int{2}, Repeats: 2, Threads: 1, MinTime: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range timed.Latencies {
		if l.Stats.Runs <= 10*max(2, len(in.IDs)/l.Batch) {
			t.Errorf("%s %s with a least time of 20 ms: %d runs of %.3f ms", l.Stage, l.Variant, l.Stats.Runs, l.Stats.Median)
		}
		// They span it, whatever the warm-up call took, unless they reach the most runs allowed.
		if span := float64(l.Stats.Runs) * l.Stats.Mean; span < 20 && l.Stats.Runs < maxRuns {
			t.Errorf("%s %s: %d timed runs span %.2f ms, want at least the least time of 20 ms", l.Stage, l.Variant, l.Stats.Runs, span)
		}
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("profile with a 20 ms least time took %v", d)
	}
	texts := float64(len("red green")+len("blue blue blue")+len("green")) / 3
	wantKB := map[[3]string]float64{
		{"ReadText", "Tokens", "default"}: texts / 1024,
		{"Tokens", "Embed", "default"}:    4 * 8.0 / 1024,
		{"Tokens", "Count", "default"}:    4 * 8.0 / 1024,
		{"Embed", "Join", "small"}:        4 * 4.0 / 1024,
		{"Embed", "Join", "big"}:          4 * 4.0 / 1024,
		{"Count", "Join", "one"}:          4.0 / 1024,
	}
	if len(res.Messages) != len(wantKB) {
		t.Errorf("messages %+v, want %d edges", res.Messages, len(wantKB))
	}
	for _, m := range res.Messages {
		w, ok := wantKB[[3]string{m.From, m.To, m.FromVariant}]
		if !ok || m.RawKB < w || m.RawKB > w+FramingKB {
			t.Errorf("message %s→%s (%s): %.6f KB, want %.6f plus at most %.2f KB of framing (known: %v)", m.From, m.To, m.FromVariant, m.RawKB, w, FramingKB, ok)
		}
	}
}

// Tracing runs the items through the nodes as the runner would: Join receives both branches' tensors
// of each item, and the big variant's vectors are four times the small one's.
func TestTraceJoinsBranches(t *testing.T) {
	if testing.Short() {
		t.Skip("needs ONNX Runtime")
	}
	wf, man := textWorkflow(t, t.TempDir())
	in, err := LoadItems(wf, man, 2)
	if err != nil {
		t.Fatal(err)
	}
	assignments := Assignments(in.Workflow)
	if len(assignments) != 2 {
		t.Fatalf("assignments %+v: want the first variants, then Embed big", assignments)
	}
	vecs := map[string][]float32{}
	for _, a := range assignments {
		tr, err := RunTrace(in, a.Variants, flowEnv())
		if err != nil {
			t.Fatal(err)
		}
		join := tr.Received[in.Workflow.Index("Join")]
		if len(join) != 2 || join[0].ID != 1 || len(join[0].Tensors) != 2 {
			t.Fatalf("Join received %+v", join)
		}
		v, _ := join[0].Tensor("vec")
		vecs[a.Variants["Embed"]], _ = floats(v.Data)
		if out := tr.Emitted[in.Workflow.Index("Join")]; len(out) != 2 || len(out[0].Tensors) != 1 || out[0].Tensors[0].Name != "label" {
			t.Errorf("Join emitted %+v", out)
		}
		tr.Close()
	}
	// "red green" = tokens 2, 3, 0, 0.
	if fmt.Sprint(vecs["small"]) != "[1 1.5 0 0]" || fmt.Sprint(vecs["big"]) != "[4 6 0 0]" {
		t.Errorf("vectors %v", vecs)
	}
}

func flowEnv() flow.Env { return flow.Env{Device: "cpu", Threads: 1, BatchSize: 2} }

func floats(b []byte) ([]float32, error) {
	return flow.Float32s(collective.Tensor{Name: "x", DType: collective.Float32, Shape: []int64{int64(len(b) / 4)}, Data: b})
}

// A fan-out (a sentence into its words, an empty sentence into an empty family), a model per word and
// the matching fan-in: the fan-in node is timed on whole families, and the messages of sub-items and of
// the empty family's placeholder are sized as they travel.
func TestMeasureFanOutFanIn(t *testing.T) {
	if testing.Short() {
		t.Skip("needs ONNX Runtime")
	}
	dir := t.TempDir()
	m := onnxbuild.New("bytesum")
	f := m.NodeAttrs("Cast", []string{m.Input("bytes", onnxbuild.Uint8, "batch", "len")}, onnxbuild.Attrs{"to": onnxbuild.Float32})
	m.Output(m.NodeAttrs("ReduceSum", []string{f, m.Constant("", onnxbuild.Int64, []int64{1}, []int64{1})}, onnxbuild.Attrs{"keepdims": 0}), "sum", onnxbuild.Float32, "batch")
	if err := m.Save(filepath.Join(dir, "bytesum.onnx")); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"workflow.toml": `name = "words"
[[node]]
name = "ReadText"
kind = "source"
step = [{ op = "text_field", field = "sentence", out = "sentence" }]
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
name = "Sink"
kind = "sink"
inputs = ["Regroup"]
fields = ["word", "sum"]
`,
		"manifest.jsonl": `{"id":1,"sentence":"a bb ccc"}
{"id":2,"sentence":""}
{"id":3,"sentence":"dd"}
`,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in, err := LoadItems(filepath.Join(dir, "workflow.toml"), filepath.Join(dir, "manifest.jsonl"), 0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Measure(in, Options{Host: "h", Batches: []int{1, 4}, Repeats: 2, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	var lat []string
	for _, l := range res.Latencies {
		lat = append(lat, fmt.Sprintf("%s/%s/%d", l.Stage, l.Variant, l.Batch))
		if !(l.Stats.Median > 0) || !(l.Runner.Median > 0) {
			t.Errorf("%s %s batch %d: op %+v, runner %+v", l.Stage, l.Variant, l.Batch, l.Stats, l.Runner)
		}
	}
	// Regroup's batch is the sub-items per call, as the runner calls it; its cost is per parent.
	if got, want := strings.Join(lat, " "), "Words/v1/1 Words/v1/4 Regroup/default/1 Regroup/default/4"; got != want {
		t.Errorf("latencies %s, want %s", got, want)
	}
	// Words makes the sub-items itself, so every node receives one item (Regroup: one parent) per sentence.
	var ratios []string
	for _, r := range res.Ratios {
		ratios = append(ratios, fmt.Sprintf("%s→%s=%g", r.From, r.To, r.Ratio))
	}
	if got := strings.Join(ratios, " "); got != "ReadText→Words=1 Words→Regroup=1" {
		t.Errorf("ratios %s", got)
	}
	sizes := map[string]float64{}
	for _, m := range res.Messages {
		sizes[m.From+"→"+m.To] = m.RawKB * 1024
	}
	// Words emits 5 messages' worth of items: 4 words (1-3 bytes and a float) and 1 empty placeholder.
	if len(sizes) != 2 || !(sizes["ReadText→Words"] > 4) || !(sizes["Words→Regroup"] > 0) || sizes["Words→Regroup"] > 4+2+FramingKB*1024 {
		t.Errorf("message bytes per item %v", sizes)
	}
	tr, err := RunTrace(in, nil, flowEnv())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	out := tr.Emitted[in.Workflow.Index("Regroup")]
	if len(out) != 3 {
		t.Fatalf("Regroup emitted %d items, want the 3 parents", len(out))
	}
	sum, _ := out[0].Tensor("sum")
	v, _ := floats(sum.Data)
	if fmt.Sprint(v) != "[97 196 297]" { // 'a', 'b'+'b', 'c'×3
		t.Errorf("sums of item 1's words %v", v)
	}
}
