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
	scale := 1 / (255 * vocab.ImageStd)
	shift := vocab.ImageMean / vocab.ImageStd
	for y := 0; y < h; y++ {
		row := rgba.Pix[y*rgba.Stride:]
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				out[c*h*w+y*w+x] = float32(row[4*x+c])*scale - shift
			}
		}
	}
	return out, []int64{3, int64(h), int64(w)}
}
