package vqa

import (
	"fmt"
	"image"
	"image/draw"
	_ "image/png" // dataset images are PNG
	"os"
)

// LoadImage decodes an image file into a CHW float32 tensor of shape [3, H, W] at its native resolution,
// normalised as in training: (v/255 - image_mean) / image_std per RGB channel (vocab.json). Any
// downscaling for cheap model variants happens inside the ONNX graph, not here.
func LoadImage(path string) ([]float32, []int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	t, shape := ImageTensor(img)
	return t, shape, nil
}

// ImageTensor converts a decoded image to the normalised [3, H, W] tensor of LoadImage.
func ImageTensor(img image.Image) ([]float32, []int64) {
	b := img.Bounds()
	rgba, ok := img.(*image.RGBA)
	if !ok || rgba.Rect.Min != (image.Point{}) {
		rgba = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(rgba, rgba.Rect, img, b.Min, draw.Src)
	}
	h, w := b.Dy(), b.Dx()
	out := make([]float32, 3*h*w)
	r, g, bl := out[:h*w], out[h*w:2*h*w], out[2*h*w:]
	for y := 0; y < h; y++ {
		row := rgba.Pix[y*rgba.Stride : y*rgba.Stride+4*w]
		o := y * w
		for x := 0; x < w; x++ {
			r[o+x] = normalized[row[4*x]]
			g[o+x] = normalized[row[4*x+1]]
			bl[o+x] = normalized[row[4*x+2]]
		}
	}
	return out, []int64{3, int64(h), int64(w)}
}

// normalized maps a byte to (v/255 - image_mean) / image_std, computed as the recipe does (float32).
var normalized = func() (t [256]float32) {
	for v := range t {
		t[v] = (float32(v)/255 - vocab.ImageMean) / vocab.ImageStd
	}
	return t
}()
