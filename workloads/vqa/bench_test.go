package vqa

import (
	"image"
	"image/color"
	"testing"
)

// Per-item pre/post-processing must stay far below the models' own cost (tens of microseconds to
// milliseconds per item): go test -bench . ./workloads/vqa/

func BenchmarkImageTensor(b *testing.B) {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	img.Set(1, 1, color.RGBA{1, 2, 3, 255})
	b.ReportAllocs()
	for b.Loop() {
		ImageTensor(img)
	}
}

func BenchmarkCTCGreedy(b *testing.B) {
	const frames, classes = 100, 29
	logits := make([]float32, frames*classes)
	for t := 0; t < frames; t++ {
		logits[t*classes+(t*7)%classes] = 1
	}
	b.ReportAllocs()
	for b.Loop() {
		CTCGreedy(logits, frames, classes)
	}
}

func BenchmarkTokenize(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Tokenize("how many purple objects are there")
	}
}
