package dataset

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"

	"jellybean/workloads/vqa"
)

// superSamples is the per-axis sub-pixel grid used to anti-alias shape edges.
const superSamples = 4

// Render paints the scene; objects later in the list are drawn on top. rng supplies the pixel noise.
func Render(s Scene, rng *rand.Rand) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, ImageSize, ImageSize))
	for y := 0; y < ImageSize; y++ {
		for x := 0; x < ImageSize; x++ {
			t := (float64(x) + float64(y)) / (2 * ImageSize)
			var px [3]float64
			for c := 0; c < 3; c++ {
				px[c] = s.Background[c] + s.Gradient[c]*t
			}
			for i, o := range s.Objects {
				cov := coverage(o, float64(x), float64(y))
				if cov == 0 {
					continue
				}
				base := colorRGB[o.Color]
				for c := 0; c < 3; c++ {
					px[c] = px[c]*(1-cov) + (base[c]+s.Tints[i][c])*cov
				}
			}
			var out [3]uint8
			for c := 0; c < 3; c++ {
				out[c] = clamp8(px[c] + rng.NormFloat64()*s.Noise)
			}
			img.SetRGBA(x, y, color.RGBA{out[0], out[1], out[2], 255})
		}
	}
	return img
}

// coverage is the fraction of pixel (x, y) covered by o, from a superSamples x superSamples grid.
func coverage(o vqa.Object, x, y float64) float64 {
	if math.Abs(x+0.5-o.X) > o.Size+1 || math.Abs(y+0.5-o.Y) > o.Size+1 {
		return 0
	}
	hits := 0
	for i := 0; i < superSamples; i++ {
		for j := 0; j < superSamples; j++ {
			px := x + (float64(i)+0.5)/superSamples
			py := y + (float64(j)+0.5)/superSamples
			if inside(o, px-o.X, py-o.Y) {
				hits++
			}
		}
	}
	return float64(hits) / (superSamples * superSamples)
}

// inside reports whether offset (dx, dy) from the object's centre lies in its shape.
func inside(o vqa.Object, dx, dy float64) bool {
	r := o.Size
	switch o.Shape {
	case "circle":
		return dx*dx+dy*dy <= r*r
	case "square": // inscribed in the circle of radius r
		h := r * 0.8
		return math.Abs(dx) <= h && math.Abs(dy) <= h
	case "triangle": // upward, apex at (0, -r), base at y = r/2
		if dy < -r || dy > r/2 {
			return false
		}
		half := (dy + r) / (1.5 * r) * (r * math.Sqrt(3) / 2)
		return math.Abs(dx) <= half
	}
	return false
}

func clamp8(v float64) uint8 {
	v = math.Round(v)
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}
