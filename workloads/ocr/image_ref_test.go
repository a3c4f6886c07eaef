package ocr

import (
	"bytes"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"jellybean/job/flow"
)

// The straightforward forms of the image code's sampling, resizing, detector input, cropping and ink
// columns: the fast
// ones must give the same bytes (the recogniser reads what they give, so a changed pixel changes text).

func refAt(im RGB, x, y, c int) float64 {
	x = min(max(x, 0), im.W-1)
	y = min(max(y, 0), im.H-1)
	return float64(im.Pix[3*(y*im.W+x)+c])
}

func refSample(im RGB, x, y float64, c int) float64 {
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := x-x0, y-y0
	ix, iy := int(x0), int(y0)
	return (refAt(im, ix, iy, c)*(1-fx)+refAt(im, ix+1, iy, c)*fx)*(1-fy) +
		(refAt(im, ix, iy+1, c)*(1-fx)+refAt(im, ix+1, iy+1, c)*fx)*fy
}

func refResize(im RGB, w, h int) RGB {
	out := NewRGB(w, h)
	sx, sy := float64(im.W)/float64(w), float64(im.H)/float64(h)
	for y := 0; y < h; y++ {
		fy := (float64(y)+0.5)*sy - 0.5
		for x := 0; x < w; x++ {
			fx := (float64(x)+0.5)*sx - 0.5
			for c := 0; c < 3; c++ {
				out.Pix[3*(y*w+x)+c] = uint8(math.Round(refSample(im, fx, fy, c)))
			}
		}
	}
	return out
}

func refCropLine(page RGB, b Box, pad float64, maxWidth int) RGB {
	b = b.Grow(pad * b.Height())
	bw, bh := b.Width(), b.Height()
	w := min(maxWidth, max(8, int(math.Round(LineHeight*bw/bh))))
	out := NewRGB(w, LineHeight)
	tl, tr, bl := b.Quad[0], b.Quad[1], b.Quad[3]
	for v := 0; v < LineHeight; v++ {
		fv := (float64(v) + 0.5) / LineHeight
		for u := 0; u < w; u++ {
			fu := (float64(u) + 0.5) / float64(w)
			x := tl.X + fu*(tr.X-tl.X) + fv*(bl.X-tl.X) - 0.5
			y := tl.Y + fu*(tr.Y-tl.Y) + fv*(bl.Y-tl.Y) - 0.5
			for c := 0; c < 3; c++ {
				out.Pix[3*(v*w+u)+c] = uint8(math.Round(refSample(page, x, y, c)))
			}
		}
	}
	return out
}

func refDetectorInput(page RGB, limit int) []float32 {
	scale := float64(limit) / float64(max(page.W, page.H))
	w := min(limit, max(1, int(math.Round(float64(page.W)*scale))))
	h := min(limit, max(1, int(math.Round(float64(page.H)*scale))))
	small := refResize(page, w, h)
	plane := limit * limit
	out := make([]float32, 3*plane)
	for c := 0; c < 3; c++ {
		for i := range plane {
			out[c*plane+i] = (1 - detMean[c]) / detStd[c]
		}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				v := float32(small.Pix[3*(y*w+x)+c]) / 255
				out[c*plane+y*limit+x] = (v - detMean[c]) / detStd[c]
			}
		}
	}
	return out
}

func refColumnInk(line RGB) []bool {
	y0, y1 := line.H/8, line.H-line.H/8
	var grey []int
	for y := y0; y < y1; y++ {
		for x := 0; x < line.W; x++ {
			o := 3 * (y*line.W + x)
			grey = append(grey, (int(line.Pix[o])+int(line.Pix[o+1])+int(line.Pix[o+2]))/3)
		}
	}
	sorted := append([]int(nil), grey...)
	sort.Ints(sorted)
	paper, dark := sorted[len(sorted)*4/5], sorted[0]
	ink := make([]bool, line.W)
	if paper-dark < 40 {
		return ink
	}
	for i, g := range grey {
		if g < (paper+dark)/2 {
			ink[i%line.W] = true
		}
	}
	return ink
}

// randomPage is a page of random pixels with some dark blocks (so the ink columns see contrast).
func randomPage(rng *rand.Rand, w, h int) RGB {
	im := NewRGB(w, h)
	for i := range im.Pix {
		im.Pix[i] = uint8(180 + rng.IntN(76))
	}
	for range 20 {
		x0, y0 := rng.IntN(w), rng.IntN(h)
		for y := y0; y < min(h, y0+rng.IntN(20)+1); y++ {
			for x := x0; x < min(w, x0+rng.IntN(30)+1); x++ {
				for c := range 3 {
					im.Pix[3*(y*w+x)+c] = uint8(rng.IntN(60))
				}
			}
		}
	}
	return im
}

func TestImageCodeMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 40 {
		page := randomPage(rng, 40+rng.IntN(300), 30+rng.IntN(300))
		w, h := 1+rng.IntN(400), 1+rng.IntN(400)
		if got, want := page.Resize(w, h), refResize(page, w, h); !bytes.Equal(got.Pix, want.Pix) {
			t.Fatalf("trial %d: Resize %dx%d -> %dx%d differs from the reference", trial, page.W, page.H, w, h)
		}
		if trial%8 == 0 {
			got, _, err := DetectorInput(page, 320)
			if err != nil {
				t.Fatal(err)
			}
			want := refDetectorInput(page, 320)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("trial %d: DetectorInput differs from the reference at %d: %v, want %v", trial, i, got[i], want[i])
				}
			}
		}
		// a turned box, partly off the page sometimes (edge pixels extend outwards)
		cx, cy := rng.Float64()*float64(page.W), rng.Float64()*float64(page.H)
		bw, bh, a := 10+rng.Float64()*200, 5+rng.Float64()*40, (rng.Float64()-0.5)*0.3
		ux, uy, vx, vy := math.Cos(a), math.Sin(a), -math.Sin(a), math.Cos(a)
		p := func(s, t float64) Point { return Point{cx + s*bw*ux + t*bh*vx, cy + s*bw*uy + t*bh*vy} }
		box := Box{Quad: [4]Point{p(-0.5, -0.5), p(0.5, -0.5), p(0.5, 0.5), p(-0.5, 0.5)}, Score: 1}
		got, err := CropLine(page, box, 0.15, 4096)
		if err != nil {
			t.Fatal(err)
		}
		want := refCropLine(page, box, 0.15, 4096)
		if got.W != want.W || !bytes.Equal(got.Pix, want.Pix) {
			t.Fatalf("trial %d: CropLine of %v differs from the reference", trial, box.Quad)
		}
		gi, wi := columnInk(got), refColumnInk(got)
		for i := range wi {
			if gi[i] != wi[i] {
				t.Fatalf("trial %d: columnInk differs from the reference at column %d", trial, i)
			}
		}
	}
}

// Crops kept between the two passes of ocr_crop_lines give the same pieces as crops made again: a page
// cropped with no room to keep anything, with room for some lines, and with the default room.
func TestCropLinesKeptOrCroppedAgain(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	page := randomPage(rng, 600, 400)
	var boxes []Box
	for i := range 12 {
		y := float64(10 + 30*i)
		boxes = append(boxes, Box{Quad: [4]Point{{20, y}, {float64(200 + 30*i), y}, {float64(200 + 30*i), y + 20}, {20, y + 20}}, Score: 1})
	}
	pieces := func(cache int) [][]byte {
		st, _, err := newCropLines(flow.Params{}, flow.Env{})
		if err != nil {
			t.Fatal(err)
		}
		st.(*cropLines).cacheBytes = cache
		it := &flow.Item{ID: 1}
		it.Set(rgbTensor("page", page))
		it.Set(boxesTensor("boxes", boxes))
		kids, err := st.Process([]*flow.Item{it})
		if err != nil {
			t.Fatal(err)
		}
		var out [][]byte
		for _, k := range kids {
			p, err := k.Need("piece")
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, p.Data)
		}
		return out
	}
	want := pieces(0)
	if len(want) < len(boxes) {
		t.Fatalf("%d pieces from %d lines", len(want), len(boxes))
	}
	for _, cache := range []int{60_000, cropCacheBytes} {
		got := pieces(cache)
		if len(got) != len(want) {
			t.Fatalf("cache %d: %d pieces, want %d", cache, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("cache %d: piece %d differs", cache, i)
			}
		}
	}
}
