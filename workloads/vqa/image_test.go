package vqa

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestImageTensor(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	img.Set(0, 0, color.RGBA{0, 128, 255, 255})
	img.Set(2, 1, color.RGBA{255, 0, 64, 255})
	tensor, shape := ImageTensor(img)
	if shape[0] != 3 || shape[1] != 2 || shape[2] != 3 {
		t.Fatalf("shape %v, want [3 2 3]", shape)
	}
	norm := func(v float64) float32 { return float32((v/255 - 0.5) / 0.25) }
	for _, c := range []struct {
		ch, y, x int
		want     float32
	}{
		{0, 0, 0, norm(0)}, {1, 0, 0, norm(128)}, {2, 0, 0, norm(255)},
		{0, 1, 2, norm(255)}, {1, 1, 2, norm(0)}, {2, 1, 2, norm(64)},
		{0, 0, 1, norm(0)},
	} {
		got := tensor[c.ch*6+c.y*3+c.x]
		if d := got - c.want; d > 1e-6 || d < -1e-6 {
			t.Errorf("channel %d (%d,%d) = %v, want %v", c.ch, c.x, c.y, got, c.want)
		}
	}
	if norm(0) != -2 || norm(255) != 2 {
		t.Errorf("normalisation constants changed: %v %v", norm(0), norm(255))
	}
}

func TestLoadImageNonRGBA(t *testing.T) {
	// A paletted PNG with an offset-free bounds must give the same tensor as its RGBA version.
	pal := image.NewPaletted(image.Rect(0, 0, 2, 2), color.Palette{color.RGBA{10, 20, 30, 255}, color.RGBA{200, 100, 0, 255}})
	pal.SetColorIndex(1, 0, 1)
	p := filepath.Join(t.TempDir(), "p.png")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, pal); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, _, err := LoadImage(p)
	if err != nil {
		t.Fatal(err)
	}
	rgba := image.NewRGBA(pal.Bounds())
	for y := 0; y < 2; y++ {
		for x := 0; x < 2; x++ {
			rgba.Set(x, y, pal.At(x, y))
		}
	}
	want, _ := ImageTensor(rgba)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("value %d: %v, want %v", i, got[i], want[i])
		}
	}
	if _, _, err := LoadImage(filepath.Join(t.TempDir(), "missing.png")); err == nil {
		t.Error("missing file accepted")
	}
	bad := filepath.Join(t.TempDir(), "bad.png")
	os.WriteFile(bad, []byte("not a png"), 0o644)
	if _, _, err := LoadImage(bad); err == nil {
		t.Error("corrupt file accepted")
	}
}
