// Package dataset generates the spoken-VQA dataset: random scenes of coloured shapes (scene.go, pure),
// their pictures (render.go), templated questions (question.go, pure), spoken questions via espeak-ng and
// sox (speech.go), and the split directories with their manifests (generate.go).
package dataset

import (
	"math"
	"math/rand/v2"

	"jellybean/workloads/vqa"
)

// ImageSize is the native resolution (pixels, square) of every dataset image.
const ImageSize = 64

// Scene limits. Objects may overlap a little, never so much that one hides another.
const (
	minObjects = 2
	maxObjects = 6
	minRadius  = 5.0
	maxRadius  = 10.0
	minSpacing = 0.75 // centre distance >= minSpacing * (r1 + r2)
)

// Scene is one picture's content.
type Scene struct {
	Background [3]float64 // base RGB, 0..255
	Gradient   [3]float64 // added across the picture from top-left to bottom-right
	Noise      float64    // std of per-pixel Gaussian noise
	Objects    []vqa.Object
	Tints      [][3]float64 // per-object colour jitter added to the base colour
}

// colorRGB is the base RGB of each colour name of vocab.json.
var colorRGB = map[string][3]float64{
	"red":    {215, 40, 40},
	"green":  {40, 170, 60},
	"blue":   {45, 80, 225},
	"yellow": {230, 210, 45},
	"purple": {145, 60, 195},
	"cyan":   {45, 200, 210},
}

// RandomScene draws a scene from rng: 2-6 objects of random shape, colour, size and position.
func RandomScene(rng *rand.Rand) Scene {
	v := vqa.TheVocab()
	var s Scene
	grey := 30 + rng.Float64()*90
	for c := 0; c < 3; c++ {
		s.Background[c] = grey + rng.NormFloat64()*10
		s.Gradient[c] = rng.NormFloat64() * 25
	}
	s.Noise = 3 + rng.Float64()*12
	want := minObjects + rng.IntN(maxObjects-minObjects+1)
	for tries := 0; len(s.Objects) < want && tries < 500; tries++ {
		r := minRadius + rng.Float64()*(maxRadius-minRadius)
		o := vqa.Object{
			Shape: v.Shapes[rng.IntN(len(v.Shapes))],
			Color: v.Colors[rng.IntN(len(v.Colors))],
			X:     r + rng.Float64()*(ImageSize-2*r),
			Y:     r + rng.Float64()*(ImageSize-2*r),
			Size:  r,
		}
		if fits(o, s.Objects) {
			s.Objects = append(s.Objects, o)
			s.Tints = append(s.Tints, [3]float64{rng.NormFloat64() * 12, rng.NormFloat64() * 12, rng.NormFloat64() * 12})
		}
	}
	return s
}

func fits(o vqa.Object, others []vqa.Object) bool {
	for _, p := range others {
		if math.Hypot(o.X-p.X, o.Y-p.Y) < minSpacing*(o.Size+p.Size) {
			return false
		}
	}
	return true
}
