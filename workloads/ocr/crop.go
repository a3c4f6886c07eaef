package ocr

import (
	"fmt"
	"math"
)

// LineHeight is the recogniser's and the angle classifier's input height.
const LineHeight = 48

// ClsWidth is the angle classifier's input width.
const ClsWidth = 192

// CropLine cuts a line box out of the page and rectifies it: the box grows by pad times its height on
// every side (the recogniser reads text best, spaces included, when the text fills about two thirds of its
// input's height, while detected boxes hug the ink), its top edge becomes horizontal, and the line is
// scaled to LineHeight pixels keeping its aspect ratio (width at least 8, at most maxWidth, squeezed beyond
// that), sampled bilinearly. Returns the crop as RGB.
func CropLine(page RGB, b Box, pad float64, maxWidth int) (RGB, error) {
	if maxWidth < 8 {
		return RGB{}, fmt.Errorf("max line width %d: want >= 8", maxWidth)
	}
	if !(pad >= 0 && pad <= 2) {
		return RGB{}, fmt.Errorf("crop padding %v: want 0..2", pad)
	}
	bw, bh := b.Width(), b.Height()
	if !(bw > 0 && bh > 0) {
		return RGB{}, fmt.Errorf("degenerate box %v", b.Quad)
	}
	b = b.Grow(pad * bh)
	bw, bh = b.Width(), b.Height()
	w := min(maxWidth, max(8, int(math.Round(LineHeight*bw/bh))))
	out := NewRGB(w, LineHeight)
	tl, tr, bl := b.Quad[0], b.Quad[1], b.Quad[3]
	for v := 0; v < LineHeight; v++ {
		fv := (float64(v) + 0.5) / LineHeight
		for u := 0; u < w; u++ {
			fu := (float64(u) + 0.5) / float64(w)
			// page point in continuous coordinates (pixel i spans [i, i+1)), then to pixel-centre indices
			x := tl.X + fu*(tr.X-tl.X) + fv*(bl.X-tl.X) - 0.5
			y := tl.Y + fu*(tr.Y-tl.Y) + fv*(bl.Y-tl.Y) - 0.5
			d := 3 * (v*w + u)
			page.sampleInto(out.Pix[d:d+3], x, y)
		}
	}
	return out, nil
}

// Squeeze narrows a line crop to scale times its width (at least 8 pixels), keeping its height: a
// cheaper recogniser input (cost grows with width) that is harder to read, since each character then
// spans fewer of the recogniser's 8-pixel steps. scale 1 returns the crop unchanged.
func Squeeze(line RGB, scale float64) RGB {
	if scale >= 1 {
		return line
	}
	return line.Resize(max(8, int(math.Round(float64(line.W)*scale))), line.H)
}

// BucketWidth rounds a line width up to a multiple of step (so that lines of similar length share an input
// shape and batch together), at most maxWidth.
func BucketWidth(w, step, maxWidth int) int {
	if step < 1 {
		step = 1
	}
	return min(maxWidth, (w+step-1)/step*step)
}

// RecInput makes the recogniser's input from a line crop of height LineHeight: channels in BGR order,
// values (x/255 − 0.5)/0.5, CHW, padded on the right with zeros (mid-grey, as the recogniser was trained)
// to width. Returns [3, LineHeight, width].
func RecInput(line RGB, width int) ([]float32, error) {
	if line.H != LineHeight {
		return nil, fmt.Errorf("line crop is %d pixels high, want %d", line.H, LineHeight)
	}
	if width < line.W {
		return nil, fmt.Errorf("input width %d is narrower than the %d-pixel line", width, line.W)
	}
	return lineCHW(line, width), nil
}

func lineCHW(line RGB, width int) []float32 {
	plane := LineHeight * width
	out := make([]float32, 3*plane)
	for c := 0; c < 3; c++ {
		src := 2 - c // BGR
		for y := 0; y < line.H; y++ {
			for x := 0; x < line.W; x++ {
				out[c*plane+y*width+x] = float32(line.Pix[3*(y*line.W+x)+src])/127.5 - 1
			}
		}
	}
	return out
}

// ClsInput makes the angle classifier's input from a line crop: the line squeezed (never stretched) into
// ClsWidth pixels, normalised as RecInput, padded to [3, LineHeight, ClsWidth].
func ClsInput(line RGB) ([]float32, error) {
	if line.H != LineHeight {
		return nil, fmt.Errorf("line crop is %d pixels high, want %d", line.H, LineHeight)
	}
	if line.W > ClsWidth {
		line = line.Resize(ClsWidth, LineHeight)
	}
	return lineCHW(line, ClsWidth), nil
}

// UpsideDown reads the angle classifier's output [p(0°), p(180°)]: the line is turned when 180° wins
// with at least minScore.
func UpsideDown(probs []float32, minScore float64) (bool, error) {
	if len(probs) != 2 {
		return false, fmt.Errorf("angle classifier output has %d values, want 2", len(probs))
	}
	return probs[1] > probs[0] && float64(probs[1]) >= minScore, nil
}
