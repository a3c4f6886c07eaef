package ocr

import (
	"fmt"
	"math"
	"strings"

	"jellybean/collective"
	"jellybean/job/flow"
)

// The workflow steps of the OCR workload. Tensors between steps (per item, no batch dimension):
//
//	page        uint8   [H, W, 3]      the page, RGB
//	det input   float32 [3, S, S]      ocr_detect_preprocess
//	det scale   float32 [1]            page → detector input pixels
//	det prob    float32 [1, S, S]      the detector's output
//	boxes       float32 [K, 9]         line quads (x, y of TL, TR, BR, BL) and score, reading order
//	piece       uint8   [48, w, 3]     one sub-item per piece of a line (ocr_crop_lines fans out)
//	line box    float32 [4]            the axis-aligned box of the piece's line
//	line index  int64   [1]            the line's index in reading order
//	cls input   float32 [3, 48, 192]   angle classifier input; its output float32 [2]
//	rec input   float32 [3, 48, w']    recogniser input (w' = w·width_scale rounded up to width_step)
//	rec prob    float32 [w'/8, 6625]   the recogniser's output
//	text        uint8   [n]            a piece's text
//
// After the fan-in, ocr_page_text joins the pieces' texts into lines and the page text.
func init() {
	flow.Register("ocr_page", newPageStep)
	flow.Register("ocr_detect_preprocess", newDetPre)
	flow.Register("ocr_db_boxes", newDBBoxes)
	flow.Register("ocr_crop_lines", newCropLines)
	flow.Register("ocr_cls_preprocess", newClsPre)
	flow.Register("ocr_cls_rotate", newClsRotate)
	flow.Register("ocr_rec_preprocess", newRecPre)
	flow.Register("ocr_ctc_decode", newCTCDecode)
	flow.Register("ocr_page_text", newPageText)
}

func spec(name string, dt collective.DType, rank int) flow.TensorSpec {
	return flow.TensorSpec{Name: name, DType: dt, Rank: rank}
}

// names fills empty tensor-name parameters with their defaults and rejects names used twice.
func names(fields map[string]*string) error {
	seen := map[string]string{}
	for param, p := range fields {
		if *p == "" {
			return fmt.Errorf("%s: empty tensor name", param)
		}
		if other, dup := seen[*p]; dup {
			return fmt.Errorf("%s and %s both name tensor %q", param, other, *p)
		}
		seen[*p] = param
	}
	return nil
}

type noClose struct{}

func (noClose) Close() error { return nil }

// pageOf reads a page tensor.
func pageOf(it *flow.Item, name string) (RGB, error) {
	t, err := it.Need(name)
	if err != nil {
		return RGB{}, err
	}
	if t.DType != collective.Uint8 || len(t.Shape) != 3 || t.Shape[2] != 3 || int64(len(t.Data)) != t.Shape[0]*t.Shape[1]*3 {
		return RGB{}, fmt.Errorf("%s: tensor %q is not an RGB image (uint8 [H, W, 3]): %v %v", it.Name(), name, t.DType, t.Shape)
	}
	return RGB{W: int(t.Shape[1]), H: int(t.Shape[0]), Pix: t.Data}, nil
}

func rgbTensor(name string, im RGB) collective.Tensor {
	return collective.Tensor{Name: name, DType: collective.Uint8, Shape: []int64{int64(im.H), int64(im.W), 3}, Data: im.Pix}
}

func float32sOf(it *flow.Item, name string) ([]float32, []int64, error) {
	t, err := it.Need(name)
	if err != nil {
		return nil, nil, err
	}
	v, err := flow.Float32s(t)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: tensor %q: %w", it.Name(), name, err)
	}
	return v, t.Shape, nil
}

// ocr_page (source): decodes the PNG/JPEG named by a manifest field into the page tensor.
type pageStep struct {
	noClose
	Field string `toml:"field"`
	Out   string `toml:"out"`
}

func newPageStep(p flow.Params, env flow.Env) (flow.Step, flow.Signature, error) {
	s := &pageStep{Field: "image", Out: "page"}
	if err := flow.DecodeParams(p, s); err != nil {
		return nil, flow.Signature{}, err
	}
	if s.Field == "" || s.Out == "" {
		return nil, flow.Signature{}, fmt.Errorf("field and out must not be empty")
	}
	return s, flow.Signature{Fields: []string{s.Field}, Writes: []flow.TensorSpec{spec(s.Out, collective.Uint8, 3)}}, nil
}

func (s *pageStep) Process(items []*flow.Item) ([]*flow.Item, error) {
	for _, it := range items {
		path, err := it.Record.Path(s.Field)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.Name(), err)
		}
		page, err := LoadPage(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.Name(), err)
		}
		it.Set(rgbTensor(s.Out, page))
	}
	return items, nil
}

// ocr_detect_preprocess: page → detector input at size S (see DetectorInput) and the scale.
type detPre struct {
	noClose
	Size  int    `toml:"size"`
	In    string `toml:"in"`
	Out   string `toml:"out"`
	Scale string `toml:"scale"`
}

func newDetPre(p flow.Params, env flow.Env) (flow.Step, flow.Signature, error) {
	s := &detPre{In: "page", Out: "det_input", Scale: "det_scale"}
	if err := flow.DecodeParams(p, s); err != nil {
		return nil, flow.Signature{}, err
	}
	if s.Size < 32 || s.Size > 4096 || s.Size%32 != 0 {
		return nil, flow.Signature{}, fmt.Errorf("size = %d: want a multiple of 32 in 32..4096", s.Size)
	}
	if err := names(map[string]*string{"in": &s.In, "out": &s.Out, "scale": &s.Scale}); err != nil {
		return nil, flow.Signature{}, err
	}
	return s, flow.Signature{Reads: []flow.TensorSpec{spec(s.In, collective.Uint8, 3)},
		Writes: []flow.TensorSpec{spec(s.Out, collective.Float32, 3), spec(s.Scale, collective.Float32, 1)}}, nil
}

func (s *detPre) Process(items []*flow.Item) ([]*flow.Item, error) {
	for _, it := range items {
		page, err := pageOf(it, s.In)
		if err != nil {
			return nil, err
		}
		in, scale, err := DetectorInput(page, s.Size)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.Name(), err)
		}
		n := int64(s.Size)
		it.Set(collective.FromFloat32s(s.Out, []int64{3, n, n}, in))
		it.Set(collective.FromFloat32s(s.Scale, []int64{1}, []float32{float32(scale)}))
	}
	return items, nil
}

// ocr_db_boxes: detector probability map → line boxes in page pixels, reading order.
type dbBoxes struct {
	noClose
	Prob      string  `toml:"prob"`
	Scale     string  `toml:"scale"`
	Page      string  `toml:"page"`
	Out       string  `toml:"out"`
	Thresh    float64 `toml:"thresh"`
	BoxThresh float64 `toml:"box_thresh"`
	Unclip    float64 `toml:"unclip"`
	MinSize   float64 `toml:"min_size"`
	MaxBoxes  int     `toml:"max_boxes"`
}

func newDBBoxes(p flow.Params, env flow.Env) (flow.Step, flow.Signature, error) {
	d := DefaultDB
	s := &dbBoxes{Prob: "det_prob", Scale: "det_scale", Page: "page", Out: "boxes",
		Thresh: d.Thresh, BoxThresh: d.BoxThresh, Unclip: d.Unclip, MinSize: d.MinSize, MaxBoxes: d.MaxBoxes}
	if err := flow.DecodeParams(p, s); err != nil {
		return nil, flow.Signature{}, err
	}
	if err := s.params().Validate(); err != nil {
		return nil, flow.Signature{}, err
	}
	if err := names(map[string]*string{"prob": &s.Prob, "scale": &s.Scale, "page": &s.Page, "out": &s.Out}); err != nil {
		return nil, flow.Signature{}, err
	}
	return s, flow.Signature{
		Reads:  []flow.TensorSpec{spec(s.Prob, collective.Float32, 3), spec(s.Scale, collective.Float32, 1), spec(s.Page, collective.Uint8, 3)},
		Writes: []flow.TensorSpec{spec(s.Out, collective.Float32, 2)}}, nil
}

func (s *dbBoxes) params() DBParams {
	return DBParams{Thresh: s.Thresh, BoxThresh: s.BoxThresh, Unclip: s.Unclip, MinSize: s.MinSize, MaxBoxes: s.MaxBoxes}
}

func (s *dbBoxes) Process(items []*flow.Item) ([]*flow.Item, error) {
	for _, it := range items {
		prob, shape, err := float32sOf(it, s.Prob)
		if err != nil {
			return nil, err
		}
		if len(shape) != 3 || shape[0] != 1 {
			return nil, fmt.Errorf("%s: probability map %q has shape %v, want [1, H, W]", it.Name(), s.Prob, shape)
		}
		sc, _, err := float32sOf(it, s.Scale)
		if err != nil {
			return nil, err
		}
		if len(sc) != 1 {
			return nil, fmt.Errorf("%s: scale %q: want one value", it.Name(), s.Scale)
		}
		page, err := pageOf(it, s.Page)
		if err != nil {
			return nil, err
		}
		boxes, err := DBBoxes(prob, int(shape[1]), int(shape[2]), float64(sc[0]), page.W, page.H, s.params())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.Name(), err)
		}
		it.Set(boxesTensor(s.Out, SortBoxes(boxes)))
	}
	return items, nil
}

// SortBoxes returns the boxes in reading order.
func SortBoxes(boxes []Box) []Box {
	bounds := make([][4]float64, len(boxes))
	for i, b := range boxes {
		bounds[i] = b.Bounds()
	}
	out := make([]Box, 0, len(boxes))
	for _, i := range ReadingOrder(bounds) {
		out = append(out, boxes[i])
	}
	return out
}

func boxesTensor(name string, boxes []Box) collective.Tensor {
	v := make([]float32, 0, 9*len(boxes))
	for _, b := range boxes {
		for _, p := range b.Quad {
			v = append(v, float32(p.X), float32(p.Y))
		}
		v = append(v, float32(b.Score))
	}
	return collective.FromFloat32s(name, []int64{int64(len(boxes)), 9}, v)
}

func boxesOf(it *flow.Item, name string) ([]Box, error) {
	v, shape, err := float32sOf(it, name)
	if err != nil {
		return nil, err
	}
	if len(shape) != 2 || shape[1] != 9 {
		return nil, fmt.Errorf("%s: boxes %q have shape %v, want [K, 9]", it.Name(), name, shape)
	}
	boxes := make([]Box, shape[0])
	for i := range boxes {
		r := v[9*i : 9*i+9]
		for k := range 4 {
			boxes[i].Quad[k] = Point{float64(r[2*k]), float64(r[2*k+1])}
		}
		boxes[i].Score = float64(r[8])
	}
	return boxes, nil
}

// ocr_crop_lines (fan-out): page + boxes → one sub-item per piece of each line, lines in reading order.
type cropLines struct {
	noClose
	Page      string  `toml:"page"`
	Boxes     string  `toml:"boxes"`
	Out       string  `toml:"out"`
	LineBox   string  `toml:"line_box"`
	LineIndex string  `toml:"line_index"`
	Pad       float64 `toml:"pad"`       // crops grow by this fraction of the box height on every side
	Piece     int     `toml:"piece"`     // longest piece (pixels at height 48)
	WordGap   int     `toml:"word_gap"`  // narrowest gap that separates words (pixels at height 48)
	MaxWidth  int     `toml:"max_width"` // widest line crop before pieces are cut

	cacheBytes int // crops kept between Stream's passes (cropCacheBytes; tests lower it)
}

func newCropLines(p flow.Params, env flow.Env) (flow.Step, flow.Signature, error) {
	s := &cropLines{Page: "page", Boxes: "boxes", Out: "piece", LineBox: "line_box", LineIndex: "line_index",
		Pad: 0.15, Piece: 320, WordGap: 6, MaxWidth: 4096, cacheBytes: cropCacheBytes}
	if err := flow.DecodeParams(p, s); err != nil {
		return nil, flow.Signature{}, err
	}
	switch {
	case !(s.Pad >= 0 && s.Pad <= 2):
		return nil, flow.Signature{}, fmt.Errorf("pad = %v: want 0..2", s.Pad)
	case s.Piece < 16:
		return nil, flow.Signature{}, fmt.Errorf("piece = %d: want >= 16", s.Piece)
	case s.WordGap < 0:
		return nil, flow.Signature{}, fmt.Errorf("word_gap = %d: want >= 0 (0: never cut at words)", s.WordGap)
	case s.MaxWidth < s.Piece:
		return nil, flow.Signature{}, fmt.Errorf("max_width = %d: want >= piece (%d)", s.MaxWidth, s.Piece)
	}
	if err := names(map[string]*string{"page": &s.Page, "boxes": &s.Boxes, "out": &s.Out, "line_box": &s.LineBox, "line_index": &s.LineIndex}); err != nil {
		return nil, flow.Signature{}, err
	}
	return s, flow.Signature{FanOut: true,
		Reads:  []flow.TensorSpec{spec(s.Page, collective.Uint8, 3), spec(s.Boxes, collective.Float32, 2)},
		Writes: []flow.TensorSpec{spec(s.Out, collective.Uint8, 3), spec(s.LineBox, collective.Float32, 1), spec(s.LineIndex, collective.Int64, 1)}}, nil
}

func (s *cropLines) Process(items []*flow.Item) ([]*flow.Item, error) {
	var out []*flow.Item
	for _, it := range items {
		if err := s.Stream(it, func(c *flow.Item) error { out = append(out, c); return nil }); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// cropCacheBytes bounds the bytes of line crops one page keeps between the two passes of
// cropLines.Stream (a typical line is 20–80 KB; a page of 60 long lines fits).
const cropCacheBytes = 8 << 20

// Stream hands on the page's pieces one at a time (flow.Streamer). A first pass crops each line to find
// where it splits (the family's size must be known before its first piece leaves) and keeps the crops
// while they fit in cropCacheBytes; the second hands the pieces on, cropping again only the lines not
// kept, so a page dense with long lines holds a bounded amount however many lines it has. Cropping is
// deterministic: both passes cut the same pieces.
func (s *cropLines) Stream(it *flow.Item, emit func(*flow.Item) error) error {
	page, err := pageOf(it, s.Page)
	if err != nil {
		return err
	}
	boxes, err := boxesOf(it, s.Boxes)
	if err != nil {
		return err
	}
	crop := func(i int) (RGB, [][2]int, error) {
		line, err := CropLine(page, boxes[i], s.Pad, s.MaxWidth)
		if err != nil {
			return RGB{}, nil, fmt.Errorf("%s: line %d: %w", it.Name(), i, err)
		}
		return line, SplitLine(line, s.Piece, s.WordGap), nil
	}
	total, kept := 0, 0
	lines := make([]RGB, len(boxes))
	cutsOf := make([][][2]int, len(boxes))
	for i := range boxes {
		line, cuts, err := crop(i)
		if err != nil {
			return err
		}
		total += len(cuts)
		cutsOf[i] = cuts
		if kept+len(line.Pix) <= s.cacheBytes {
			lines[i], kept = line, kept+len(line.Pix)
		}
	}
	if total == 0 {
		return emit(it.Child(0, 0)) // a placeholder: the page has no text
	}
	k := 0
	for i, b := range boxes {
		line, cuts := lines[i], cutsOf[i]
		lines[i] = RGB{} // handed on below: the pieces are copies
		if line.Pix == nil {
			var err error
			if line, cuts, err = crop(i); err != nil {
				return err
			}
		}
		bb := b.Bounds()
		for _, r := range cuts {
			c := it.Child(k, total)
			k++
			c.Set(rgbTensor(s.Out, line.Sub(r[0], r[1])))
			c.Set(collective.FromFloat32s(s.LineBox, []int64{4}, []float32{float32(bb[0]), float32(bb[1]), float32(bb[2]), float32(bb[3])}))
			c.Set(collective.FromInt64s(s.LineIndex, []int64{1}, []int64{int64(i)}))
			if err := emit(c); err != nil {
				return err
			}
		}
	}
	if k != total {
		return fmt.Errorf("%s: the second cropping pass cut %d pieces, the first %d", it.Name(), k, total)
	}
	return nil
}

// ocr_cls_preprocess: piece → angle classifier input.
type clsPre struct {
	noClose
	In  string `toml:"in"`
	Out string `toml:"out"`
}

func newClsPre(p flow.Params, env flow.Env) (flow.Step, flow.Signature, error) {
	s := &clsPre{In: "piece", Out: "cls_input"}
	if err := flow.DecodeParams(p, s); err != nil {
		return nil, flow.Signature{}, err
	}
	if err := names(map[string]*string{"in": &s.In, "out": &s.Out}); err != nil {
		return nil, flow.Signature{}, err
	}
	return s, flow.Signature{Reads: []flow.TensorSpec{spec(s.In, collective.Uint8, 3)}, Writes: []flow.TensorSpec{spec(s.Out, collective.Float32, 3)}}, nil
}

func (s *clsPre) Process(items []*flow.Item) ([]*flow.Item, error) {
	for _, it := range items {
		line, err := pageOf(it, s.In)
		if err != nil {
			return nil, err
		}
		in, err := ClsInput(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.Name(), err)
		}
		it.Set(collective.FromFloat32s(s.Out, []int64{3, LineHeight, ClsWidth}, in))
	}
	return items, nil
}

// ocr_cls_rotate: turns a piece upside down when the angle classifier says it is.
type clsRotate struct {
	noClose
	Probs    string  `toml:"probs"`
	Line     string  `toml:"line"`
	MinScore float64 `toml:"min_score"`
}

func newClsRotate(p flow.Params, env flow.Env) (flow.Step, flow.Signature, error) {
	s := &clsRotate{Probs: "cls_prob", Line: "piece", MinScore: 0.9}
	if err := flow.DecodeParams(p, s); err != nil {
		return nil, flow.Signature{}, err
	}
	if !(s.MinScore >= 0.5 && s.MinScore <= 1) {
		return nil, flow.Signature{}, fmt.Errorf("min_score = %v: want 0.5..1", s.MinScore)
	}
	if err := names(map[string]*string{"probs": &s.Probs, "line": &s.Line}); err != nil {
		return nil, flow.Signature{}, err
	}
	return s, flow.Signature{Reads: []flow.TensorSpec{spec(s.Probs, collective.Float32, 1), spec(s.Line, collective.Uint8, 3)},
		Writes: []flow.TensorSpec{spec(s.Line, collective.Uint8, 3)}}, nil
}

func (s *clsRotate) Process(items []*flow.Item) ([]*flow.Item, error) {
	for _, it := range items {
		probs, _, err := float32sOf(it, s.Probs)
		if err != nil {
			return nil, err
		}
		flip, err := UpsideDown(probs, s.MinScore)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.Name(), err)
		}
		if flip {
			line, err := pageOf(it, s.Line)
			if err != nil {
				return nil, err
			}
			it.Set(rgbTensor(s.Line, line.Rotate180()))
		}
	}
	return items, nil
}

// ocr_rec_preprocess: piece → recogniser input, width rounded up to width_step.
type recPre struct {
	noClose
	In         string  `toml:"in"`
	Out        string  `toml:"out"`
	WidthStep  int     `toml:"width_step"`
	WidthScale float64 `toml:"width_scale"` // see Squeeze: below 1, cheaper and less accurate
}

func newRecPre(p flow.Params, env flow.Env) (flow.Step, flow.Signature, error) {
	s := &recPre{In: "piece", Out: "rec_input", WidthStep: 32, WidthScale: 1}
	if err := flow.DecodeParams(p, s); err != nil {
		return nil, flow.Signature{}, err
	}
	if !(s.WidthScale >= 0.2 && s.WidthScale <= 1) {
		return nil, flow.Signature{}, fmt.Errorf("width_scale = %v: want 0.2..1", s.WidthScale)
	}
	if s.WidthStep < 8 || s.WidthStep%8 != 0 {
		return nil, flow.Signature{}, fmt.Errorf("width_step = %d: want a positive multiple of 8 (the recogniser's stride)", s.WidthStep)
	}
	if err := names(map[string]*string{"in": &s.In, "out": &s.Out}); err != nil {
		return nil, flow.Signature{}, err
	}
	return s, flow.Signature{Reads: []flow.TensorSpec{spec(s.In, collective.Uint8, 3)}, Writes: []flow.TensorSpec{spec(s.Out, collective.Float32, 3)}}, nil
}

func (s *recPre) Process(items []*flow.Item) ([]*flow.Item, error) {
	for _, it := range items {
		line, err := pageOf(it, s.In)
		if err != nil {
			return nil, err
		}
		line = Squeeze(line, s.WidthScale)
		w := BucketWidth(line.W, s.WidthStep, math.MaxInt32)
		in, err := RecInput(line, w)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.Name(), err)
		}
		it.Set(collective.FromFloat32s(s.Out, []int64{3, LineHeight, int64(w)}, in))
	}
	return items, nil
}

// ocr_ctc_decode: recogniser output [T, C] → text, with the PP-OCR class convention (see Charset).
type ctcDecode struct {
	noClose
	In        string `toml:"in"`
	Out       string `toml:"out"`
	Charset   string `toml:"charset"`
	ASCIIOnly bool   `toml:"ascii_only"`

	cs *Charset
}

func newCTCDecode(p flow.Params, env flow.Env) (flow.Step, flow.Signature, error) {
	s := &ctcDecode{In: "rec_prob", Out: "text"}
	if err := flow.DecodeParams(p, s); err != nil {
		return nil, flow.Signature{}, err
	}
	if s.Charset == "" {
		return nil, flow.Signature{}, fmt.Errorf("charset: the character list file is required")
	}
	if err := names(map[string]*string{"in": &s.In, "out": &s.Out}); err != nil {
		return nil, flow.Signature{}, err
	}
	cs, err := LoadCharset(env.Path(s.Charset))
	if err != nil {
		return nil, flow.Signature{}, fmt.Errorf("charset: %w", err)
	}
	if s.ASCIIOnly {
		cs = cs.ASCIIOnly()
	}
	s.cs = cs
	return s, flow.Signature{Reads: []flow.TensorSpec{spec(s.In, collective.Float32, 2)}, Writes: []flow.TensorSpec{spec(s.Out, collective.Uint8, 1)}}, nil
}

func (s *ctcDecode) Process(items []*flow.Item) ([]*flow.Item, error) {
	for _, it := range items {
		v, shape, err := float32sOf(it, s.In)
		if err != nil {
			return nil, err
		}
		if len(shape) != 2 {
			return nil, fmt.Errorf("%s: %q has shape %v, want [T, C]", it.Name(), s.In, shape)
		}
		text, _, err := s.cs.Decode(v, int(shape[0]), int(shape[1]))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.Name(), err)
		}
		it.Set(flow.Text(s.Out, text))
	}
	return items, nil
}

// ocr_page_text (after the fan-in): the pieces' texts, line boxes and line indices, as lists → each
// line's text (pieces joined by a space), its box, and the page text in reading order.
type pageText struct {
	noClose
	Texts     string `toml:"texts"`
	LineBoxes string `toml:"line_boxes"`
	LineIndex string `toml:"line_index"`
	Out       string `toml:"out"`
	OutLines  string `toml:"out_lines"`
	OutBoxes  string `toml:"out_boxes"`
	KeepEmpty bool   `toml:"keep_empty"`
}

func newPageText(p flow.Params, env flow.Env) (flow.Step, flow.Signature, error) {
	s := &pageText{Texts: "text", LineBoxes: "line_box", LineIndex: "line_index", Out: "page_text", OutLines: "line_texts", OutBoxes: "line_boxes"}
	if err := flow.DecodeParams(p, s); err != nil {
		return nil, flow.Signature{}, err
	}
	if err := names(map[string]*string{"texts": &s.Texts, "line_boxes": &s.LineBoxes, "line_index": &s.LineIndex,
		"out": &s.Out, "out_lines": &s.OutLines, "out_boxes": &s.OutBoxes}); err != nil {
		return nil, flow.Signature{}, err
	}
	return s, flow.Signature{
		Reads: []flow.TensorSpec{spec(s.Texts, collective.Uint8, 2), spec(s.LineBoxes, collective.Float32, 2), spec(s.LineIndex, collective.Int64, 2)},
		Writes: []flow.TensorSpec{spec(s.Out, collective.Uint8, 1), spec(s.OutLines, collective.Uint8, 2),
			spec(s.OutBoxes, collective.Float32, 2)}}, nil
}

// PageLines joins piece texts into lines: pieces of one line (same index) in order, separated by a space;
// lines that read as nothing are dropped unless keepEmpty. It returns the lines' texts and boxes in the
// order of their indices.
func PageLines(texts []string, boxes [][4]float64, index []int64, keepEmpty bool) ([]string, [][4]float64) {
	var outT []string
	var outB [][4]float64
	last := int64(-1)
	for k, t := range texts {
		if k == 0 || index[k] != last {
			outT, outB = append(outT, ""), append(outB, boxes[k])
			last = index[k]
		}
		if t == "" {
			continue
		}
		if n := len(outT) - 1; outT[n] == "" {
			outT[n] = t
		} else {
			outT[n] += " " + t
		}
	}
	if keepEmpty {
		return outT, outB
	}
	var t2 []string
	var b2 [][4]float64
	for i, t := range outT {
		if t != "" {
			t2, b2 = append(t2, t), append(b2, outB[i])
		}
	}
	return t2, b2
}

func (s *pageText) Process(items []*flow.Item) ([]*flow.Item, error) {
	for _, it := range items {
		tt, err := it.Need(s.Texts)
		if err != nil {
			return nil, err
		}
		if tt.DType != collective.Uint8 || len(tt.Shape) != 2 {
			return nil, fmt.Errorf("%s: %q is not a list of texts (uint8 [n, len])", it.Name(), s.Texts)
		}
		n, width := int(tt.Shape[0]), int(tt.Shape[1])
		texts := make([]string, n)
		for k := range texts {
			texts[k] = strings.TrimRight(string(tt.Data[k*width:(k+1)*width]), "\x00")
		}
		bv, bshape, err := float32sOf(it, s.LineBoxes)
		if err != nil {
			return nil, err
		}
		it0, err := it.Need(s.LineIndex)
		if err != nil {
			return nil, err
		}
		idx, err := flow.Int64s(it0)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", it.Name(), s.LineIndex, err)
		}
		if len(bshape) != 2 || int(bshape[0]) != n || bshape[1] != 4 || len(idx) != n {
			return nil, fmt.Errorf("%s: %d texts, line boxes %v and %d line indices do not match", it.Name(), n, bshape, len(idx))
		}
		boxes := make([][4]float64, n)
		for k := range boxes {
			for j := range 4 {
				boxes[k][j] = float64(bv[4*k+j])
			}
		}
		lines, lboxes := PageLines(texts, boxes, idx, s.KeepEmpty)
		it.Set(flow.Text(s.Out, PageText(lboxes, lines)))
		it.Set(textList(s.OutLines, lines))
		flat := make([]float32, 0, 4*len(lboxes))
		for _, b := range lboxes {
			flat = append(flat, float32(b[0]), float32(b[1]), float32(b[2]), float32(b[3]))
		}
		it.Set(collective.FromFloat32s(s.OutBoxes, []int64{int64(len(lboxes)), 4}, flat))
	}
	return items, nil
}

// textList makes a uint8 [n, longest] table of texts padded with zero bytes (the engine's list form).
func textList(name string, texts []string) collective.Tensor {
	longest := 0
	for _, t := range texts {
		longest = max(longest, len(t))
	}
	data := make([]byte, len(texts)*longest)
	for k, t := range texts {
		copy(data[k*longest:], t)
	}
	return collective.Tensor{Name: name, DType: collective.Uint8, Shape: []int64{int64(len(texts)), int64(longest)}, Data: data}
}
