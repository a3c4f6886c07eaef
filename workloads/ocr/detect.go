package ocr

import (
	"fmt"
	"math"
)

// DetectorSizes are the detector input sizes the workflow offers: a larger input keeps small print
// legible to the detector and costs more.
var DetectorSizes = []int{480, 640, 960, 1280}

// ImageNet statistics, RGB order: the detector was trained on inputs normalised with them.
var (
	detMean = [3]float32{0.485, 0.456, 0.406}
	detStd  = [3]float32{0.229, 0.224, 0.225}
)

// DetectorInput makes the detector's input from a page: the page is scaled (up or down) so its long side
// is limit and placed at the top-left of a limit×limit canvas of white, RGB, normalised with the ImageNet
// mean and standard deviation, CHW. Every page of a given limit thus has the same input shape, so pages
// batch and cost the same. limit must be a positive multiple of 32 (the network downsamples by 32).
// It returns the data ([3, limit, limit]) and the scale from page to input pixels.
func DetectorInput(page RGB, limit int) ([]float32, float64, error) {
	if limit <= 0 || limit%32 != 0 {
		return nil, 0, fmt.Errorf("detector input size %d is not a positive multiple of 32", limit)
	}
	if page.W <= 0 || page.H <= 0 {
		return nil, 0, fmt.Errorf("empty page (%dx%d)", page.W, page.H)
	}
	scale := float64(limit) / float64(max(page.W, page.H))
	w := min(limit, max(1, int(math.Round(float64(page.W)*scale))))
	h := min(limit, max(1, int(math.Round(float64(page.H)*scale))))
	small := page.Resize(w, h)
	plane := limit * limit
	out := make([]float32, 3*plane)
	for c := 0; c < 3; c++ {
		white := (1 - detMean[c]) / detStd[c]
		var norm [256]float32 // every byte's normalised value, computed once instead of per pixel
		for b := range norm {
			norm[b] = (float32(b)/255 - detMean[c]) / detStd[c]
		}
		ch := out[c*plane : (c+1)*plane]
		for i := range ch {
			ch[i] = white
		}
		for y := 0; y < h; y++ {
			src, dst := small.Pix[3*y*w+c:], ch[y*limit:y*limit+w]
			for x := range dst {
				dst[x] = norm[src[3*x]]
			}
		}
	}
	return out, scale, nil
}
