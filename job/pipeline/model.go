package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"jellybean/collective"
	"jellybean/job/onnx"
	"jellybean/workloads/vqa"
)

// model is one ONNX Runtime session with fixed input and output names.
type model struct {
	path string
	sess *ort.DynamicAdvancedSession
}

// openModel creates a session on device ("cpu" or "cuda:N") with the given intra-op threads.
func openModel(path string, inputs, outputs []string, device string, threads int) (*model, error) {
	if _, err := onnx.Init(); err != nil {
		return nil, err
	}
	opts, err := onnx.NewSessionOptions(device, threads)
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	// One stage runs one model per rank: parallelism comes from ranks and intra-op threads, not inter-op.
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, err
	}
	if err := checkIONames(path, inputs, outputs); err != nil {
		return nil, err
	}
	sess, err := ort.NewDynamicAdvancedSession(path, inputs, outputs, opts)
	if err != nil {
		return nil, fmt.Errorf("loading model %s: %w", path, err)
	}
	return &model{path: path, sess: sess}, nil
}

// run executes the model; outputs are allocated by ONNX Runtime and must be destroyed by the caller.
func (m *model) run(inputs []ort.Value, nOutputs int) ([]ort.Value, time.Duration, error) {
	outputs := make([]ort.Value, nOutputs)
	start := time.Now()
	err := m.sess.Run(inputs, outputs)
	d := time.Since(start)
	if err != nil {
		destroyAll(outputs)
		return nil, d, fmt.Errorf("running %s: %w", m.path, err)
	}
	return outputs, d, nil
}

func (m *model) close() {
	if m != nil && m.sess != nil {
		m.sess.Destroy()
	}
}

func destroyAll(vs []ort.Value) {
	for _, v := range vs {
		if v != nil {
			v.Destroy()
		}
	}
}

// float32s returns an item's float32 tensor.
func float32s(it *Item, name string) ([]float32, []int64, error) {
	t, ok := it.Tensor(name)
	if !ok {
		return nil, nil, fmt.Errorf("item %d: no %q tensor", it.ID, name)
	}
	v, err := collective.Float32s(t)
	if err != nil {
		// Unaligned views (possible for data inside a received buffer) are copied.
		if t.DType != collective.Float32 || len(t.Data)%4 != 0 {
			return nil, nil, fmt.Errorf("item %d: tensor %q: %w", it.ID, name, err)
		}
		v = make([]float32, len(t.Data)/4)
		copy(bytesOfFloat32(v), t.Data)
	}
	return v, t.Shape, nil
}

func outputFloat32(v ort.Value, name string) ([]float32, ort.Shape, error) {
	t, ok := v.(*ort.Tensor[float32])
	if !ok {
		return nil, nil, fmt.Errorf("model output %q is not a float32 tensor", name)
	}
	return t.GetData(), t.GetShape(), nil
}

func outputInt64(v ort.Value, name string) ([]int64, error) {
	t, ok := v.(*ort.Tensor[int64])
	if !ok {
		return nil, fmt.Errorf("model output %q is not an int64 tensor", name)
	}
	return t.GetData(), nil
}

// stageOp turns a micro-batch of items into the items sent downstream, and reports the time spent inside
// ONNX Runtime (the rest of the stage's time is the runner's overhead).
type stageOp interface {
	process(items []Item) ([]Item, time.Duration, error)
	close()
}

// imageOp: image f32 [N,3,H,W] -> features f32 [N,F].
type imageOp struct{ m *model }

func (o imageOp) process(items []Item) ([]Item, time.Duration, error) {
	n := len(items)
	var batch []float32
	var shape []int64
	for i := range items {
		v, s, err := float32s(&items[i], "image")
		if err != nil {
			return nil, 0, err
		}
		if i == 0 {
			shape, batch = s, make([]float32, 0, n*len(v))
		} else if !equalShape(s, shape) {
			return nil, 0, fmt.Errorf("item %d: image shape %v differs from item %d's %v", items[i].ID, s, items[0].ID, shape)
		}
		batch = append(batch, v...)
	}
	in, err := ort.NewTensor(ort.NewShape(append([]int64{int64(n)}, shape...)...), batch)
	if err != nil {
		return nil, 0, err
	}
	defer in.Destroy()
	outs, d, err := o.m.run([]ort.Value{in}, 1)
	if err != nil {
		return nil, d, err
	}
	defer destroyAll(outs)
	feats, fshape, err := outputFloat32(outs[0], "features")
	if err != nil {
		return nil, d, err
	}
	if len(fshape) != 2 || fshape[0] != int64(n) {
		return nil, d, fmt.Errorf("%s: features shape %v for %d items", o.m.path, fshape, n)
	}
	f := int(fshape[1])
	out := make([]Item, n)
	for i, it := range items {
		row := append([]float32(nil), feats[i*f:(i+1)*f]...)
		out[i] = Item{ID: it.ID, T0: it.T0, Tensors: []collective.Tensor{
			collective.FromFloat32s("features", []int64{int64(f)}, row)}}
	}
	return out, d, nil
}

func (o imageOp) close() { o.m.close() }

// asrOp: audio f32 [N,T] (zero-padded) + lengths i64 [N] -> logits [N,T',C] + out_lengths -> text.
type asrOp struct{ m *model }

func (o asrOp) process(items []Item) ([]Item, time.Duration, error) {
	n := len(items)
	clips := make([][]float32, n)
	longest := 0
	for i := range items {
		v, _, err := float32s(&items[i], "audio")
		if err != nil {
			return nil, 0, err
		}
		clips[i] = v
		longest = max(longest, len(v))
	}
	longest = max(longest, 1)
	audio := make([]float32, n*longest)
	lengths := make([]int64, n)
	for i, c := range clips {
		copy(audio[i*longest:], c)
		lengths[i] = int64(len(c))
	}
	a, err := ort.NewTensor(ort.NewShape(int64(n), int64(longest)), audio)
	if err != nil {
		return nil, 0, err
	}
	defer a.Destroy()
	l, err := ort.NewTensor(ort.NewShape(int64(n)), lengths)
	if err != nil {
		return nil, 0, err
	}
	defer l.Destroy()
	outs, d, err := o.m.run([]ort.Value{a, l}, 2)
	if err != nil {
		return nil, d, err
	}
	defer destroyAll(outs)
	logits, shape, err := outputFloat32(outs[0], "logits")
	if err != nil {
		return nil, d, err
	}
	outLen, err := outputInt64(outs[1], "out_lengths")
	if err != nil {
		return nil, d, err
	}
	if len(shape) != 3 || shape[0] != int64(n) || len(outLen) != n {
		return nil, d, fmt.Errorf("%s: logits shape %v, %d out_lengths for %d items", o.m.path, shape, len(outLen), n)
	}
	frames, classes := int(shape[1]), int(shape[2])
	out := make([]Item, n)
	for i, it := range items {
		f := min(int(outLen[i]), frames)
		text := vqa.CTCGreedy(logits[i*frames*classes:(i+1)*frames*classes], f, classes)
		out[i] = Item{ID: it.ID, T0: it.T0, Tensors: []collective.Tensor{textTensor("question", text)}}
	}
	return out, d, nil
}

func (o asrOp) close() { o.m.close() }

// vqaOp: features f32 [N,F] + question i64 [N,QuestionLen] -> scores [N,A] -> answer text.
type vqaOp struct{ m *model }

func (o vqaOp) process(items []Item) ([]Item, time.Duration, error) {
	n := len(items)
	var feats []float32
	tokens := make([]int64, 0, n*vqa.QuestionLen)
	questions := make([]string, n)
	f := 0
	for i := range items {
		v, _, err := float32s(&items[i], "features")
		if err != nil {
			return nil, 0, err
		}
		if i == 0 {
			f, feats = len(v), make([]float32, 0, n*len(v))
		} else if len(v) != f {
			return nil, 0, fmt.Errorf("item %d: %d features, item %d has %d", items[i].ID, len(v), items[0].ID, f)
		}
		feats = append(feats, v...)
		q, err := items[i].text("question")
		if err != nil {
			return nil, 0, err
		}
		questions[i] = q
		tokens = append(tokens, vqa.Tokenize(q)...)
	}
	ft, err := ort.NewTensor(ort.NewShape(int64(n), int64(f)), feats)
	if err != nil {
		return nil, 0, err
	}
	defer ft.Destroy()
	qt, err := ort.NewTensor(ort.NewShape(int64(n), int64(vqa.QuestionLen)), tokens)
	if err != nil {
		return nil, 0, err
	}
	defer qt.Destroy()
	outs, d, err := o.m.run([]ort.Value{ft, qt}, 1)
	if err != nil {
		return nil, d, err
	}
	defer destroyAll(outs)
	scores, shape, err := outputFloat32(outs[0], "scores")
	if err != nil {
		return nil, d, err
	}
	if len(shape) != 2 || shape[0] != int64(n) {
		return nil, d, fmt.Errorf("%s: scores shape %v for %d items", o.m.path, shape, n)
	}
	a := int(shape[1])
	out := make([]Item, n)
	for i, it := range items {
		answer := vqa.AnswerFromScores(scores[i*a : (i+1)*a])
		out[i] = Item{ID: it.ID, T0: it.T0, Tensors: []collective.Tensor{
			textTensor("answer", answer), textTensor("question", questions[i])}}
	}
	return out, d, nil
}

func (o vqaOp) close() { o.m.close() }

// checkIONames fails at start-up, naming the file, when a model lacks the inputs or outputs its stage's op
// feeds and reads (a speech stage given an image model would otherwise fail only on its first batch).
func checkIONames(path string, inputs, outputs []string) error {
	ins, outs, err := ort.GetInputOutputInfo(path)
	if err != nil {
		return fmt.Errorf("loading model %s: %w", path, err)
	}
	names := func(infos []ort.InputOutputInfo) []string {
		var n []string
		for _, i := range infos {
			n = append(n, i.Name)
		}
		return n
	}
	have, haveOut := names(ins), names(outs)
	for _, want := range inputs {
		if !slices.Contains(have, want) {
			return fmt.Errorf("model %s has inputs %v, but this stage's op feeds %v: is it the right model for the stage?", path, have, inputs)
		}
	}
	for _, want := range outputs {
		if !slices.Contains(haveOut, want) {
			return fmt.Errorf("model %s has outputs %v, but this stage's op reads %v: is it the right model for the stage?", path, haveOut, outputs)
		}
	}
	return nil
}

// checkVariant: results record the plan's variant name, so it must be the variant models.json (beside the
// model file) says that file is. A model in a folder without models.json has nothing to check against.
func checkVariant(modelPath, kind, variant string) error {
	dir := filepath.Dir(modelPath)
	if _, err := os.Stat(filepath.Join(dir, "models.json")); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("variant = %q: %w", variant, err)
	}
	models, err := vqa.LoadModels(dir)
	if err != nil {
		return err
	}
	info, err := vqa.FindModel(models, kind, variant)
	if err != nil {
		return fmt.Errorf("variant = %q: %s: %w", variant, filepath.Join(dir, "models.json"), err)
	}
	if filepath.Clean(filepath.Join(dir, info.File)) != filepath.Clean(modelPath) {
		return fmt.Errorf("variant = %q, but %s says that variant is %s, not %s", variant, filepath.Join(dir, "models.json"), info.File, filepath.Base(modelPath))
	}
	return nil
}
