package vqa

import (
	"jellybean/workloads/transforms"

	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Model kinds in models.json.
const (
	KindImage = "image"
	KindASR   = "asr"
	KindVQA   = "vqa"
)

// ModelInfo describes one shipped ONNX model (an entry of models.json).
type ModelInfo struct {
	Kind         string   `json:"kind"`    // "image" | "asr" | "vqa"
	Variant      string   `json:"variant"` // e.g. "res64", "ctc-large"; a vqa model shares its image variant's name
	File         string   `json:"file"`    // relative to the models directory
	Inputs       []string `json:"inputs"`
	Outputs      []string `json:"outputs"`
	ImageVariant string   `json:"image_variant,omitempty"` // vqa only: the image variant whose features it reads
	Params       int64    `json:"params"`
	Bytes        int64    `json:"bytes"`
	Resolution   int      `json:"resolution,omitempty"` // image only: resolution the graph works at
	Channels     int      `json:"channels,omitempty"`   // asr only
	TrainSeconds float64  `json:"train_seconds"`
	ValAccuracy  float64  `json:"val_accuracy_text,omitempty"` // vqa: validation accuracy on text questions
	ValWER       float64  `json:"val_wer,omitempty"`           // asr: validation WER (held-out voices)
	Widths       []int    `json:"widths,omitempty"`
	Blocks       int      `json:"blocks,omitempty"`
}

// ModelsFile is the layout of models.json.
type ModelsFile struct {
	Comment     string            `json:"comment"`
	Conventions map[string]string `json:"conventions"`
	ImageSize   int               `json:"image_size"`
	SampleRate  int               `json:"sample_rate"`
	Features    int               `json:"features"`
	QuestionLen int               `json:"question_len"`
	Models      []ModelInfo       `json:"models"`
}

// DefaultModelsDir is where the shipped models live, relative to the repository root.
const DefaultModelsDir = "workloads/vqa/models"

// LoadModels reads dir/models.json and checks it: known kinds, the I/O names of the conventions, files
// that exist, one vqa model per image variant, and no duplicate (kind, variant).
func LoadModels(dir string) ([]ModelInfo, error) {
	path := filepath.Join(dir, "models.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var mf ModelsFile
	if err := json.Unmarshal(data, &mf); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if mf.QuestionLen != QuestionLen {
		return nil, fmt.Errorf("%s: question_len %d, this build tokenises to %d", path, mf.QuestionLen, QuestionLen)
	}
	want := map[string][2][]string{
		KindImage: {{"image"}, {"features"}},
		KindASR:   {{"audio", "lengths"}, {"logits", "out_lengths"}},
		KindVQA:   {{"features", "question"}, {"scores"}},
	}
	seen := map[[2]string]bool{}
	for i, m := range mf.Models {
		w, ok := want[m.Kind]
		if !ok {
			return nil, fmt.Errorf("%s: models[%d]: kind %q (want image, asr or vqa)", path, i, m.Kind)
		}
		if m.Variant == "" || m.File == "" {
			return nil, fmt.Errorf("%s: models[%d]: variant and file are required", path, i)
		}
		if fmt.Sprint(m.Inputs) != fmt.Sprint(w[0]) || fmt.Sprint(m.Outputs) != fmt.Sprint(w[1]) {
			return nil, fmt.Errorf("%s: models[%d] (%s %s): inputs %v outputs %v, want %v %v", path, i, m.Kind, m.Variant, m.Inputs, m.Outputs, w[0], w[1])
		}
		if _, err := os.Stat(filepath.Join(dir, m.File)); err != nil {
			return nil, fmt.Errorf("%s: models[%d] (%s %s): %v", path, i, m.Kind, m.Variant, err)
		}
		key := [2]string{m.Kind, m.Variant}
		if seen[key] {
			return nil, fmt.Errorf("%s: models[%d]: duplicate %s variant %q", path, i, m.Kind, m.Variant)
		}
		seen[key] = true
	}
	for _, m := range mf.Models {
		if m.Kind == KindImage && !seen[[2]string{KindVQA, m.Variant}] {
			return nil, fmt.Errorf("%s: image variant %q has no vqa model", path, m.Variant)
		}
		if m.Kind == KindVQA && !seen[[2]string{KindImage, m.ImageVariant}] {
			return nil, fmt.Errorf("%s: vqa variant %q reads features of unknown image variant %q", path, m.Variant, m.ImageVariant)
		}
	}
	return mf.Models, nil
}

// FindModel returns the model of the given kind and variant.
func FindModel(models []ModelInfo, kind, variant string) (ModelInfo, error) {
	var names []string
	for _, m := range models {
		if m.Kind == kind {
			if m.Variant == variant {
				return m, nil
			}
			names = append(names, m.Variant)
		}
	}
	return ModelInfo{}, fmt.Errorf("no %s model variant %q (have %v)", kind, variant, names)
}

// SampleRate is the rate of the dataset's speech and of the recogniser's input.
const SampleRate = transforms.SampleRate
