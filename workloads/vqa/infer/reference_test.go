package infer

// These tests compare the Go pre-processing and ONNX Runtime outputs with what PyTorch computed during
// training on the same fixture files (testdata/reference.json, written by recipe/train.py --part finish).
// Tolerances: image tensor 1e-6 and WAV samples 1e-7 (same arithmetic); model outputs |go - torch| <=
// 1e-4 + 1e-4*|torch| (float32 kernels differ between PyTorch and ONNX Runtime); decoded text and answers
// must be identical.

import (
	"encoding/json"
	"jellybean/workloads/transforms"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"jellybean/job/onnx"
	"jellybean/workloads/vqa"
)

const (
	vqaDir    = ".."
	modelsDir = "../models"
)

type reference struct {
	Items []struct {
		ID          int64     `json:"id"`
		Image       string    `json:"image"`
		Audio       string    `json:"audio"`
		Question    string    `json:"question"`
		Answer      string    `json:"answer"`
		ImageTensor []float32 `json:"image_tensor"`
		Samples     int       `json:"samples"`
		SamplesHead []float32 `json:"samples_head"`
		SamplesSum  float64   `json:"samples_sum"`
	} `json:"items"`
	Tokens map[string][]int64 `json:"tokens"`
	Image  map[string]struct {
		Features []float32 `json:"features"`
		Scores   []float32 `json:"scores"`
		Answers  []string  `json:"answers"`
	} `json:"image"`
	ASR map[string][]struct {
		Frames  int       `json:"frames"`
		Classes int       `json:"classes"`
		Logits  []float32 `json:"logits"`
	} `json:"asr"`
}

func loadReference(t *testing.T) *reference {
	t.Helper()
	path := filepath.Join(vqaDir, "testdata", "reference.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reference outputs missing (written by recipe/train.py --part finish): %v", err)
	}
	var r reference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(r.Items) == 0 || len(r.Image) == 0 || len(r.ASR) == 0 {
		t.Fatalf("%s: incomplete reference (%d items, %d image, %d asr variants)", path, len(r.Items), len(r.Image), len(r.ASR))
	}
	return &r
}

func initORT(t *testing.T) {
	t.Helper()
	if _, err := onnx.Init(); err != nil {
		t.Fatalf("ONNX Runtime is required for this test: %v", err)
	}
}

func assertClose(t *testing.T, what string, got, want []float32, abs, rel float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	worst, at, maxDiff := 0.0, -1, 0.0
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		maxDiff = max(maxDiff, d)
		if d > abs+rel*math.Abs(float64(want[i])) && d > worst {
			worst, at = d, i
		}
	}
	t.Logf("%s: max |diff| %.3g over %d values", what, maxDiff, len(got))
	if at >= 0 {
		t.Errorf("%s: value %d = %v, want %v (|diff| %.3g over tolerance)", what, at, got[at], want[at], worst)
	}
}

func TestPreprocessingMatchesRecipe(t *testing.T) {
	r := loadReference(t)
	for _, it := range r.Items {
		img, shape, err := vqa.LoadImage(filepath.Join(vqaDir, "testdata", it.Image))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(shape, []int64{3, 64, 64}) {
			t.Errorf("item %d: image shape %v", it.ID, shape)
		}
		assertClose(t, "image tensor", img, it.ImageTensor, 1e-6, 0)
		wav, err := transforms.LoadWAV(filepath.Join(vqaDir, "testdata", it.Audio))
		if err != nil {
			t.Fatal(err)
		}
		if len(wav) != it.Samples {
			t.Errorf("item %d: %d samples, want %d", it.ID, len(wav), it.Samples)
		}
		assertClose(t, "wav samples", wav[:len(it.SamplesHead)], it.SamplesHead, 1e-7, 0)
		sum := 0.0
		for _, s := range wav {
			sum += float64(s)
		}
		if math.Abs(sum-it.SamplesSum) > 1e-3 {
			t.Errorf("item %d: sample sum %v, want %v", it.ID, sum, it.SamplesSum)
		}
	}
	for q, want := range r.Tokens {
		if got := vqa.Tokenize(q); !reflect.DeepEqual(got, want) {
			t.Errorf("Tokenize(%q) = %v, recipe %v", q, got, want)
		}
	}
}

func TestModelsMatchRecipe(t *testing.T) {
	r := loadReference(t)
	initORT(t)
	models, err := vqa.LoadModels(modelsDir)
	if err != nil {
		t.Fatal(err)
	}
	var images, audio [][]float32
	var questions [][]int64
	for _, it := range r.Items {
		img, _, err := vqa.LoadImage(filepath.Join(vqaDir, "testdata", it.Image))
		if err != nil {
			t.Fatal(err)
		}
		wav, err := transforms.LoadWAV(filepath.Join(vqaDir, "testdata", it.Audio))
		if err != nil {
			t.Fatal(err)
		}
		images, audio = append(images, img), append(audio, wav)
		questions = append(questions, vqa.Tokenize(it.Question))
	}
	for variant, ref := range r.Image {
		info, err := vqa.FindModel(models, vqa.KindImage, variant)
		if err != nil {
			t.Fatal(err)
		}
		hinfo, err := vqa.FindModel(models, vqa.KindVQA, variant)
		if err != nil {
			t.Fatal(err)
		}
		img, head := open(t, info), open(t, hinfo)
		feats, err := img.Features(images, 64, 64)
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, variant+" features", flatten(feats), ref.Features, 1e-4, 1e-4)
		scores, err := head.Answer(feats, questions)
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, variant+" scores", flatten(scores), ref.Scores, 1e-4, 1e-4)
		for i, s := range scores {
			if got := vqa.AnswerFromScores(s); got != ref.Answers[i] {
				t.Errorf("%s item %d: answer %q, recipe %q", variant, r.Items[i].ID, got, ref.Answers[i])
			}
		}
	}
	for variant, refs := range r.ASR {
		info, err := vqa.FindModel(models, vqa.KindASR, variant)
		if err != nil {
			t.Fatal(err)
		}
		m := open(t, info)
		batched, err := m.Recognize(audio)
		if err != nil {
			t.Fatal(err)
		}
		for i, ref := range refs {
			single, err := m.Recognize(audio[i : i+1])
			if err != nil {
				t.Fatal(err)
			}
			s := single[0]
			if s.Frames != ref.Frames || s.Classes != ref.Classes {
				t.Fatalf("%s item %d: %dx%d logits, recipe %dx%d", variant, i, s.Frames, s.Classes, ref.Frames, ref.Classes)
			}
			assertClose(t, variant+" logits", s.Logits, ref.Logits, 1e-4, 1e-4)
			want := vqa.CTCGreedy(ref.Logits, ref.Frames, ref.Classes)
			if s.Text != want {
				t.Errorf("%s item %d: recognised %q, recipe logits decode to %q", variant, i, s.Text, want)
			}
			// zero-padding into a batch must not change an utterance's outputs
			if batched[i].Frames != s.Frames || batched[i].Text != s.Text {
				t.Errorf("%s item %d: batched %d frames %q, alone %d frames %q", variant, i, batched[i].Frames, batched[i].Text, s.Frames, s.Text)
			}
			assertClose(t, variant+" batched vs alone", batched[i].Logits, s.Logits, 1e-5, 1e-5)
		}
	}
}

func TestShippedModels(t *testing.T) {
	models, err := vqa.LoadModels(modelsDir)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, m := range models {
		count[m.Kind]++
	}
	if count[vqa.KindImage] < 3 || count[vqa.KindASR] < 2 || count[vqa.KindVQA] != count[vqa.KindImage] {
		t.Errorf("shipped models: %v; want >= 3 image, >= 2 asr, one vqa per image variant", count)
	}
}

func open(t *testing.T, info vqa.ModelInfo) *Model {
	t.Helper()
	m, err := Open(modelsDir, info, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func flatten(rows [][]float32) []float32 {
	var out []float32
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

func initORTBench() error { _, err := onnx.Init(); return err }
