package ocr

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"jellybean/collective"
	"jellybean/job/flow"
)

func build(t *testing.T, name string, p flow.Params, env flow.Env) (flow.Step, flow.Signature) {
	t.Helper()
	f, ok := flow.Lookup(name)
	if !ok {
		t.Fatalf("step %q not registered", name)
	}
	s, sig, err := f(p, env)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s, sig
}

func TestStepsRejectBadParameters(t *testing.T) {
	for _, c := range []struct {
		step string
		p    flow.Params
		want string
	}{
		{"ocr_detect_preprocess", flow.Params{"size": int64(500)}, "multiple of 32"},
		{"ocr_detect_preprocess", flow.Params{"size": int64(480), "sise": int64(1)}, "unknown parameter"},
		{"ocr_db_boxes", flow.Params{"thresh": 1.5}, "thresh"},
		{"ocr_db_boxes", flow.Params{"out": "page"}, "both name tensor"},
		{"ocr_crop_lines", flow.Params{"pad": -1.0}, "pad"},
		{"ocr_crop_lines", flow.Params{"piece": int64(400), "max_width": int64(300)}, "max_width"},
		{"ocr_rec_preprocess", flow.Params{"width_step": int64(12)}, "multiple of 8"},
		{"ocr_rec_preprocess", flow.Params{"width_scale": 0.1}, "width_scale"},
		{"ocr_cls_rotate", flow.Params{"min_score": 0.2}, "min_score"},
		{"ocr_ctc_decode", flow.Params{}, "charset"},
		{"ocr_ctc_decode", flow.Params{"charset": "missing.txt"}, "missing.txt"},
	} {
		f, _ := flow.Lookup(c.step)
		if _, _, err := f(c.p, flow.Env{Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: error %v, want one mentioning %q", c.step, c.p, err, c.want)
		}
	}
}

// TestStepChainWithoutModels runs the steps around the models on a drawn page: a probability map with two
// text lines stands in for the detector, and the recogniser's output is made by hand.
func TestStepChainWithoutModels(t *testing.T) {
	page := NewRGB(200, 100)
	for i := range page.Pix {
		page.Pix[i] = 240
	}
	// two "lines" of ink blocks; the second has a word gap
	ink := func(x0, x1, y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				copy(page.Pix[3*(y*200+x):], []uint8{20, 20, 20})
			}
		}
	}
	for x := 20; x < 100; x += 10 {
		ink(x, x+7, 20, 30)
	}
	for _, x0 := range []int{20, 90} { // two words of letters 5 px wide, 2 px apart, 30 px between the words
		for x := x0; x < x0+40; x += 7 {
			ink(x, x+5, 60, 70)
		}
	}
	it := &flow.Item{ID: 7}
	it.Set(rgbTensor("page", page))

	pre, sig := build(t, "ocr_detect_preprocess", flow.Params{"size": int64(64)}, flow.Env{})
	if !reflect.DeepEqual(sig.Writes, []flow.TensorSpec{{Name: "det_input", DType: collective.Float32, Rank: 3}, {Name: "det_scale", DType: collective.Float32, Rank: 1}}) {
		t.Errorf("detect preprocess writes %v", sig.Writes)
	}
	if _, err := pre.Process([]*flow.Item{it}); err != nil {
		t.Fatal(err)
	}
	if d, _ := it.Tensor("det_input"); !reflect.DeepEqual(d.Shape, []int64{3, 64, 64}) {
		t.Fatalf("det_input shape %v", d.Shape)
	}
	// the detector's stand-in: the lines' cores at the input scale (64/200)
	prob := make([]float32, 64*64)
	fill(prob, 64, 7, 7, 32, 10, 0.9)  // line 1: x 20..100, y 22..31 on the page
	fill(prob, 64, 7, 20, 42, 23, 0.9) // line 2: x 20..130, y 62..72
	it.Set(collective.FromFloat32s("det_prob", []int64{1, 64, 64}, prob))
	db, _ := build(t, "ocr_db_boxes", flow.Params{}, flow.Env{})
	if _, err := db.Process([]*flow.Item{it}); err != nil {
		t.Fatal(err)
	}
	if b, _ := it.Tensor("boxes"); !reflect.DeepEqual(b.Shape, []int64{2, 9}) {
		t.Fatalf("boxes shape %v, want [2 9]", b.Shape)
	}
	crop, sig := build(t, "ocr_crop_lines", flow.Params{"pad": 0.15}, flow.Env{})
	if !sig.FanOut {
		t.Error("ocr_crop_lines does not declare a fan-out")
	}
	kids, err := crop.Process([]*flow.Item{it})
	if err != nil {
		t.Fatal(err)
	}
	// line 1 is one piece (its gaps are narrow), line 2 two (a wide gap between its words)
	var lines []int64
	for k, c := range kids {
		if c.ID != 7 || !reflect.DeepEqual(c.Sub, []int32{int32(k)}) || !reflect.DeepEqual(c.SubN, []int32{int32(len(kids))}) {
			t.Fatalf("child %d: id %d sub %v of %v", k, c.ID, c.Sub, c.SubN)
		}
		li, _ := c.Tensor("line_index")
		v, _ := flow.Int64s(li)
		lines = append(lines, v[0])
		p, _ := c.Tensor("piece")
		if p.Shape[0] != 48 || p.Shape[2] != 3 {
			t.Errorf("piece shape %v", p.Shape)
		}
	}
	if !reflect.DeepEqual(lines, []int64{0, 1, 1}) {
		t.Fatalf("pieces belong to lines %v, want [0 1 1]", lines)
	}
	rec, _ := build(t, "ocr_rec_preprocess", flow.Params{"width_step": int64(32)}, flow.Env{})
	if _, err := rec.Process(kids); err != nil {
		t.Fatal(err)
	}
	for _, c := range kids {
		r, _ := c.Tensor("rec_input")
		if r.Shape[0] != 3 || r.Shape[1] != 48 || r.Shape[2]%32 != 0 {
			t.Errorf("rec_input shape %v", r.Shape)
		}
	}
	// the recogniser's stand-in: one frame per piece naming one character
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keys.txt"), []byte("A\nB\nC\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dec, _ := build(t, "ocr_ctc_decode", flow.Params{"charset": "keys.txt"}, flow.Env{Dir: dir})
	for k, c := range kids {
		row := make([]float32, 5) // blank, A, B, C, space
		row[1+k] = 1
		c.Set(collective.FromFloat32s("rec_prob", []int64{1, 5}, row))
	}
	if _, err := dec.Process(kids); err != nil {
		t.Fatal(err)
	}
	// the fan-in's lists, as the engine makes them
	parent := &flow.Item{ID: 7}
	for _, name := range []string{"text", "line_box", "line_index"} {
		var ts []collective.Tensor
		for _, c := range kids {
			x, _ := c.Tensor(name)
			ts = append(ts, x)
		}
		list, err := flow.Stack(name, ts)
		if err != nil {
			t.Fatal(err)
		}
		parent.Set(list)
	}
	pt, _ := build(t, "ocr_page_text", flow.Params{}, flow.Env{})
	if _, err := pt.Process([]*flow.Item{parent}); err != nil {
		t.Fatal(err)
	}
	if s, _ := flow.TextOf(parent, "page_text"); s != "A\nB C" {
		t.Errorf("page text %q, want %q", s, "A\nB C")
	}
	if lb, _ := parent.Tensor("line_boxes"); !reflect.DeepEqual(lb.Shape, []int64{2, 4}) {
		t.Errorf("line_boxes shape %v", lb.Shape)
	}
}
