package ocr

import (
	"math"
	"reflect"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-4 }

func TestDetectorInputScalesPadsAndNormalises(t *testing.T) {
	page := NewRGB(64, 32)
	for i := range page.Pix {
		page.Pix[i] = 255
	}
	// a 2×2 black square at (10..11, 4..5) becomes one black pixel at (5, 2) at half size
	for _, p := range [][2]int{{10, 4}, {11, 4}, {10, 5}, {11, 5}} {
		copy(page.Pix[3*(p[1]*64+p[0]):], []uint8{0, 0, 0})
	}
	in, scale, err := DetectorInput(page, 32)
	if err != nil {
		t.Fatal(err)
	}
	if len(in) != 3*32*32 || scale != 0.5 {
		t.Fatalf("len %d scale %v, want %d and 0.5", len(in), scale, 3*32*32)
	}
	for c := 0; c < 3; c++ {
		white := float64((1 - detMean[c]) / detStd[c])
		black := float64((0 - detMean[c]) / detStd[c])
		plane := in[c*1024 : (c+1)*1024]
		if !near(float64(plane[2*32+5]), black) {
			t.Errorf("channel %d: pixel (5,2) = %v, want black %v", c, plane[2*32+5], black)
		}
		if !near(float64(plane[0]), white) || !near(float64(plane[31*32+31]), white) {
			t.Errorf("channel %d: page pixel %v or padding %v not white %v", c, plane[0], plane[31*32+31], white)
		}
	}
	if _, _, err := DetectorInput(page, 100); err == nil {
		t.Error("size 100 (not a multiple of 32) accepted")
	}
}

func fill(prob []float32, w, x0, y0, x1, y1 int, v float32) {
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			prob[y*w+x] = v
		}
	}
}

func TestDBBoxesFindsUnclipsAndFilters(t *testing.T) {
	const w, h = 100, 60
	prob := make([]float32, w*h)
	fill(prob, w, 10, 10, 50, 18, 0.9)  // a line core 40×8
	fill(prob, w, 60, 40, 62, 42, 0.95) // a 2×2 speck: below min_size
	fill(prob, w, 10, 40, 40, 48, 0.4)  // above thresh but a weak region: mean 0.4 < box_thresh
	boxes, err := DBBoxes(prob, h, w, 0.5, 1000, 1000, DefaultDB)
	if err != nil {
		t.Fatal(err)
	}
	if len(boxes) != 1 {
		t.Fatalf("%d boxes, want 1: %+v", len(boxes), boxes)
	}
	// unclip distance d = area*ratio/perimeter = 320*1.5/96 = 5 → 50×18 in map pixels, ×2 on the page
	want := [4]Point{{10, 10}, {110, 10}, {110, 46}, {10, 46}}
	for i, p := range boxes[0].Quad {
		if !near(p.X, want[i].X) || !near(p.Y, want[i].Y) {
			t.Fatalf("quad %v, want %v", boxes[0].Quad, want)
		}
	}
	if !near(boxes[0].Score, 0.9) {
		t.Errorf("score %v, want 0.9", boxes[0].Score)
	}
	if _, err := DBBoxes(prob[:10], h, w, 0.5, 10, 10, DefaultDB); err == nil {
		t.Error("a map of the wrong size accepted")
	}
}

func TestMinAreaRectOfATurnedLine(t *testing.T) {
	// a 40×6 rectangle turned by about 3°: its minimum-area rectangle keeps the angle, width along x
	const w, h = 80, 40
	prob := make([]float32, w*h)
	a := 3 * math.Pi / 180
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dx, dy := float64(x)+0.5-40, float64(y)+0.5-20
			u, v := dx*math.Cos(a)+dy*math.Sin(a), -dx*math.Sin(a)+dy*math.Cos(a)
			if math.Abs(u) <= 20 && math.Abs(v) <= 3 {
				prob[y*w+x] = 0.9
			}
		}
	}
	boxes, err := DBBoxes(prob, h, w, 1, w, h, DBParams{Thresh: 0.3, BoxThresh: 0.5, Unclip: 0, MinSize: 1, MaxBoxes: 10})
	if err != nil || len(boxes) != 1 {
		t.Fatalf("%v boxes, err %v", boxes, err)
	}
	q := boxes[0].Quad
	got := math.Atan2(q[1].Y-q[0].Y, q[1].X-q[0].X) * 180 / math.Pi
	if math.Abs(got-3) > 1 || math.Abs(boxes[0].Width()-40) > 2 || math.Abs(boxes[0].Height()-6) > 2 {
		t.Errorf("angle %.2f° width %.1f height %.1f, want about 3°, 40, 6", got, boxes[0].Width(), boxes[0].Height())
	}
}

func TestCropLineRectifiesAndRecInputNormalises(t *testing.T) {
	page := NewRGB(200, 100)
	for y := 0; y < 100; y++ {
		for x := 0; x < 200; x++ {
			copy(page.Pix[3*(y*200+x):], []uint8{uint8(x), uint8(y), 7})
		}
	}
	b := Box{Quad: [4]Point{{20, 10}, {116, 10}, {116, 34}, {20, 34}}} // 96×24 → 192×48
	line, err := CropLine(page, b, 0, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if line.W != 192 || line.H != 48 {
		t.Fatalf("crop %dx%d, want 192x48", line.W, line.H)
	}
	// output pixel (u, v) samples page point (20 + (u+0.5)/2 - 0.5, 10 + (v+0.5)/2 - 0.5)
	if got := line.Pix[3*(10*192+40) : 3*(10*192+40)+3]; !reflect.DeepEqual(got, []uint8{40, 15, 7}) {
		t.Errorf("pixel (40,10) = %v, want [40 15 7]", got)
	}
	in, err := RecInput(line, BucketWidth(line.W, 32, 4096))
	if err != nil {
		t.Fatal(err)
	}
	if len(in) != 3*48*192 {
		t.Fatalf("rec input has %d values", len(in))
	}
	// BGR: channel 0 is blue (7), channel 2 red (x)
	if v := in[0]; !near(float64(v), 7/127.5-1) {
		t.Errorf("blue = %v", v)
	}
	if v := in[2*48*192+10*192+40]; !near(float64(v), 40/127.5-1) {
		t.Errorf("red = %v", v)
	}
	if BucketWidth(193, 32, 4096) != 224 || BucketWidth(5000, 32, 4096) != 4096 {
		t.Error("bucket widths")
	}
	cls, err := ClsInput(line)
	if err != nil || len(cls) != 3*48*192 {
		t.Fatalf("cls input %d values, %v", len(cls), err)
	}
	flip, _ := UpsideDown([]float32{0.05, 0.95}, 0.9)
	keep, _ := UpsideDown([]float32{0.15, 0.85}, 0.9)
	if !flip || keep {
		t.Error("UpsideDown")
	}
	r := line.Rotate180()
	if !reflect.DeepEqual(r.Pix[:3], line.Pix[len(line.Pix)-3:]) {
		t.Error("Rotate180 does not move the last pixel first")
	}
}

func TestSplitLineCutsAtWordGaps(t *testing.T) {
	// ink blocks: "word" of 3 letters 8 px wide with 2-px gaps, a 12-px word gap, then another word
	line := NewRGB(100, 48)
	for i := range line.Pix {
		line.Pix[i] = 250
	}
	ink := func(x0, x1 int) {
		for y := 14; y < 34; y++ {
			for x := x0; x < x1; x++ {
				copy(line.Pix[3*(y*100+x):], []uint8{10, 10, 10})
			}
		}
	}
	ink(4, 12)
	ink(14, 22)
	ink(24, 32)
	ink(44, 52) // 12-px gap before
	ink(54, 62)
	got := SplitLine(line, 320, 6)
	want := [][2]int{{0, 38}, {38, 100}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pieces %v, want %v", got, want)
	}
	// a piece limit of 30 px also cuts inside the first word, at its widest gap
	if got := SplitLine(line, 30, 0); len(got) < 4 || got[0][1] > 30 {
		t.Errorf("long-line pieces %v", got)
	}
}

func TestCharsetDecode(t *testing.T) {
	cs := NewCharset([]string{"a", "b", "（", "("})
	if cs.Classes() != 6 {
		t.Fatalf("classes %d, want 6 (blank, 4, space)", cs.Classes())
	}
	// steps: a a blank a b space ( (full-width wins over ASCII by a little)
	rows := [][]float32{
		{0, .9, 0, 0, 0, .1}, {0, .9, 0, 0, 0, .1}, {.9, 0, 0, 0, 0, .1}, {0, .8, 0, 0, 0, .2},
		{0, 0, .7, 0, 0, .3}, {0, 0, 0, 0, 0, 1}, {0, 0, 0, .6, .4, 0},
	}
	var probs []float32
	for _, r := range rows {
		probs = append(probs, r...)
	}
	got, _, err := cs.Decode(probs, len(rows), 6)
	if err != nil || got != "aab （" {
		t.Errorf("Decode = %q, %v; want %q", got, err, "aab （")
	}
	got, _, _ = cs.ASCIIOnly().Decode(probs, len(rows), 6)
	if got != "aab (" {
		t.Errorf("ASCIIOnly Decode = %q, want %q", got, "aab (")
	}
	if _, _, err := cs.Decode(probs, len(rows), 5); err == nil {
		t.Error("a class count that is not the charset's accepted")
	}
}

func TestRowsToleratesJitterAndKeepsLinesApart(t *testing.T) {
	boxes := [][4]float64{
		{300, 52, 340, 66}, // row 2, right (price, slightly lower)
		{10, 10, 200, 30},  // row 1
		{10, 50, 100, 64},  // row 2, left
		{10, 70, 120, 84},  // row 3: close below row 2, overlapping it by nothing
		{150, 12, 180, 31}, // row 1, jittered
	}
	got := Rows(boxes)
	want := [][]int{{1, 4}, {2, 0}, {3}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}
	if s := PageText(boxes, []string{"9.99", "Total", "Milk", "Tax", "due"}); s != "Total due\nMilk 9.99\nTax" {
		t.Errorf("page text %q", s)
	}
}

func TestPageLinesJoinsPieces(t *testing.T) {
	b := [][4]float64{{0, 0, 10, 10}, {0, 0, 10, 10}, {0, 20, 10, 30}, {0, 40, 10, 50}}
	texts, boxes := PageLines([]string{"Hello", "world", "", "again"}, b, []int64{0, 0, 1, 2}, false)
	if !reflect.DeepEqual(texts, []string{"Hello world", "again"}) || boxes[1] != b[3] {
		t.Errorf("lines %q boxes %v", texts, boxes)
	}
}
