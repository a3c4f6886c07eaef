package profile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jellybean/job/flow"
)

// The rate ratios counted over more items than the trace: a fan-out (split_text) runs on every counted
// item, the map nodes after it (tokenize, and a join after the fan-in) and the fan-in do not run but hand on
// what they would (the fan-in one parent per family), and the
// ratios are those of all the counted items, not of the traced ones. Go alone: no model in the workflow.
func TestCountReceivedOverMoreItems(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"workflow.toml": `name = "words"
[[node]]
name = "ReadText"
kind = "source"
step = [{ op = "text_field", field = "sentence", out = "sentence" }]
[[node]]
name = "Split"
inputs = ["ReadText"]
step = [{ op = "split_text", in = "sentence", out = "word" }]
emit = ["word"]
[[node]]
name = "Tokens"
inputs = ["Split"]
step = [{ op = "tokenize", in = "word", out = "token", vocab = "vocab.txt", length = 1 }]
emit = ["token"]
[[node]]
name = "Regroup"
inputs = ["Tokens"]
fan_in = ["token"]
emit = ["token"]
[[node]]
name = "Whole"
inputs = ["Regroup", "ReadText"]
step = [{ op = "tokenize", in = "sentence", out = "first", vocab = "vocab.txt", length = 1 }]
emit = ["token", "first"]
[[node]]
name = "Sink"
kind = "sink"
inputs = ["Whole"]
fields = ["token"]
`,
		"vocab.txt": "<pad>\n<unk>\na\nbb\n",
		// The first two sentences (traced) have 2 words each; the five counted have 2+2+6+0+5 = 15.
		"manifest.jsonl": `{"id":1,"sentence":"a bb"}
{"id":2,"sentence":"bb a"}
{"id":3,"sentence":"a a a a a a"}
{"id":4,"sentence":""}
{"id":5,"sentence":"x y z w v"}
`,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in, err := LoadItems(filepath.Join(dir, "workflow.toml"), filepath.Join(dir, "manifest.jsonl"), 2)
	if err != nil {
		t.Fatal(err)
	}
	env := flow.Env{Device: "cpu", Threads: 1, BatchSize: 2}
	tr, err := RunTrace(in, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	ratios := func(received map[int][]*flow.Item) string {
		var s []string
		for _, r := range appendRatios(nil, tr, received, nil) {
			s = append(s, fmt.Sprintf("%s→%s=%g", r.From, r.To, r.Ratio))
		}
		return strings.Join(s, " ")
	}
	if got, want := ratios(tr.Received), "ReadText→Split=1 Split→Tokens=2 Tokens→Regroup=0.5 Regroup→Whole=1 ReadText→Whole=1"; got != want {
		t.Errorf("traced ratios %s, want %s", got, want)
	}
	ids := in.Manifest.IDs
	received, err := countReceived(in, ids, nil, env, tr)
	if err != nil {
		t.Fatal(err)
	}
	w := in.Workflow
	// An empty sentence makes one placeholder sub-item, so Tokens receives 15 + 1 and Regroup 5 parents.
	if n := len(received[w.Index("Tokens")]); n != 16 {
		t.Errorf("Tokens receives %d sub-items, want 16", n)
	}
	if got, want := ratios(received), "ReadText→Split=1 Split→Tokens=3.2 Tokens→Regroup=0.3125 Regroup→Whole=1 ReadText→Whole=1"; got != want {
		t.Errorf("counted ratios %s, want %s", got, want)
	}
	// Through Measure: CountIDs longer than IDs give the counted ratios.
	in.CountIDs = ids
	res, err := Measure(in, Options{Host: "h", Batches: []int{2}, Repeats: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res.Ratios {
		got = append(got, fmt.Sprintf("%s→%s=%g", r.From, r.To, r.Ratio))
	}
	if strings.Join(got, " ") != "ReadText→Split=1 Split→Tokens=3.2 Tokens→Regroup=0.3125 Regroup→Whole=1 ReadText→Whole=1" {
		t.Errorf("Measure's ratios %v", got)
	}
}

// A workflow whose nodes all keep the number of items is counted without running anything.
func TestSameKeys(t *testing.T) {
	a := []*flow.Item{{ID: 1}, {ID: 2, Sub: []int32{0}, SubN: []int32{2}}}
	b := []*flow.Item{{ID: 2, Sub: []int32{0}, SubN: []int32{2}}, {ID: 1}}
	if !sameKeys(a, b) || sameKeys(a, b[:1]) || sameKeys(a, []*flow.Item{{ID: 1}, {ID: 2}}) {
		t.Error("sameKeys: want equal key sets only")
	}
}
