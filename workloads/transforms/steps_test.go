package transforms

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"jellybean/collective"
	"jellybean/job/flow"
)

func build(t *testing.T, op string, p flow.Params, dir string) (flow.Step, flow.Signature, error) {
	t.Helper()
	f, ok := flow.Lookup(op)
	if !ok {
		t.Fatalf("%s is not registered", op)
	}
	return f(p, flow.Env{Dir: dir})
}

func TestStepParametersAreChecked(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "words.txt"), []byte("<pad>\n<unk>\nred\n"), 0o644)
	tests := []struct {
		op   string
		p    flow.Params
		want string
	}{
		{"image_file", flow.Params{"field": "image", "out": "x", "colour": "rgb"}, "unknown parameter(s): colour"},
		{"image_file", flow.Params{"field": "image"}, "out: missing"},
		{"image_file", flow.Params{"field": "image", "out": "x", "std": []any{0.0}}, "must be > 0"},
		{"image_file", flow.Params{"field": "image", "out": "x", "mean": []any{0.1, 0.2}}, "give one value or three"},
		{"audio_file", flow.Params{"field": "a", "out": "x", "sample_rate": int64(8000)}, "sample_rate = 8000"},
		{"tokenize", flow.Params{"in": "q", "out": "t", "vocab": "words.txt", "length": int64(0)}, "length = 0"},
		{"tokenize", flow.Params{"in": "q", "out": "t", "vocab": "none.txt", "length": int64(4)}, "vocab:"},
		{"tokenize", flow.Params{"in": "q", "out": "t", "vocab": "words.txt", "length": int64(4), "pad": "<p>"}, `pad = "<p>": not in vocab`},
		{"tensor_field", flow.Params{"field": "v", "out": "x", "dtype": "float64"}, `dtype = "float64"`},
		{"tensor_field", flow.Params{"field": "v", "out": "x", "dtype": "int64", "shape": []any{int64(-1), int64(-1)}}, "at most one -1"},
		{"ctc_greedy", flow.Params{"in": "s", "out": "t", "charset": "words.txt", "blank": int64(-1)}, "must be >= 0"},
	}
	for _, tc := range tests {
		_, _, err := build(t, tc.op, tc.p, dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: error %v, want %q", tc.op, tc.p, err, tc.want)
		}
	}
}

func TestTokenizeDecodeAndSplit(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "words.txt"), []byte("<pad>\n<unk>\nwhat\ncolor\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "chars.txt"), []byte("a\nb\n"), 0o644)
	tok, sig, err := build(t, "tokenize", flow.Params{"in": "q", "out": "t", "vocab": "words.txt", "length": int64(4)}, dir)
	if err != nil || sig.Writes[0].Rank != 1 {
		t.Fatal(err)
	}
	it := &flow.Item{ID: 1, Tensors: []collective.Tensor{flow.Text("q", "What COLOR, is it?")}}
	if _, err := tok.Process([]*flow.Item{it}); err != nil {
		t.Fatal(err)
	}
	got, _ := flow.Int64s(func() collective.Tensor { x, _ := it.Tensor("t"); return x }())
	if !reflect.DeepEqual(got, []int64{2, 3, 1, 1}) {
		t.Fatalf("tokens %v", got)
	}
	// CTC: classes 0 blank, 1 "a", 2 "b", 3 " " (extra); frames a a blank a b b, and a padded frame.
	ctc, _, err := build(t, "ctc_greedy", flow.Params{"in": "s", "out": "t", "charset": "chars.txt", "first_class": int64(1),
		"extra": []any{" "}, "lengths": "n"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	best := []int{1, 1, 0, 1, 2, 2, 3}
	scores := make([]float32, 7*4)
	for f, c := range best {
		scores[f*4+c] = 1
	}
	it = &flow.Item{ID: 2, Tensors: []collective.Tensor{collective.FromFloat32s("s", []int64{7, 4}, scores),
		collective.FromInt64s("n", nil, []int64{6})}}
	if _, err := ctc.Process([]*flow.Item{it}); err != nil {
		t.Fatal(err)
	}
	if text, _ := flow.TextOf(it, "t"); text != "aab" {
		t.Fatalf("decoded %q, want aab (the padded frame ignored)", text)
	}
	split, sig, err := build(t, "split_text", flow.Params{"in": "t", "out": "w"}, dir)
	if err != nil || !sig.FanOut {
		t.Fatal(err)
	}
	out, err := split.Process([]*flow.Item{{ID: 3, Tensors: []collective.Tensor{flow.Text("t", " x  yz ")}}, {ID: 4, Tensors: []collective.Tensor{flow.Text("t", "")}}})
	if err != nil || len(out) != 3 {
		t.Fatalf("%d sub-items, %v", len(out), err)
	}
	if w, _ := flow.TextOf(out[1], "w"); w != "yz" || out[1].SubN[0] != 2 || !out[2].Placeholder() {
		t.Fatalf("sub-items %+v", out)
	}
}
