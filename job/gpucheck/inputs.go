// Package gpucheck is the GPU proof of issue 6 in one command: it times every shipped model variant on the
// CPU and (where a GPU exists) on CUDA, compares their outputs, and runs a small job with one CUDA rank
// among CPU ranks through the real launcher. On a CPU-only host it proves the other half: the CPU column
// runs and a CUDA placement is refused at rank start-up with the rank and host named.
package gpucheck

import (
	"fmt"
	"jellybean/workloads/transforms"
	"math"

	"jellybean/workloads/vqa"
)

// Input is one named model input of a batch: float32 or int64 data and its shape.
type Input struct {
	Name  string
	Shape []int64
	F32   []float32
	I64   []int64
}

// AudioSeconds is the length of the synthetic utterances fed to speech models (the test split's spoken
// questions are 1.5-3 s long).
const AudioSeconds = 2

// questions are real questions of the workload, tokenised like the runner does.
var questions = []string{
	"how many circles are there", "what color is the square", "is there a red triangle",
	"what shape is the blue object", "how many objects are there", "what color is the circle",
}

// Inputs returns deterministic inputs of the right shape for one model at one batch size. The values are
// fixed functions of position, so every run (and every device) sees the same numbers; they lie in the
// ranges the models see in real data (normalised pixels, audio in [-1,1], real question tokens).
func Inputs(m vqa.ModelInfo, imageSize, features, batch int) ([]Input, error) {
	if batch < 1 {
		return nil, fmt.Errorf("batch size %d: must be >= 1", batch)
	}
	n := int64(batch)
	switch m.Kind {
	case vqa.KindImage:
		s := int64(imageSize)
		data := make([]float32, n*3*s*s)
		for i := range data {
			data[i] = float32(2 * math.Sin(float64(i)*0.37+float64(i/int(s))*0.11))
		}
		return []Input{{Name: "image", Shape: []int64{n, 3, s, s}, F32: data}}, nil
	case vqa.KindASR:
		t := int64(AudioSeconds * 16000)
		audio := make([]float32, n*t)
		for i := range audio {
			k := float64(i % int(t))
			audio[i] = float32(0.5*math.Sin(k*2*math.Pi*220/16000) + 0.2*math.Sin(k*2*math.Pi*(700+float64(i/int(t))*50)/16000))
		}
		lengths := make([]int64, n)
		for i := range lengths {
			lengths[i] = t - int64(i)*800 // unequal lengths exercise the padding path
			if lengths[i] < t/2 {
				lengths[i] = t / 2
			}
		}
		return []Input{{Name: "audio", Shape: []int64{n, t}, F32: audio}, {Name: "lengths", Shape: []int64{n}, I64: lengths}}, nil
	case vqa.KindVQA:
		f := int64(features)
		feats := make([]float32, n*f)
		for i := range feats {
			feats[i] = float32(math.Max(0, math.Sin(float64(i)*0.53)))
		}
		toks := make([]int64, 0, n*vqa.QuestionLen)
		for i := 0; i < batch; i++ {
			toks = append(toks, vqa.Tokenize(questions[i%len(questions)])...)
		}
		return []Input{{Name: "features", Shape: []int64{n, f}, F32: feats}, {Name: "question", Shape: []int64{n, vqa.QuestionLen}, I64: toks}}, nil
	}
	return nil, fmt.Errorf("model %s %s: unknown kind", m.Kind, m.Variant)
}

// MaxAbsDiff is the largest |a[i]-b[i]|; +Inf when the lengths differ or a value is NaN.
func MaxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		x := math.Abs(float64(a[i]) - float64(b[i]))
		if math.IsNaN(x) {
			return math.Inf(1)
		}
		d = max(d, x)
	}
	return d
}

// MaxAbs is the largest |a[i]|: the scale the output tolerance is relative to.
func MaxAbs(a []float32) float64 {
	m := 0.0
	for _, v := range a {
		m = max(m, math.Abs(float64(v)))
	}
	return m
}

// RelTolerance is the accepted GPU-vs-CPU difference relative to max(1, largest |CPU output|): float32
// kernels differ in summation order, and ONNX Runtime's CUDA provider may use TF32 convolutions (10-bit
// mantissa, ~1e-3 relative per product).
const RelTolerance = 1e-2

// WithinTolerance reports whether diff is acceptable for outputs of the given scale.
func WithinTolerance(diff, scale float64) bool { return diff <= RelTolerance*math.Max(1, scale) }

// Median of durations in milliseconds; 0 for none.
func Median(ms []float64) float64 {
	if len(ms) == 0 {
		return 0
	}
	s := append([]float64(nil), ms...)
	for i := 1; i < len(s); i++ { // insertion sort: a handful of values
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ParseBatches parses a comma-separated list of batch sizes, e.g. "1,8".
func ParseBatches(s string) ([]int, error) {
	var out []int
	for _, f := range splitComma(s) {
		var b int
		if _, err := fmt.Sscanf(f, "%d", &b); err != nil || b < 1 || fmt.Sprint(b) != f {
			return nil, fmt.Errorf("--batches %q: %q is not a batch size >= 1", s, f)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--batches %q: no batch sizes", s)
	}
	return out, nil
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if f := s[start:i]; f != "" {
				out = append(out, f)
			}
			start = i + 1
		}
	}
	return out
}

// DataInputs returns inputs built from the first batch items of a dataset split (cycling when it has fewer):
// real images, real spoken questions (zero-padded to the longest, with their true lengths) and real
// tokenised questions. VQA models also need image features, which stay synthetic (Inputs): they would
// otherwise depend on which image model ran first.
func DataInputs(m vqa.ModelInfo, man *vqa.Manifest, imageSize, features, batch int) ([]Input, error) {
	if len(man.Items) == 0 {
		return nil, fmt.Errorf("dataset in %s has no items", man.Dir)
	}
	items := make([]vqa.Item, batch)
	for i := range items {
		items[i] = man.Items[i%len(man.Items)]
	}
	n := int64(batch)
	switch m.Kind {
	case vqa.KindImage:
		var data []float32
		var shape []int64
		for _, it := range items {
			img, s, err := vqa.LoadImage(man.ImagePath(it))
			if err != nil {
				return nil, err
			}
			if shape != nil && fmt.Sprint(s) != fmt.Sprint(shape) {
				return nil, fmt.Errorf("%s: shape %v, earlier images %v", man.ImagePath(it), s, shape)
			}
			shape, data = s, append(data, img...)
		}
		return []Input{{Name: "image", Shape: append([]int64{n}, shape...), F32: data}}, nil
	case vqa.KindASR:
		clips := make([][]float32, batch)
		longest := 0
		for i, it := range items {
			a, err := transforms.LoadWAV(man.AudioPath(it))
			if err != nil {
				return nil, err
			}
			clips[i], longest = a, max(longest, len(a))
		}
		audio := make([]float32, batch*longest)
		lengths := make([]int64, batch)
		for i, a := range clips {
			copy(audio[i*longest:], a)
			lengths[i] = int64(len(a))
		}
		return []Input{{Name: "audio", Shape: []int64{n, int64(longest)}, F32: audio}, {Name: "lengths", Shape: []int64{n}, I64: lengths}}, nil
	case vqa.KindVQA:
		in, err := Inputs(m, imageSize, features, batch)
		if err != nil {
			return nil, err
		}
		toks := make([]int64, 0, batch*vqa.QuestionLen)
		for _, it := range items {
			toks = append(toks, vqa.Tokenize(it.Question)...)
		}
		in[1].I64 = toks
		return in, nil
	}
	return nil, fmt.Errorf("model %s %s: unknown kind", m.Kind, m.Variant)
}
