package dataset

import (
	"math/rand/v2"

	"jellybean/workloads/vqa"
)

// Question is a templated question about a scene with its ground-truth answer.
type Question struct {
	Text, Answer, Type string
}

// plural is the spoken plural of each shape name.
func plural(shape string) string { return shape + "s" }

// Ask draws a question about s: a template uniformly among those that have a well-defined answer for s
// ("what color is the circle" needs exactly one circle).
func Ask(s Scene, rng *rand.Rand) Question {
	v := vqa.TheVocab()
	shapes, colors := map[string]int{}, map[string]int{}
	pairs := map[[2]string]bool{}
	for _, o := range s.Objects {
		shapes[o.Shape]++
		colors[o.Color]++
		pairs[[2]string{o.Color, o.Shape}] = true
	}
	var uniqueShapes, uniqueColors, presentColors []string
	for _, sh := range v.Shapes {
		if shapes[sh] == 1 {
			uniqueShapes = append(uniqueShapes, sh)
		}
	}
	for _, c := range v.Colors {
		if colors[c] == 1 {
			uniqueColors = append(uniqueColors, c)
		}
		if colors[c] > 0 {
			presentColors = append(presentColors, c)
		}
	}
	for {
		switch vqa.QuestionTypes[rng.IntN(len(vqa.QuestionTypes))] {
		case "color":
			if len(uniqueShapes) == 0 {
				continue
			}
			sh := uniqueShapes[rng.IntN(len(uniqueShapes))]
			for _, o := range s.Objects {
				if o.Shape == sh {
					return Question{"what color is the " + sh, o.Color, "color"}
				}
			}
		case "shape":
			if len(uniqueColors) == 0 {
				continue
			}
			c := uniqueColors[rng.IntN(len(uniqueColors))]
			for _, o := range s.Objects {
				if o.Color == c {
					return Question{"what shape is the " + c + " object", o.Shape, "shape"}
				}
			}
		case "count_shape":
			sh := v.Shapes[rng.IntN(len(v.Shapes))]
			return Question{"how many " + plural(sh) + " are there", v.Numbers[shapes[sh]], "count_shape"}
		case "count_color":
			c := v.Colors[rng.IntN(len(v.Colors))]
			if rng.Float64() < 0.7 { // mostly ask about colours present, so "zero" does not dominate
				c = presentColors[rng.IntN(len(presentColors))]
			}
			return Question{"how many " + c + " objects are there", v.Numbers[colors[c]], "count_color"}
		case "exist":
			c, sh := v.Colors[rng.IntN(len(v.Colors))], v.Shapes[rng.IntN(len(v.Shapes))]
			if rng.IntN(2) == 0 { // half the time ask about an object that is there
				o := s.Objects[rng.IntN(len(s.Objects))]
				c, sh = o.Color, o.Shape
			}
			ans := "no"
			if pairs[[2]string{c, sh}] {
				ans = "yes"
			}
			return Question{"is there a " + c + " " + sh, ans, "exist"}
		}
	}
}
