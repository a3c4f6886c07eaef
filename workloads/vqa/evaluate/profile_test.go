package evaluate

import (
	"encoding/json"
	"testing"

	"jellybean/job/onnx"
	"jellybean/workloads/vqa"
	"jellybean/workloads/vqa/dataset"
)

// TestRunProfile profiles the shipped models on a small freshly generated split (real espeak-ng, sox and
// ONNX Runtime) and checks the shape and internal consistency of both outputs.
func TestRunProfile(t *testing.T) {
	if testing.Short() {
		t.Skip("needs ONNX Runtime, espeak-ng and sox")
	}
	if _, err := onnx.Init(); err != nil {
		t.Fatalf("ONNX Runtime is required: %v", err)
	}
	spec := dataset.Spec{Out: t.TempDir(), Split: "val", N: 24, Seed: 5}
	if err := dataset.Generate(spec, nil); err != nil {
		t.Fatal(err)
	}
	p, err := RunProfile(ProfileOptions{ModelsDir: "../models", Manifest: spec.ManifestPath(), Threads: 1, Batch: 5})
	if err != nil {
		t.Fatal(err)
	}
	models, err := vqa.LoadModels("../models")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, m := range models {
		kinds[m.Kind]++
	}
	if len(p.Image) != kinds[vqa.KindImage] || len(p.Speech) != kinds[vqa.KindASR] || len(p.Combinations) != kinds[vqa.KindImage]*kinds[vqa.KindASR] {
		t.Fatalf("profile has %d image, %d speech, %d combinations for models %v", len(p.Image), len(p.Speech), len(p.Combinations), kinds)
	}
	if p.Items != 24 {
		t.Errorf("items %d, want 24", p.Items)
	}
	for _, f := range append(append([]VariantFigure{}, p.Image...), p.Speech...) {
		if f.LatencyB1Ms <= 0 || f.LatencyB8Ms <= 0 {
			t.Errorf("%s: latencies %v / %v", f.Variant, f.LatencyB1Ms, f.LatencyB8Ms)
		}
	}
	for _, c := range p.Combinations {
		if c.VQAAccuracy < 0 || c.VQAAccuracy > 100 || len(c.ByType) == 0 {
			t.Errorf("combination %+v", c)
		}
	}
	b, err := json.Marshal(p.OriginalFormat())
	if err != nil {
		t.Fatal(err)
	}
	var orig struct {
		EndToEnd struct {
			Operators []string `json:"operators"`
			Accuracy  []struct {
				Variants []string `json:"variants"`
				Accuracy float64  `json:"accuracy"`
			} `json:"accuracy"`
		} `json:"end_to_end_profile"`
		PerOp []struct {
			OpName  string             `json:"op_name"`
			Inputs  []string           `json:"inputs"`
			Cost    map[string]float64 `json:"cost"`
			Samples map[string][]struct {
				InputsAcc []float64 `json:"inputs_acc"`
				OutputAcc float64   `json:"output_acc"`
			} `json:"samples"`
		} `json:"per_operator_profiles"`
	}
	if err := json.Unmarshal(b, &orig); err != nil {
		t.Fatal(err)
	}
	if len(orig.EndToEnd.Accuracy) != len(p.Combinations) || len(orig.EndToEnd.Operators) != 2 || len(orig.PerOp) != 3 {
		t.Fatalf("original format: %s", b)
	}
	for i, e := range orig.EndToEnd.Accuracy {
		c := p.Combinations[i]
		if e.Variants[0] != c.Image || e.Variants[1] != c.Speech || e.Accuracy != c.VQAAccuracy {
			t.Errorf("end-to-end entry %d = %+v, profile %+v", i, e, c)
		}
	}
	vqaOp := orig.PerOp[0]
	if vqaOp.OpName != OpVQA || len(vqaOp.Samples["default"]) != len(p.Combinations) {
		t.Errorf("VQA operator: %+v", vqaOp)
	}
	for _, s := range vqaOp.Samples["default"] {
		if len(s.InputsAcc) != 2 || s.InputsAcc[1] > 0 { // speech accuracy is -WER
			t.Errorf("VQA sample %+v", s)
		}
	}
}
