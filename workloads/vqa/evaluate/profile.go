package evaluate

import (
	"fmt"
	"io"
	"jellybean/workloads/transforms"
	"sort"
	"time"

	"jellybean/workloads/vqa"
	"jellybean/workloads/vqa/infer"
)

// Operator names of the workflow graph, as in the plan and the original system's profiles.
const (
	OpImage  = "ExtractImageFeature"
	OpSpeech = "SpeechRecognition"
	OpVQA    = "VQA"
)

// ProfileOptions says what to profile.
type ProfileOptions struct {
	ModelsDir string
	Manifest  string
	Threads   int       // intra-op threads per session (0 = ONNX Runtime default)
	Batch     int       // batch size for the accuracy passes
	Log       io.Writer // progress; may be nil
}

// Profile is the measured accuracy and latency of every shipped variant and combination.
type Profile struct {
	Dataset      string          `json:"dataset"`
	Items        int             `json:"items"`
	Threads      int             `json:"threads"`
	Image        []VariantFigure `json:"image"`
	Speech       []VariantFigure `json:"speech"`
	VQA          []VariantFigure `json:"vqa"`
	Combinations []Combination   `json:"combinations"`
}

// VariantFigure is one model variant's accuracy and latency. Latencies are per item, in milliseconds,
// medians over repeated runs at batch 1 and batch 8.
type VariantFigure struct {
	Variant      string  `json:"variant"`
	Accuracy     float64 `json:"accuracy,omitempty"` // image/vqa: VQA accuracy with the true question text
	WER          float64 `json:"wer,omitempty"`      // speech
	CER          float64 `json:"cer,omitempty"`      // speech
	LatencyB1Ms  float64 `json:"latency_ms_batch1"`
	LatencyB8Ms  float64 `json:"latency_ms_batch8_per_item"`
	Params       int64   `json:"params"`
	Bytes        int64   `json:"bytes"`
	TrainSeconds float64 `json:"train_seconds"`
}

// Combination is the end-to-end accuracy with spoken questions of one (image, speech) variant pair.
type Combination struct {
	Image       string             `json:"image"`
	Speech      string             `json:"speech"`
	VQAAccuracy float64            `json:"vqa_accuracy"`
	ByType      map[string]float64 `json:"by_type"`
}

// RunProfile loads the split, runs every model on every item, and scores every combination.
func RunProfile(o ProfileOptions) (*Profile, error) {
	logf := func(format string, a ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", a...)
		}
	}
	if o.Batch <= 0 {
		o.Batch = 32
	}
	models, err := vqa.LoadModels(o.ModelsDir)
	if err != nil {
		return nil, err
	}
	m, err := vqa.LoadManifest(o.Manifest)
	if err != nil {
		return nil, err
	}
	images := make([][]float32, len(m.Items))
	audio := make([][]float32, len(m.Items))
	var h, w int
	for i, it := range m.Items {
		img, shape, err := vqa.LoadImage(m.ImagePath(it))
		if err != nil {
			return nil, err
		}
		if i == 0 {
			h, w = int(shape[1]), int(shape[2])
		} else if int(shape[1]) != h || int(shape[2]) != w {
			return nil, fmt.Errorf("%s: image is %dx%d, the others %dx%d", m.ImagePath(it), shape[2], shape[1], w, h)
		}
		images[i] = img
		if audio[i], err = transforms.LoadWAV(m.AudioPath(it)); err != nil {
			return nil, err
		}
	}
	logf("profile: %d items of %s", len(m.Items), o.Manifest)
	p := &Profile{Dataset: o.Manifest, Items: len(m.Items), Threads: o.Threads}
	truth := make([][]int64, len(m.Items))
	for i, it := range m.Items {
		truth[i] = vqa.Tokenize(it.Question)
	}

	// Speech: transcripts of every item per variant.
	transcripts := map[string][]string{}
	var speechNames []string
	for _, info := range models {
		if info.Kind != vqa.KindASR {
			continue
		}
		mod, err := infer.Open(o.ModelsDir, info, o.Threads)
		if err != nil {
			return nil, err
		}
		texts := make([]string, 0, len(audio))
		for b := 0; b < len(audio); b += o.Batch {
			tr, err := mod.Recognize(audio[b:min(b+o.Batch, len(audio))])
			if err != nil {
				mod.Close()
				return nil, err
			}
			for _, t := range tr {
				texts = append(texts, t.Text)
			}
		}
		var t vqa.Tally
		for i, it := range m.Items {
			t.Add(it, it.Answer, texts[i])
		}
		b1, b8, err := latency(len(audio), func(lo, hi int) error { _, err := mod.Recognize(audio[lo:hi]); return err })
		mod.Close()
		if err != nil {
			return nil, err
		}
		transcripts[info.Variant] = texts
		speechNames = append(speechNames, info.Variant)
		p.Speech = append(p.Speech, VariantFigure{Variant: info.Variant, WER: round(t.WER()), CER: round(t.CER()),
			LatencyB1Ms: b1, LatencyB8Ms: b8, Params: info.Params, Bytes: info.Bytes, TrainSeconds: info.TrainSeconds})
		logf("profile: speech %s WER %.2f%% CER %.2f%% latency %.3f ms (b1) %.3f ms/item (b8)", info.Variant, t.WER(), t.CER(), b1, b8)
	}

	// Image + VQA: features per image variant, then answers for true and recognised questions.
	for _, info := range models {
		if info.Kind != vqa.KindImage {
			continue
		}
		vinfo, err := vqa.FindModel(models, vqa.KindVQA, info.Variant)
		if err != nil {
			return nil, err
		}
		img, err := infer.Open(o.ModelsDir, info, o.Threads)
		if err != nil {
			return nil, err
		}
		head, err := infer.Open(o.ModelsDir, vinfo, o.Threads)
		if err != nil {
			img.Close()
			return nil, err
		}
		fig, combos, err := profileImage(m, images, h, w, truth, transcripts, speechNames, img, head, o.Batch)
		img.Close()
		head.Close()
		if err != nil {
			return nil, err
		}
		p.Image = append(p.Image, fig[0])
		p.VQA = append(p.VQA, fig[1])
		p.Combinations = append(p.Combinations, combos...)
		logf("profile: image %s text-question accuracy %.2f%% latency %.3f ms (b1) %.3f ms/item (b8)", info.Variant, fig[0].Accuracy, fig[0].LatencyB1Ms, fig[0].LatencyB8Ms)
		for _, c := range combos {
			logf("profile:   + speech %s: VQA accuracy %.2f%%", c.Speech, c.VQAAccuracy)
		}
	}
	return p, nil
}

func profileImage(m *vqa.Manifest, images [][]float32, h, w int, truth [][]int64, transcripts map[string][]string,
	speechNames []string, img, head *infer.Model, batch int) ([2]VariantFigure, []Combination, error) {
	var figs [2]VariantFigure
	feats := make([][]float32, 0, len(images))
	for b := 0; b < len(images); b += batch {
		f, err := img.Features(images[b:min(b+batch, len(images))], h, w)
		if err != nil {
			return figs, nil, err
		}
		feats = append(feats, f...)
	}
	answers := func(questions [][]int64) ([]string, error) {
		out := make([]string, 0, len(questions))
		for b := 0; b < len(questions); b += batch {
			hi := min(b+batch, len(questions))
			scores, err := head.Answer(feats[b:hi], questions[b:hi])
			if err != nil {
				return nil, err
			}
			for _, s := range scores {
				out = append(out, vqa.AnswerFromScores(s))
			}
		}
		return out, nil
	}
	ans, err := answers(truth)
	if err != nil {
		return figs, nil, err
	}
	var t vqa.Tally
	for i, it := range m.Items {
		t.Add(it, ans[i], it.Question)
	}
	ib1, ib8, err := latency(len(images), func(lo, hi int) error { _, err := img.Features(images[lo:hi], h, w); return err })
	if err != nil {
		return figs, nil, err
	}
	vb1, vb8, err := latency(len(images), func(lo, hi int) error { _, err := head.Answer(feats[lo:hi], truth[lo:hi]); return err })
	if err != nil {
		return figs, nil, err
	}
	figs[0] = VariantFigure{Variant: img.Info.Variant, Accuracy: round(t.Accuracy()), LatencyB1Ms: ib1, LatencyB8Ms: ib8,
		Params: img.Info.Params, Bytes: img.Info.Bytes, TrainSeconds: img.Info.TrainSeconds}
	figs[1] = VariantFigure{Variant: head.Info.Variant, Accuracy: round(t.Accuracy()), LatencyB1Ms: vb1, LatencyB8Ms: vb8,
		Params: head.Info.Params, Bytes: head.Info.Bytes}
	var combos []Combination
	for _, sp := range speechNames {
		qs := make([][]int64, len(m.Items))
		for i, text := range transcripts[sp] {
			qs[i] = vqa.Tokenize(text)
		}
		ans, err := answers(qs)
		if err != nil {
			return figs, nil, err
		}
		var ct vqa.Tally
		for i, it := range m.Items {
			ct.Add(it, ans[i], transcripts[sp][i])
		}
		c := Combination{Image: img.Info.Variant, Speech: sp, VQAAccuracy: round(ct.Accuracy()), ByType: map[string]float64{}}
		for _, typ := range ct.Types() {
			tt := ct.ByType[typ]
			c.ByType[typ] = round(100 * float64(tt.Correct) / float64(tt.Items))
		}
		combos = append(combos, c)
	}
	return figs, combos, nil
}

// latency times run on consecutive slices of n items: the median per-item milliseconds at batch 1 and
// at batch 8, after a warm-up run of each.
func latency(n int, run func(lo, hi int) error) (b1, b8 float64, err error) {
	measure := func(batch, reps int) (float64, error) {
		if n < batch {
			batch = n
		}
		if err := run(0, batch); err != nil { // warm-up
			return 0, err
		}
		var ms []float64
		for r := 0; r < reps; r++ {
			lo := (r * batch) % (n - batch + 1)
			start := time.Now()
			if err := run(lo, lo+batch); err != nil {
				return 0, err
			}
			ms = append(ms, float64(time.Since(start).Nanoseconds())/1e6/float64(batch))
		}
		sort.Float64s(ms)
		return math3(ms[len(ms)/2]), nil
	}
	if b1, err = measure(1, 40); err != nil {
		return
	}
	b8, err = measure(8, 15)
	return
}

func math3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }

// OriginalFormat renders the profile in the original system's nodes_accuracy_profiles.json shape:
// the end-to-end table, and per-operator samples (image: accuracy with true questions; speech: -WER;
// VQA: inputs' accuracies -> end-to-end accuracy). Costs are batch-1 latencies in milliseconds.
func (p *Profile) OriginalFormat() map[string]any {
	type sample struct {
		InputsAcc []float64 `json:"inputs_acc"`
		OutputAcc float64   `json:"output_acc"`
	}
	imageAcc, speechAcc := map[string]float64{}, map[string]float64{}
	imgCost, imgSamples := map[string]float64{}, map[string][]sample{}
	for _, f := range p.Image {
		imageAcc[f.Variant] = f.Accuracy
		imgCost[f.Variant] = f.LatencyB1Ms
		imgSamples[f.Variant] = []sample{{InputsAcc: []float64{}, OutputAcc: f.Accuracy}}
	}
	spCost, spSamples := map[string]float64{}, map[string][]sample{}
	for _, f := range p.Speech {
		speechAcc[f.Variant] = -f.WER
		spCost[f.Variant] = f.LatencyB1Ms
		spSamples[f.Variant] = []sample{{InputsAcc: []float64{}, OutputAcc: -f.WER}}
	}
	vqaCost := 0.0
	for _, f := range p.VQA {
		vqaCost = max(vqaCost, f.LatencyB1Ms)
	}
	type entry struct {
		Variants []string `json:"variants"`
		Accuracy float64  `json:"accuracy"`
	}
	var table []entry
	var vqaSamples []sample
	for _, c := range p.Combinations {
		table = append(table, entry{[]string{c.Image, c.Speech}, c.VQAAccuracy})
		vqaSamples = append(vqaSamples, sample{[]float64{imageAcc[c.Image], speechAcc[c.Speech]}, c.VQAAccuracy})
	}
	op := func(name string, inputs []string, cost map[string]float64, samples map[string][]sample) map[string]any {
		return map[string]any{"op_name": name, "inputs": inputs, "weight": 1.0, "cost": cost, "samples": samples}
	}
	return map[string]any{
		"end_to_end_profile": map[string]any{"operators": []string{OpImage, OpSpeech}, "accuracy": table},
		"per_operator_profiles": []any{
			op(OpVQA, []string{OpImage, OpSpeech}, map[string]float64{"default": vqaCost}, map[string][]sample{"default": vqaSamples}),
			op(OpImage, []string{}, imgCost, imgSamples),
			op(OpSpeech, []string{}, spCost, spSamples),
		},
	}
}
