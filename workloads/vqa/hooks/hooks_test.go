package hooks

import (
	"reflect"
	"testing"

	"jellybean/plan/workflow"
	"jellybean/workloads/registry"
	"jellybean/workloads/vqa"
	"jellybean/workloads/vqa/evaluate"
)

func TestRegistered(t *testing.T) {
	w, err := registry.Lookup(Name)
	if err != nil {
		t.Fatal(err)
	}
	if w.GenData == nil || w.Eval == nil || w.ProfileAccuracy == nil || len(w.Splits) != 3 {
		t.Errorf("workload %+v lacks a hook", w)
	}
	wf, err := workflow.Load("../" + "workflow.toml")
	if err != nil {
		t.Fatal(err)
	}
	if wf.Name != Name {
		t.Errorf("workflow.toml names %q, the workload registers as %q", wf.Name, Name)
	}
}

// The accuracy profile's (image, speech) pairs become variants of the workflow's model nodes, found by
// the model files their variants name: the VQA head runs the image variant.
func TestCombosFollowTheWorkflow(t *testing.T) {
	wf, err := workflow.Load("../workflow.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir, nodeOf, err := modelNodes(wf)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{vqa.KindImage: "ImageFeatures", vqa.KindASR: "SpeechRecognition", vqa.KindVQA: "VQA"}
	if !reflect.DeepEqual(nodeOf, want) || dir != "../models" {
		t.Fatalf("models in %s, nodes %v; want ../models, %v", dir, nodeOf, want)
	}
	p := &evaluate.Profile{Items: 5, Combinations: []evaluate.Combination{{Image: "res32", Speech: "ctc-small", VQAAccuracy: 81.5},
		{Image: "res128", Speech: "ctc-small", VQAAccuracy: 99}}} // res128: not a variant of the workflow
	acc := Combos(p, nodeOf, wf)
	if acc.Items != 5 || acc.Metric != "vqa_accuracy" || len(acc.Combos) != 1 || acc.Combos[0].Accuracy != 81.5 ||
		!reflect.DeepEqual(acc.Combos[0].Variants, map[string]string{"ImageFeatures": "res32", "SpeechRecognition": "ctc-small", "VQA": "res32"}) {
		t.Errorf("combos %+v", acc)
	}
	// A workflow whose model node runs a file models.json does not list is refused, naming the kind.
	wf.Nodes[wf.Index("VQA")].Model.Variants = []workflow.Variant{{Name: "res16", File: "models/image_res16.onnx"}}
	if _, _, err := modelNodes(wf); err == nil {
		t.Error("a workflow without VQA heads accepted")
	}
}
