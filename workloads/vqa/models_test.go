package vqa

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadModelsErrors(t *testing.T) {
	img := `{"kind":"image","variant":"a","file":"a.onnx","inputs":["image"],"outputs":["features"]}`
	head := `{"kind":"vqa","variant":"a","file":"a.onnx","inputs":["features","question"],"outputs":["scores"],"image_variant":"a"}`
	asr := `{"kind":"asr","variant":"s","file":"a.onnx","inputs":["audio","lengths"],"outputs":["logits","out_lengths"]}`
	orphan := strings.NewReplacer(`"variant":"a"`, `"variant":"b"`, `"image_variant":"a"`, `"image_variant":"z"`).Replace(head)
	doc := func(ql string, models ...string) string {
		return `{"question_len":` + ql + `,"models":[` + strings.Join(models, ",") + `]}`
	}
	for _, c := range []struct{ name, json, want string }{
		{"good", doc("8", img, head, asr), ""},
		{"bad json", `{"models":[`, "models.json:"},
		{"question length", doc("9", img, head), "question_len 9"},
		{"unknown kind", doc("8", strings.Replace(img, `"image"`, `"picture"`, 1), head), `models[0]: kind "picture"`},
		{"wrong inputs", doc("8", img, head, strings.Replace(asr, `"lengths"`, `"len"`, 1)), "models[2] (asr s): inputs"},
		{"missing file", doc("8", img, strings.Replace(head, "a.onnx", "b.onnx", 1)), "models[1] (vqa a):"},
		{"duplicate", doc("8", img, head, img), `duplicate image variant "a"`},
		{"image without head", doc("8", img), `image variant "a" has no vqa model`},
		{"head of unknown image", doc("8", img, head, orphan), `unknown image variant "z"`},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "a.onnx"), []byte("x"), 0o644)
		os.WriteFile(filepath.Join(dir, "models.json"), []byte(c.json), 0o644)
		models, err := LoadModels(dir)
		if c.want == "" {
			if err != nil || len(models) != 3 {
				t.Errorf("%s: %v (%d models)", c.name, err, len(models))
			}
			if _, err := FindModel(models, KindASR, "s"); err != nil {
				t.Errorf("FindModel: %v", err)
			}
			if _, err := FindModel(models, KindASR, "x"); err == nil || !strings.Contains(err.Error(), "[s]") {
				t.Errorf("FindModel of a missing variant: %v", err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}
