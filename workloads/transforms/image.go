package transforms

import (
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg" // dataset images may be JPEG
	_ "image/png"  // or PNG
	"os"

	"jellybean/collective"
	"jellybean/job/flow"
)

func init() { flow.Register("image_file", newImageFile) }

// imageFile loads the image named by a manifest field into a float32 [3, H, W] tensor (CHW), each
// channel normalised as (v/255 − mean) / std, in RGB or BGR order, at the file's own resolution.
type imageFile struct {
	Field string    `toml:"field"` // manifest field holding the file name
	Out   string    `toml:"out"`   // tensor written
	Order string    `toml:"order"` // "rgb" (default) or "bgr"
	Mean  []float64 `toml:"mean"`  // one value for all channels, or three
	Std   []float64 `toml:"std"`

	table [3][256]float32
}

func newImageFile(p flow.Params, env flow.Env) (flow.Step, flow.Signature, error) {
	s := &imageFile{Order: "rgb"}
	if err := flow.DecodeParams(p, s); err != nil {
		return nil, flow.Signature{}, err
	}
	if err := required("field", s.Field); err != nil {
		return nil, flow.Signature{}, err
	}
	if err := required("out", s.Out); err != nil {
		return nil, flow.Signature{}, err
	}
	if s.Order != "rgb" && s.Order != "bgr" {
		return nil, flow.Signature{}, fmt.Errorf("order = %q: want rgb or bgr", s.Order)
	}
	mean, err := perChannel("mean", s.Mean, 0)
	if err != nil {
		return nil, flow.Signature{}, err
	}
	std, err := perChannel("std", s.Std, 1)
	if err != nil {
		return nil, flow.Signature{}, err
	}
	for c := range 3 {
		if !(std[c] > 0) {
			return nil, flow.Signature{}, fmt.Errorf("std = %v: must be > 0", s.Std)
		}
		// float32 arithmetic, as the models' training pipelines compute it.
		m, sd := float32(mean[c]), float32(std[c])
		for v := range 256 {
			s.table[c][v] = (float32(v)/255 - m) / sd
		}
	}
	sig := flow.Signature{Fields: []string{s.Field}, Writes: []flow.TensorSpec{{Name: s.Out, DType: collective.Float32, Rank: 3}}}
	return s, sig, nil
}

func perChannel(name string, v []float64, def float64) ([3]float64, error) {
	switch len(v) {
	case 0:
		return [3]float64{def, def, def}, nil
	case 1:
		return [3]float64{v[0], v[0], v[0]}, nil
	case 3:
		return [3]float64{v[0], v[1], v[2]}, nil
	}
	return [3]float64{}, fmt.Errorf("%s = %v: give one value or three", name, v)
}

func (s *imageFile) Process(items []*flow.Item) ([]*flow.Item, error) {
	for _, it := range items {
		path, err := it.Record.Path(s.Field)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.Name(), err)
		}
		img, err := decodeImage(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.Name(), err)
		}
		data, shape := s.tensor(img)
		it.Set(collective.FromFloat32s(s.Out, shape, data))
	}
	return items, nil
}

func (s *imageFile) Close() error { return nil }

func decodeImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

func (s *imageFile) tensor(img image.Image) ([]float32, []int64) {
	b := img.Bounds()
	rgba, ok := img.(*image.RGBA)
	if !ok || rgba.Rect.Min != (image.Point{}) {
		rgba = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(rgba, rgba.Rect, img, b.Min, draw.Src)
	}
	h, w := b.Dy(), b.Dx()
	out := make([]float32, 3*h*w)
	planes := [3][]float32{out[:h*w], out[h*w : 2*h*w], out[2*h*w:]}
	src := [3]int{0, 1, 2}
	if s.Order == "bgr" {
		src = [3]int{2, 1, 0}
	}
	for y := 0; y < h; y++ {
		row := rgba.Pix[y*rgba.Stride : y*rgba.Stride+4*w]
		o := y * w
		for c := range 3 {
			plane, t, sc := planes[c], &s.table[src[c]], src[c]
			for x := 0; x < w; x++ {
				plane[o+x] = t[row[4*x+sc]]
			}
		}
	}
	return out, []int64{3, int64(h), int64(w)}
}
