// Package infer runs the workload's ONNX models on batches through ONNX Runtime: image features, speech
// recognition (CTC greedy decoding) and VQA answers. The evaluator and the accuracy profiler use it; the
// runner may too. Callers initialise ONNX Runtime first (job/onnx.Init).
package infer

import (
	"fmt"
	"path/filepath"

	ort "github.com/yalue/onnxruntime_go"

	"jellybean/job/onnx"
	"jellybean/workloads/vqa"
)

// Model is one ONNX Runtime session of a shipped model (through job/onnx.Session, the repository's one
// session wrapper).
type Model struct {
	Info    vqa.ModelInfo
	session *onnx.Session
}

// Open creates a CPU session for info (a models.json entry under dir) with the given intra-op threads
// (0 = ONNX Runtime's default).
func Open(dir string, info vqa.ModelInfo, threads int) (*Model, error) {
	return OpenOn(dir, info, "cpu", threads)
}

// OpenOn is Open on a device: "cpu" or "cuda:N" (ONNX Runtime's CUDA execution provider).
func OpenOn(dir string, info vqa.ModelInfo, device string, threads int) (*Model, error) {
	path := filepath.Join(dir, info.File)
	s, err := onnx.Open(path, info.Inputs, info.Outputs, device, threads)
	if err != nil {
		return nil, fmt.Errorf("%s (%s %s): %w", path, info.Kind, info.Variant, err)
	}
	return &Model{Info: info, session: s}, nil
}

// Close releases the session.
func (m *Model) Close() error { return m.session.Close() }

// run executes the model and returns its outputs (allocated by ONNX Runtime; the caller destroys them).
func (m *Model) run(inputs ...ort.Value) ([]ort.Value, error) {
	outs, _, err := m.session.Run(inputs, len(m.Info.Outputs))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", m.Info.Kind, m.Info.Variant, err)
	}
	return outs, nil
}

func destroy(vs ...ort.Value) { onnx.DestroyAll(vs) }

func float32Output(v ort.Value, name string) ([]float32, ort.Shape, error) {
	t, ok := v.(*ort.Tensor[float32])
	if !ok {
		return nil, nil, fmt.Errorf("output %s is not a float32 tensor", name)
	}
	return append([]float32(nil), t.GetData()...), t.GetShape(), nil
}

// Features runs an image model on images, each a [3,H,W] tensor from vqa.LoadImage (all the same size),
// and returns one feature vector per image.
func (m *Model) Features(images [][]float32, h, w int) ([][]float32, error) {
	if len(images) == 0 {
		return nil, nil
	}
	flat := make([]float32, 0, len(images)*3*h*w)
	for i, im := range images {
		if len(im) != 3*h*w {
			return nil, fmt.Errorf("image %d has %d values, want 3x%dx%d", i, len(im), h, w)
		}
		flat = append(flat, im...)
	}
	in, err := ort.NewTensor(ort.NewShape(int64(len(images)), 3, int64(h), int64(w)), flat)
	if err != nil {
		return nil, err
	}
	defer in.Destroy()
	outs, err := m.run(in)
	if err != nil {
		return nil, err
	}
	defer destroy(outs...)
	data, shape, err := float32Output(outs[0], "features")
	if err != nil {
		return nil, err
	}
	return split(data, len(images), int(shape[1])), nil
}

// Transcript is one recognised utterance: the raw CTC output and its greedy decoding.
type Transcript struct {
	Text    string
	Logits  []float32 // [Frames, Classes], row-major
	Frames  int
	Classes int
}

// Recognize runs a speech model on utterances (16 kHz samples), zero-padding them into one batch and
// passing their lengths, and decodes each with vqa.CTCGreedy.
func (m *Model) Recognize(audio [][]float32) ([]Transcript, error) {
	if len(audio) == 0 {
		return nil, nil
	}
	maxLen := 0
	for _, a := range audio {
		maxLen = max(maxLen, len(a))
	}
	flat := make([]float32, len(audio)*maxLen)
	lengths := make([]int64, len(audio))
	for i, a := range audio {
		copy(flat[i*maxLen:], a)
		lengths[i] = int64(len(a))
	}
	in, err := ort.NewTensor(ort.NewShape(int64(len(audio)), int64(maxLen)), flat)
	if err != nil {
		return nil, err
	}
	defer in.Destroy()
	ln, err := ort.NewTensor(ort.NewShape(int64(len(audio))), lengths)
	if err != nil {
		return nil, err
	}
	defer ln.Destroy()
	outs, err := m.run(in, ln)
	if err != nil {
		return nil, err
	}
	defer destroy(outs...)
	logits, shape, err := float32Output(outs[0], "logits")
	if err != nil {
		return nil, err
	}
	olt, ok := outs[1].(*ort.Tensor[int64])
	if !ok {
		return nil, fmt.Errorf("output out_lengths is not an int64 tensor")
	}
	outLen := olt.GetData()
	frames, classes := int(shape[1]), int(shape[2])
	res := make([]Transcript, len(audio))
	for i := range audio {
		n := min(int(outLen[i]), frames)
		l := logits[i*frames*classes : (i*frames+n)*classes]
		res[i] = Transcript{Text: vqa.CTCGreedy(l, n, classes), Logits: l, Frames: n, Classes: classes}
	}
	return res, nil
}

// Answer runs a VQA model on feature vectors and questions (vqa.Tokenize outputs) and returns the
// answer scores of each item.
func (m *Model) Answer(features [][]float32, questions [][]int64) ([][]float32, error) {
	if len(features) != len(questions) {
		return nil, fmt.Errorf("%d feature vectors but %d questions", len(features), len(questions))
	}
	if len(features) == 0 {
		return nil, nil
	}
	f := len(features[0])
	ff := make([]float32, 0, len(features)*f)
	qq := make([]int64, 0, len(features)*vqa.QuestionLen)
	for i := range features {
		if len(features[i]) != f || len(questions[i]) != vqa.QuestionLen {
			return nil, fmt.Errorf("item %d: %d features (want %d), %d tokens (want %d)", i, len(features[i]), f, len(questions[i]), vqa.QuestionLen)
		}
		ff = append(ff, features[i]...)
		qq = append(qq, questions[i]...)
	}
	fin, err := ort.NewTensor(ort.NewShape(int64(len(features)), int64(f)), ff)
	if err != nil {
		return nil, err
	}
	defer fin.Destroy()
	qin, err := ort.NewTensor(ort.NewShape(int64(len(features)), vqa.QuestionLen), qq)
	if err != nil {
		return nil, err
	}
	defer qin.Destroy()
	outs, err := m.run(fin, qin)
	if err != nil {
		return nil, err
	}
	defer destroy(outs...)
	data, shape, err := float32Output(outs[0], "scores")
	if err != nil {
		return nil, err
	}
	return split(data, len(features), int(shape[1])), nil
}

func split(flat []float32, n, width int) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		out[i] = flat[i*width : (i+1)*width : (i+1)*width]
	}
	return out
}
