// Package reference runs the OCR workload's models in one process, page by page, through ONNX Runtime
// directly: detector → line crops → (angle classifier) → recogniser. It is the baseline the pipelined
// workflow is checked against and the tool that measured the variants' accuracy and cost.
package reference

import (
	"fmt"
	"path/filepath"
	"sort"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"jellybean/job/onnx"
	"jellybean/workloads/ocr"
	"jellybean/workloads/ocr/metrics"
)

// Variant is one combination of the workflow's choices.
type Variant struct {
	DetSize  int     // detector input side (one of ocr.DetectorSizes)
	Cls      bool    // run the angle classifier on every line
	RecScale float64 // recogniser input width as a fraction of the line's natural width (see ocr.Squeeze)
}

func (v Variant) String() string {
	c := "nocls"
	if v.Cls {
		c = "cls"
	}
	return fmt.Sprintf("det%d+%s+rec%g", v.DetSize, c, v.RecScale)
}

// Settings shared by all variants.
type Settings struct {
	DB        ocr.DBParams
	RecBatch  int     // lines per recogniser run
	WidthStep int     // line widths round up to a multiple of this
	MaxWidth  int     // widest line crop
	ClsScore  float64 // the classifier must be this sure to turn a line
	CropPad   float64 // line crops grow by this fraction of the box height on every side
	Piece     int     // lines wider than this (at height 48) are read in pieces cut at word gaps
	WordGap   int     // a gap of this many columns (at height 48) or more between inks is a space
}

// RecScales are the recogniser input widths offered, as fractions of a line's natural width.
var RecScales = []float64{0.5, 0.7, 1}

// DefaultSettings are the settings the workflow file uses.
var DefaultSettings = Settings{DB: ocr.DefaultDB, RecBatch: 8, WidthStep: 32, MaxWidth: 4096, ClsScore: 0.9, CropPad: 0.15, Piece: 320, WordGap: 6}

// Timing is the time spent inside ONNX Runtime for one page, per model.
type Timing struct{ Det, Cls, Rec time.Duration }

// Total is the page's model time.
func (t Timing) Total() time.Duration { return t.Det + t.Cls + t.Rec }

// Pipeline holds the three model sessions and the charset.
type Pipeline struct {
	det, rec, cls *ort.DynamicAdvancedSession
	charset       *ocr.Charset
	S             Settings
}

// Open loads the models from dir (see ocr.ModelsDir) on the CPU with the given intra-op threads.
func Open(dir string, threads int, s Settings) (*Pipeline, error) {
	if _, err := onnx.Init(); err != nil {
		return nil, err
	}
	cs, err := ocr.LoadCharset(filepath.Join(dir, ocr.CharsetFile))
	if err != nil {
		return nil, err
	}
	opts, err := onnx.NewSessionOptions("cpu", threads)
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, err
	}
	p := &Pipeline{charset: cs.ASCIIOnly(), S: s}
	open := func(file, out string) (*ort.DynamicAdvancedSession, error) {
		sess, err := ort.NewDynamicAdvancedSession(filepath.Join(dir, file), []string{ocr.ModelInput}, []string{out}, opts)
		if err != nil {
			return nil, fmt.Errorf("loading %s: %w", file, err)
		}
		return sess, nil
	}
	if p.det, err = open(ocr.DetectorFile, ocr.DetectorOutput); err == nil {
		if p.rec, err = open(ocr.RecogniserFile, ocr.RecogniserOutput); err == nil {
			p.cls, err = open(ocr.ClassifierFile, ocr.ClassifierOutput)
		}
	}
	if err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Close releases the sessions.
func (p *Pipeline) Close() {
	for _, s := range []*ort.DynamicAdvancedSession{p.det, p.rec, p.cls} {
		if s != nil {
			s.Destroy()
		}
	}
}

// run executes one session on one float32 input and returns the output's data and shape.
func run(sess *ort.DynamicAdvancedSession, shape []int64, data []float32) ([]float32, []int64, time.Duration, error) {
	in, err := ort.NewTensor(ort.NewShape(shape...), data)
	if err != nil {
		return nil, nil, 0, err
	}
	defer in.Destroy()
	outs := []ort.Value{nil}
	start := time.Now()
	err = sess.Run([]ort.Value{in}, outs)
	d := time.Since(start)
	if err != nil {
		return nil, nil, d, err
	}
	defer outs[0].Destroy()
	t, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		return nil, nil, d, fmt.Errorf("model output is not float32")
	}
	return append([]float32(nil), t.GetData()...), t.GetShape(), d, nil
}

// Detect runs the detector at the given size and returns the line boxes in reading order.
func (p *Pipeline) Detect(page ocr.RGB, size int) ([]ocr.Box, time.Duration, error) {
	in, scale, err := ocr.DetectorInput(page, size)
	if err != nil {
		return nil, 0, err
	}
	prob, shape, d, err := run(p.det, []int64{1, 3, int64(size), int64(size)}, in)
	if err != nil {
		return nil, d, err
	}
	if len(shape) != 4 || shape[2] != int64(size) || shape[3] != int64(size) {
		return nil, d, fmt.Errorf("detector output shape %v", shape)
	}
	boxes, err := ocr.DBBoxes(prob, size, size, scale, page.W, page.H, p.S.DB)
	if err != nil {
		return nil, d, err
	}
	bounds := make([][4]float64, len(boxes))
	for i, b := range boxes {
		bounds[i] = b.Bounds()
	}
	ordered := make([]ocr.Box, 0, len(boxes))
	for _, i := range ocr.ReadingOrder(bounds) {
		ordered = append(ordered, boxes[i])
	}
	return ordered, d, nil
}

// Recognise reads the lines: optional angle classification (turning lines it finds upside down), then
// the recogniser in batches of lines of similar width. Returns one text per line.
func (p *Pipeline) Recognise(lines []ocr.RGB, useCls bool, recScale float64) ([]string, Timing, error) {
	var t Timing
	lines = append([]ocr.RGB(nil), lines...)
	if useCls {
		for start := 0; start < len(lines); start += p.S.RecBatch {
			end := min(len(lines), start+p.S.RecBatch)
			var batch []float32
			for _, l := range lines[start:end] {
				in, err := ocr.ClsInput(l)
				if err != nil {
					return nil, t, err
				}
				batch = append(batch, in...)
			}
			out, _, d, err := run(p.cls, []int64{int64(end - start), 3, ocr.LineHeight, ocr.ClsWidth}, batch)
			t.Cls += d
			if err != nil {
				return nil, t, err
			}
			for i := start; i < end; i++ {
				flip, err := ocr.UpsideDown(out[2*(i-start):2*(i-start)+2], p.S.ClsScore)
				if err != nil {
					return nil, t, err
				}
				if flip {
					lines[i] = lines[i].Rotate180()
				}
			}
		}
	}
	// Long lines are read in pieces; piece texts join with a space.
	var pieces []ocr.RGB
	var owner []int
	for i, l := range lines {
		for _, r := range ocr.SplitLine(l, p.S.Piece, p.S.WordGap) {
			pieces = append(pieces, ocr.Squeeze(l.Sub(r[0], r[1]), recScale))
			owner = append(owner, i)
		}
	}
	ptexts, err := p.recognisePieces(pieces, &t)
	if err != nil {
		return nil, t, err
	}
	texts := make([]string, len(lines))
	for k, s := range ptexts {
		if s == "" {
			continue
		}
		if texts[owner[k]] != "" {
			texts[owner[k]] += " "
		}
		texts[owner[k]] += s
	}
	return texts, t, nil
}

func (p *Pipeline) recognisePieces(lines []ocr.RGB, t *Timing) ([]string, error) {
	// Batch lines of the same width bucket, never padded beyond it: the recogniser mixes information along
	// a line, so a padded line would read differently with other batch-mates (the workflow's Recognise
	// node batches the same way, pad = false, so a run reads what this pipeline reads).
	order := make([]int, len(lines))
	for i := range order {
		order[i] = i
	}
	bucket := func(i int) int { return ocr.BucketWidth(lines[i].W, p.S.WidthStep, p.S.MaxWidth) }
	sort.SliceStable(order, func(a, b int) bool { return lines[order[a]].W < lines[order[b]].W })
	texts := make([]string, len(lines))
	for start, end := 0, 0; start < len(order); start = end {
		width := bucket(order[start])
		for end = start + 1; end < len(order) && end-start < p.S.RecBatch && bucket(order[end]) == width; end++ {
		}
		idx := order[start:end]
		var batch []float32
		for _, i := range idx {
			in, err := ocr.RecInput(lines[i], width)
			if err != nil {
				return nil, err
			}
			batch = append(batch, in...)
		}
		out, shape, d, err := run(p.rec, []int64{int64(len(idx)), 3, ocr.LineHeight, int64(width)}, batch)
		t.Rec += d
		if err != nil {
			return nil, err
		}
		if len(shape) != 3 || shape[0] != int64(len(idx)) {
			return nil, fmt.Errorf("recogniser output shape %v for %d lines", shape, len(idx))
		}
		T, C := int(shape[1]), int(shape[2])
		for k, i := range idx {
			s, _, err := p.charset.Decode(out[k*T*C:(k+1)*T*C], T, C)
			if err != nil {
				return nil, err
			}
			texts[i] = s
		}
	}
	return texts, nil
}

// Crop cuts and rectifies every box.
func (p *Pipeline) Crop(page ocr.RGB, boxes []ocr.Box) ([]ocr.RGB, error) {
	lines := make([]ocr.RGB, len(boxes))
	for i, b := range boxes {
		l, err := ocr.CropLine(page, b, p.S.CropPad, p.S.MaxWidth)
		if err != nil {
			return nil, err
		}
		lines[i] = l
	}
	return lines, nil
}

// Page runs one variant on a page and returns its lines (reading order) and model times.
func (p *Pipeline) Page(page ocr.RGB, v Variant) ([]metrics.Line, Timing, error) {
	boxes, dd, err := p.Detect(page, v.DetSize)
	if err != nil {
		return nil, Timing{Det: dd}, err
	}
	crops, err := p.Crop(page, boxes)
	if err != nil {
		return nil, Timing{Det: dd}, err
	}
	texts, t, err := p.Recognise(crops, v.Cls, v.RecScale)
	t.Det = dd
	if err != nil {
		return nil, t, err
	}
	out := make([]metrics.Line, 0, len(boxes))
	for i, b := range boxes {
		if texts[i] == "" {
			continue
		}
		out = append(out, metrics.Line{Text: texts[i], Box: b.Bounds()})
	}
	return out, t, nil
}
