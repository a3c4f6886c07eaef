package profile

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/klauspost/compress/zstd"

	"jellybean/workloads/vqa"
	"jellybean/workloads/vqa/infer"
)

// Inputs are real workload items to profile with: images ([3,H,W] tensors from vqa.LoadImage), speech
// (16 kHz samples from transforms.LoadWAV) and nothing else; questions come from recognising the speech.
type Inputs struct {
	Images [][]float32
	H, W   int
	Audio  [][]float32
}

// Options say what to measure.
type Options struct {
	Host     string // worker (type) name in the CSVs
	Rank     int    // rank measuring (0 without a hostfile)
	Batches  []int
	Repeats  int    // timed runs per model and batch size (after one warm-up run)
	Threads  int    // intra-op threads per session, as a plan's worker would use (0 = ONNX Runtime's default)
	Device   string // "cpu" (default) or "cuda:N"
	Progress io.Writer
}

// Stage names of the workload graph, as in the plans (plan/examples/default.toml).
var stageOf = map[string]string{vqa.KindImage: "ImageFeatures", vqa.KindASR: "SpeechRecognition", vqa.KindVQA: "VQA"}

// Measure profiles every model in modelsDir/models.json on in. The caller has initialised ONNX Runtime.
func Measure(modelsDir string, in Inputs, o Options) (*Result, error) {
	if len(in.Images) == 0 || len(in.Audio) == 0 {
		return nil, fmt.Errorf("profile: need at least one image and one utterance")
	}
	if o.Repeats < 1 {
		return nil, fmt.Errorf("profile: repeats must be at least 1")
	}
	if o.Device == "" {
		o.Device = "cpu"
	}
	models, err := vqa.LoadModels(modelsDir)
	if err != nil {
		return nil, err
	}
	res := &Result{Host: o.Host}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	sizes := func(from, to, variant string, msgs [][]byte) {
		var raw, z float64
		for _, m := range msgs {
			raw += float64(len(m))
			z += float64(len(enc.EncodeAll(m, nil)))
		}
		n := float64(len(msgs)) * 1024
		res.Messages = append(res.Messages, Message{From: from, To: to, FromVariant: variant, RawKB: raw / n, ZstdKB: z / n})
	}
	sizes("ReadImage", "ImageFeatures", "default", floatMessages(in.Images))
	sizes("ReadSpeech", "SpeechRecognition", "default", floatMessages(in.Audio))

	// Features per image variant (the VQA models read them) and questions from the first speech model.
	features := map[string][][]float32{}
	var questions [][]int64
	for _, m := range models {
		sess, err := infer.OpenOn(modelsDir, m, o.Device, o.Threads)
		if err != nil {
			return nil, err
		}
		switch m.Kind {
		case vqa.KindImage:
			f, err := sess.Features(in.Images, in.H, in.W)
			if err != nil {
				sess.Close()
				return nil, err
			}
			features[m.Variant] = f
			sizes("ImageFeatures", "VQA", m.Variant, floatMessages(f))
		case vqa.KindASR:
			tr, err := sess.Recognize(in.Audio)
			if err != nil {
				sess.Close()
				return nil, err
			}
			var q [][]int64
			for _, t := range tr {
				q = append(q, vqa.Tokenize(t.Text))
			}
			if questions == nil {
				questions = q
			}
			sizes("SpeechRecognition", "VQA", m.Variant, intMessages(q))
		}
		sess.Close()
	}

	for _, m := range models {
		sess, err := infer.OpenOn(modelsDir, m, o.Device, o.Threads)
		if err != nil {
			return nil, err
		}
		for _, b := range o.Batches {
			run, err := batchRunner(sess, m, in, b, features[m.ImageVariant], questions)
			if err != nil {
				sess.Close()
				return nil, err
			}
			if err := run(); err != nil { // warm-up: first runs allocate and plan
				sess.Close()
				return nil, err
			}
			samples := make([]float64, o.Repeats)
			for i := range samples {
				t0 := time.Now()
				if err := run(); err != nil {
					sess.Close()
					return nil, err
				}
				samples[i] = time.Since(t0).Seconds() * 1000
			}
			l := Latency{Host: o.Host, Rank: o.Rank, Device: o.Device, Threads: o.Threads,
				Stage: stageOf[m.Kind], Variant: m.Variant, Batch: b, Stats: Summarise(samples)}
			res.Latencies = append(res.Latencies, l)
			if o.Progress != nil {
				fmt.Fprintf(o.Progress, "profile: %s %s batch %d: median %.2f ms (p90 %.2f) over %d runs\n", l.Stage, l.Variant, b, l.Stats.Median, l.Stats.P90, l.Stats.Runs)
			}
		}
		sess.Close()
	}
	return res, nil
}

// batchRunner returns a function that runs the model once on a batch of b items (inputs reused cyclically).
func batchRunner(sess *infer.Model, m vqa.ModelInfo, in Inputs, b int, feats [][]float32, questions [][]int64) (func() error, error) {
	pick := func(n int) []int {
		idx := make([]int, b)
		for i := range idx {
			idx[i] = i % n
		}
		return idx
	}
	switch m.Kind {
	case vqa.KindImage:
		var imgs [][]float32
		for _, i := range pick(len(in.Images)) {
			imgs = append(imgs, in.Images[i])
		}
		return func() error { _, err := sess.Features(imgs, in.H, in.W); return err }, nil
	case vqa.KindASR:
		var audio [][]float32
		for _, i := range pick(len(in.Audio)) {
			audio = append(audio, in.Audio[i])
		}
		return func() error { _, err := sess.Recognize(audio); return err }, nil
	case vqa.KindVQA:
		if len(feats) == 0 || len(questions) == 0 {
			return nil, fmt.Errorf("vqa %s: no features of image variant %q or no questions", m.Variant, m.ImageVariant)
		}
		var f [][]float32
		var q [][]int64
		for _, i := range pick(min(len(feats), len(questions))) {
			f, q = append(f, feats[i]), append(q, questions[i])
		}
		return func() error { _, err := sess.Answer(f, q); return err }, nil
	}
	return nil, fmt.Errorf("unknown model kind %q", m.Kind)
}

// floatMessages is each tensor's little-endian bytes: what travels between ranks, before framing.
func floatMessages(ts [][]float32) [][]byte {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		b := make([]byte, 4*len(t))
		for j, v := range t {
			binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(v))
		}
		out[i] = b
	}
	return out
}

func intMessages(ts [][]int64) [][]byte {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		b := make([]byte, 8*len(t))
		for j, v := range t {
			binary.LittleEndian.PutUint64(b[8*j:], uint64(v))
		}
		out[i] = b
	}
	return out
}
