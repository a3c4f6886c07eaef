package ocr

import (
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg" // pages may be JPEG as well as PNG
	_ "image/png"
	"math"
	"os"
)

// RGB is an 8-bit RGB image stored row by row (HWC): how pages and line crops travel between steps.
type RGB struct {
	W, H int
	Pix  []uint8 // len 3*W*H
}

// NewRGB returns a black w×h image.
func NewRGB(w, h int) RGB { return RGB{W: w, H: h, Pix: make([]uint8, 3*w*h)} }

// FromImage converts any decoded image to RGB (alpha is dropped: pages are opaque).
func FromImage(img image.Image) RGB {
	b := img.Bounds()
	rgba, ok := img.(*image.RGBA)
	if !ok || rgba.Rect.Min != (image.Point{}) {
		rgba = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(rgba, rgba.Rect, img, b.Min, draw.Src)
	}
	out := NewRGB(b.Dx(), b.Dy())
	for y := 0; y < out.H; y++ {
		for x := 0; x < out.W; x++ {
			s := rgba.PixOffset(x, y)
			d := 3 * (y*out.W + x)
			out.Pix[d], out.Pix[d+1], out.Pix[d+2] = rgba.Pix[s], rgba.Pix[s+1], rgba.Pix[s+2]
		}
	}
	return out
}

// LoadPage decodes a PNG or JPEG page.
func LoadPage(path string) (RGB, error) {
	f, err := os.Open(path)
	if err != nil {
		return RGB{}, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return RGB{}, fmt.Errorf("decoding page %s: %w", path, err)
	}
	return FromImage(img), nil
}

// sampleInto writes the three channels at the continuous point (x, y) in pixel-index coordinates (pixel
// centres at integers) to dst, interpolated bilinearly, edge pixels extending outwards. The neighbours
// and weights are found once for all three channels: cropping and resizing spend their time here.
func (im RGB) sampleInto(dst []uint8, x, y float64) {
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := x-x0, y-y0
	ix, iy := int(x0), int(y0)
	xa, xb := min(max(ix, 0), im.W-1), min(max(ix+1, 0), im.W-1)
	ya, yb := min(max(iy, 0), im.H-1), min(max(iy+1, 0), im.H-1)
	p00, p01 := 3*(ya*im.W+xa), 3*(ya*im.W+xb)
	p10, p11 := 3*(yb*im.W+xa), 3*(yb*im.W+xb)
	for c := range 3 {
		v := (float64(im.Pix[p00+c])*(1-fx)+float64(im.Pix[p01+c])*fx)*(1-fy) +
			(float64(im.Pix[p10+c])*(1-fx)+float64(im.Pix[p11+c])*fx)*fy
		dst[c] = uint8(math.Round(v))
	}
}

// Resize scales the image to w×h bilinearly, pixel centres aligned (the convention of common image
// libraries' linear resize).
func (im RGB) Resize(w, h int) RGB {
	out := NewRGB(w, h)
	sx, sy := float64(im.W)/float64(w), float64(im.H)/float64(h)
	for y := 0; y < h; y++ {
		fy := (float64(y)+0.5)*sy - 0.5
		row := out.Pix[3*y*w : 3*(y+1)*w]
		for x := 0; x < w; x++ {
			im.sampleInto(row[3*x:3*x+3], (float64(x)+0.5)*sx-0.5, fy)
		}
	}
	return out
}

// Rotate180 returns the image turned upside down.
func (im RGB) Rotate180() RGB {
	out := NewRGB(im.W, im.H)
	n := im.W * im.H
	for i := 0; i < n; i++ {
		copy(out.Pix[3*(n-1-i):3*(n-i)], im.Pix[3*i:3*i+3])
	}
	return out
}
