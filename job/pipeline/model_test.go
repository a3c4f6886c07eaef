package pipeline

import (
	"strings"
	"testing"

	"jellybean/job/onnx"
)

const shippedModels = "../../workloads/vqa/models/"

// A plan's variant is recorded in every result, so a name that is not the model file's variant in
// models.json, or a model of the wrong kind for the stage, must stop the rank before it runs.
func TestModelChecks(t *testing.T) {
	if _, err := onnx.Init(); err != nil {
		t.Fatalf("ONNX Runtime is required: %v", err)
	}
	if err := checkVariant(shippedModels+"image_res64.onnx", "image", "res64"); err != nil {
		t.Errorf("the shipped res64: %v", err)
	}
	for _, c := range []struct{ file, kind, variant, want string }{
		{"image_res64.onnx", "image", "res999", `no image model variant "res999"`},
		{"image_res64.onnx", "image", "res16", "that variant is image_res16.onnx, not image_res64.onnx"},
		{"asr_ctc-large.onnx", "image", "ctc-large", `no image model variant "ctc-large"`},
	} {
		err := checkVariant(shippedModels+c.file, c.kind, c.variant)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "models.json") {
			t.Errorf("%s as %s %q: error %v, want one naming models.json and %q", c.file, c.kind, c.variant, err, c.want)
		}
	}
	if err := checkIONames(shippedModels+"asr_ctc-large.onnx", []string{"audio", "lengths"}, []string{"logits", "out_lengths"}); err != nil {
		t.Errorf("the shipped ctc-large: %v", err)
	}
	err := checkIONames(shippedModels+"image_res64.onnx", []string{"audio", "lengths"}, []string{"logits", "out_lengths"})
	if err == nil || !strings.Contains(err.Error(), "image_res64.onnx has inputs [image]") {
		t.Errorf("an image model on a speech stage: error %v", err)
	}
	err = checkIONames(shippedModels+"image_res64.onnx", []string{"image"}, []string{"scores"})
	if err == nil || !strings.Contains(err.Error(), "has outputs [features]") {
		t.Errorf("wrong outputs: error %v", err)
	}
}
