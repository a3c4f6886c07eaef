package hooks

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"jellybean/plan/workflow"
	"jellybean/workloads/ocr/dataset"
	"jellybean/workloads/registry"
)

func itoa(n int) string { return strconv.Itoa(n) }

func loadWorkflow(path string) (*workflow.Workflow, error) { return workflow.Load(path) }

func TestSplitSeed(t *testing.T) {
	want := map[string]int64{"test": 1, "seed2": 2, "dev": 3}
	for split, seed := range want {
		got, err := SplitSeed(split, 1)
		if err != nil || got != seed {
			t.Errorf("SplitSeed(%s, 1) = %d, %v; want %d", split, got, err, seed)
		}
	}
	if got, _ := SplitSeed("test", 2); got != 4 {
		t.Errorf("SplitSeed(test, 2) = %d, want 4 (no overlap with --seed 1's splits)", got)
	}
	if _, err := SplitSeed("val", 1); err == nil || !strings.Contains(err.Error(), "val") {
		t.Errorf("unknown split: %v", err)
	}
}

// The shipped workflow's variants are what the README and the plan say: four detector sizes, two
// recogniser widths, and the settings the crop and DB steps fix.
func TestReadChoicesShipped(t *testing.T) {
	w, err := workflow.Load(filepath.Join("..", "workflow.toml"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ReadChoices(w)
	if err != nil {
		t.Fatal(err)
	}
	if c.DetNode != "Detect" || c.RecNode != "Recognise" {
		t.Fatalf("nodes %q, %q", c.DetNode, c.RecNode)
	}
	wantDet := map[string]int{"det480": 480, "det640": 640, "det960": 960, "det1280": 1280}
	if len(c.DetSizes) != len(wantDet) || strings.Join(c.DetOrder, ",") != "det480,det640,det960,det1280" {
		t.Fatalf("detector variants %v (%v)", c.DetSizes, c.DetOrder)
	}
	for v, s := range wantDet {
		if c.DetSizes[v] != s {
			t.Errorf("%s: size %d, want %d", v, c.DetSizes[v], s)
		}
	}
	if c.RecScales["rec-half"] != 0.5 || c.RecScales["rec-narrow"] != 0.7 || c.RecScales["rec-full"] != 1 || len(c.RecScales) != 3 {
		t.Errorf("recogniser variants %v", c.RecScales)
	}
	if c.Settings.CropPad != 0.15 || c.Settings.Piece != 320 || c.Settings.WordGap != 6 || c.Settings.DB.Unclip != 1.5 || c.Settings.WidthStep != 32 {
		t.Errorf("settings %+v", c.Settings)
	}
	if filepath.Base(c.ModelsDir) != "models" {
		t.Errorf("models folder %s", c.ModelsDir)
	}
}

func TestReadChoicesErrors(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "workflow.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		edits []string // pairs: from, to
		want  string
	}{
		"no size":      {[]string{"size = 960\n", "\n", `, params = { size = 480 }`, ""}, `variant "det480": no detector size`},
		"size not num": {[]string{"params = { size = 480 }", `params = { size = "big" }`}, "not a number"},
		"other model":  {[]string{"models/ch_PP-OCRv4_rec_infer.onnx\", params = { width_scale = 0.7 }", "models/other.onnx\", params = { width_scale = 0.7 }"}, "other.onnx"},
		"no rec node":  {[]string{"op = \"ocr_rec_preprocess\"", "op = \"ocr_cls_preprocess\""}, "no recogniser node"},
		"no det node":  {[]string{"op = \"ocr_detect_preprocess\"", "op = \"ocr_page\""}, "no detector node"},
	} {
		t.Run(name, func(t *testing.T) {
			s := string(src)
			for i := 0; i < len(c.edits); i += 2 {
				if !strings.Contains(s, c.edits[i]) {
					t.Fatalf("workflow.toml lacks %q", c.edits[i])
				}
				s = strings.Replace(s, c.edits[i], c.edits[i+1], 1)
			}
			// Parse only the structure: ReadChoices needs nodes, steps and variants, not a valid graph.
			w, err := workflow.Parse("edited.toml", []byte(s))
			if err != nil {
				t.Skipf("the edit makes the file unparsable before ReadChoices: %v", err)
			}
			_, err = ReadChoices(w)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestGenDataSkipsCompleteSplit(t *testing.T) {
	out := t.TempDir()
	var log strings.Builder
	o := registry.GenOptions{Out: out, Split: "dev", N: 1, Seed: 1, Log: &log}
	if err := genData(o); err != nil {
		t.Fatal(err)
	}
	pages, err := dataset.LoadManifest(filepath.Join(out, "dev", dataset.ManifestName))
	if err != nil || len(pages) != 1 {
		t.Fatalf("manifest: %d pages, %v", len(pages), err)
	}
	if err := genData(o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "nothing to do") {
		t.Errorf("second run regenerated: %s", log.String())
	}
	o.N = 2
	if err := genData(o); err != nil {
		t.Fatal(err)
	}
	if pages, _ := dataset.LoadManifest(filepath.Join(out, "dev", dataset.ManifestName)); len(pages) != 2 {
		t.Errorf("after -n 2: %d pages", len(pages))
	}
	o.Split = "val"
	if err := genData(o); err == nil || !strings.Contains(err.Error(), "val") {
		t.Errorf("unknown split: %v", err)
	}
}

// Evaluate scores results.jsonl against the plan's manifest: a perfect page, a page read with one
// wrong word and a line missed, and a page with no result (limit 3 of a 4-page manifest).
func TestEvaluate(t *testing.T) {
	dir := t.TempDir()
	man := []dataset.Page{
		{ID: 0, Kind: "receipt", Lines: []dataset.Line{{Text: "Total 3.50", Box: [4]int{10, 10, 100, 30}}}},
		{ID: 1, Kind: "form", Lines: []dataset.Line{{Text: "Name Alice Smith", Box: [4]int{10, 10, 200, 30}}, {Text: "Date 2024-01-02", Box: [4]int{10, 50, 200, 70}}}},
		{ID: 2, Kind: "paragraphs", Lines: []dataset.Line{{Text: "Hello", Box: [4]int{0, 0, 50, 20}}}},
		{ID: 3, Kind: "paragraphs", Lines: []dataset.Line{{Text: "Beyond the limit", Box: [4]int{0, 0, 50, 20}}}},
	}
	var mb strings.Builder
	for _, p := range man {
		line, _ := json.Marshal(p)
		mb.Write(append(line, '\n'))
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.jsonl"), []byte(mb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	planText := `job = "t"
workflow = "workflow.toml"
dataset = "manifest.jsonl"
limit = 3
[[stage]]
name = "Detect"
variant = "det640"
[[stage.worker]]
host = "localhost"
`
	if err := os.WriteFile(filepath.Join(run, "plan.toml"), []byte(planText), 0o644); err != nil {
		t.Fatal(err)
	}
	results := `{"id":0,"page_text":"Total 3.50","line_texts":["Total 3.50"],"line_boxes":[[10,10,100,30]]}
{"id":1,"page_text":"Name Alice Smyth","line_texts":["Name Alice Smyth"],"line_boxes":[[10,10,200,30]]}
`
	if err := os.WriteFile(filepath.Join(run, "results.jsonl"), []byte(results), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Evaluate(dir, run)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Items != 2 || rep.Missing != 1 || len(rep.Pages) != 3 || !rep.Pages[2].Missing {
		t.Fatalf("items %d, missing %d, pages %+v", rep.Items, rep.Missing, rep.Pages)
	}
	// Words: page 0 2/2, page 1 2/5 ("Smith" misread, "Date 2024-01-02" unread), page 2 0/1 → 4/8.
	if got := rep.Values["word_accuracy"]; got != 50 || rep.Accuracy != got || rep.AccuracyMetric != "word_accuracy" {
		t.Errorf("word accuracy %v (accuracy %v, metric %q), want 50", got, rep.Accuracy, rep.AccuracyMetric)
	}
	// Lines: 1 + 1 of 4 true lines found.
	if got := rep.Values["line_recall"]; got != 50 {
		t.Errorf("line recall %v, want 50", got)
	}
	if rep.Pages[0].CER != 0 || rep.Pages[0].WordAccuracy != 100 || rep.Pages[1].LineRecall != 50 {
		t.Errorf("per page %+v", rep.Pages)
	}
	if rep.Variants["Detect"] != "det640" {
		t.Errorf("variants %v", rep.Variants)
	}
	ev, err := eval(dir, run)
	if err != nil {
		t.Fatal(err)
	}
	if err := registry.WriteEval(run, ev); err != nil {
		t.Fatal(err)
	}
	// A result for a page outside the manifest is an error naming the file.
	if err := os.WriteFile(filepath.Join(run, "results.jsonl"), []byte(`{"id":9,"page_text":"","line_texts":[],"line_boxes":[]}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Evaluate(dir, run); err == nil || !strings.Contains(err.Error(), "results.jsonl") {
		t.Errorf("stray result: %v", err)
	}
}

func TestRegistered(t *testing.T) {
	wl, err := registry.Lookup(Name)
	if err != nil {
		t.Fatal(err)
	}
	w, err := workflow.Load(filepath.Join("..", "..", "..", wl.Workflow))
	if err != nil {
		t.Fatal(err)
	}
	if w.Name != Name {
		t.Errorf("workflow name %q, want %q", w.Name, Name)
	}
	if strings.Join(wl.Splits, ",") != "test,seed2,dev" || wl.GenData == nil || wl.Eval == nil || wl.ProfileAccuracy == nil {
		t.Errorf("registration %+v", wl)
	}
}
