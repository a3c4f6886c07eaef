package dataset

import (
	"image"
	"image/color"
	"image/draw"
	"math"
	"math/rand/v2"

	"golang.org/x/image/font"
	"golang.org/x/image/math/fixed"
)

// effects are what a scanned or photographed page suffers, drawn per page.
type effects struct {
	angle float64 // degrees, about the page centre
	blur  float64 // gaussian sigma in pixels (0 = none)
	noise float64 // standard deviation of additive grey noise (0..255 scale)
	paper [3]uint8
}

func drawEffects(r *rand.Rand) effects {
	e := effects{noise: 2 + 6*r.Float64()}
	if r.IntN(10) < 6 {
		e.angle = (r.Float64()*2 - 1) * 1.2
	}
	if r.IntN(10) < 4 {
		// Up to sigma 0.75: beyond it, 11-13 px text under noise is lost to the recogniser outright (on the
		// development seed, pages blurred above 0.8 read 38-79 % of their words, those below 0.75 85-97 %),
		// so a few such pages would decide a split's figure.
		e.blur = 0.4 + 0.35*r.Float64()
	}
	base := 228 + r.IntN(27)
	e.paper = [3]uint8{uint8(base), uint8(base - r.IntN(6)), uint8(base - r.IntN(12))}
	return e
}

// render draws the segments on paper and returns the page with every segment's ink box (before effects).
func render(l *layout, e effects) (*image.NRGBA, []image.Rectangle, error) {
	img := image.NewNRGBA(image.Rect(0, 0, l.w, l.h))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.NRGBA{e.paper[0], e.paper[1], e.paper[2], 255}), image.Point{}, draw.Src)
	boxes := make([]image.Rectangle, len(l.segs))
	for i, s := range l.segs {
		f, err := l.fc.get(s.font, s.size)
		if err != nil {
			return nil, nil, err
		}
		d := font.Drawer{Dst: img, Src: image.NewUniform(color.NRGBA{s.ink[0], s.ink[1], s.ink[2], 255}), Face: f,
			Dot: fixed.Point26_6{X: fixed.Int26_6(s.x * 64), Y: fixed.Int26_6(s.y * 64)}}
		// The box spans the ink horizontally and the font's ascent to descent vertically: a line's box, as
		// detectors mark it, whether or not its letters reach up or down ("Plan:" and "Typing" alike).
		b, _ := d.BoundString(s.text)
		m := f.Metrics()
		y0, y1 := min(b.Min.Y, d.Dot.Y-m.Ascent), max(b.Max.Y, d.Dot.Y+m.Descent)
		boxes[i] = image.Rect(b.Min.X.Floor(), y0.Floor(), b.Max.X.Ceil(), y1.Ceil()).Intersect(img.Bounds())
		d.DrawString(s.text)
	}
	return img, boxes, nil
}

// rotate turns the page by deg degrees about its centre (bilinear; uncovered corners get the paper
// colour) and maps each box to the axis-aligned box of its turned corners.
func rotate(img *image.NRGBA, boxes []image.Rectangle, deg float64, paper [3]uint8) (*image.NRGBA, []image.Rectangle) {
	if deg == 0 {
		return img, boxes
	}
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	cx, cy := float64(w)/2, float64(h)/2
	sin, cos := math.Sincos(deg * math.Pi / 180)
	out := image.NewNRGBA(img.Bounds())
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			// inverse rotation: where in the source does this destination pixel come from
			dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy
			sx, sy := cos*dx+sin*dy+cx-0.5, -sin*dx+cos*dy+cy-0.5
			o := out.PixOffset(x, y)
			for c := 0; c < 3; c++ {
				out.Pix[o+c] = bilinear(img, sx, sy, c, paper[c])
			}
			out.Pix[o+3] = 255
		}
	}
	turned := make([]image.Rectangle, len(boxes))
	for i, b := range boxes {
		x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
		for _, p := range [4][2]float64{{float64(b.Min.X), float64(b.Min.Y)}, {float64(b.Max.X), float64(b.Min.Y)},
			{float64(b.Min.X), float64(b.Max.Y)}, {float64(b.Max.X), float64(b.Max.Y)}} {
			dx, dy := p[0]-cx, p[1]-cy
			tx, ty := cos*dx-sin*dy+cx, sin*dx+cos*dy+cy
			x0, y0, x1, y1 = math.Min(x0, tx), math.Min(y0, ty), math.Max(x1, tx), math.Max(y1, ty)
		}
		turned[i] = image.Rect(int(math.Floor(x0)), int(math.Floor(y0)), int(math.Ceil(x1)), int(math.Ceil(y1))).Intersect(img.Bounds())
	}
	return out, turned
}

func bilinear(img *image.NRGBA, x, y float64, c int, outside uint8) uint8 {
	x0, y0 := int(math.Floor(x)), int(math.Floor(y))
	fx, fy := x-float64(x0), y-float64(y0)
	at := func(px, py int) float64 {
		if px < 0 || py < 0 || px >= img.Rect.Dx() || py >= img.Rect.Dy() {
			return float64(outside)
		}
		return float64(img.Pix[img.PixOffset(px, py)+c])
	}
	v := (at(x0, y0)*(1-fx)+at(x0+1, y0)*fx)*(1-fy) + (at(x0, y0+1)*(1-fx)+at(x0+1, y0+1)*fx)*fy
	return uint8(math.Round(v))
}

// blur applies a separable gaussian of the given sigma to the colour channels.
func blur(img *image.NRGBA, sigma float64) {
	if sigma <= 0 {
		return
	}
	rad := int(math.Ceil(2.5 * sigma))
	k := make([]float64, 2*rad+1)
	sum := 0.0
	for i := range k {
		d := float64(i - rad)
		k[i] = math.Exp(-d * d / (2 * sigma * sigma))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	w, h := img.Rect.Dx(), img.Rect.Dy()
	tmp := make([]float64, w*h*3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				v := 0.0
				for i, kv := range k {
					xx := min(max(x+i-rad, 0), w-1)
					v += kv * float64(img.Pix[img.PixOffset(xx, y)+c])
				}
				tmp[(y*w+x)*3+c] = v
			}
		}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				v := 0.0
				for i, kv := range k {
					yy := min(max(y+i-rad, 0), h-1)
					v += kv * tmp[(yy*w+x)*3+c]
				}
				img.Pix[img.PixOffset(x, y)+c] = uint8(math.Round(min(max(v, 0), 255)))
			}
		}
	}
}

// addNoise adds grey gaussian noise of the given standard deviation.
func addNoise(img *image.NRGBA, r *rand.Rand, sd float64) {
	for o := 0; o < len(img.Pix); o += 4 {
		n := r.NormFloat64() * sd
		for c := 0; c < 3; c++ {
			img.Pix[o+c] = uint8(math.Round(min(max(float64(img.Pix[o+c])+n, 0), 255)))
		}
	}
}
