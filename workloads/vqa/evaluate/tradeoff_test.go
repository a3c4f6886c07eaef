package evaluate

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
)

func tradeoffProfile() *Profile {
	return &Profile{
		Image:  []VariantFigure{{Variant: "s", LatencyB1Ms: 0.1}, {Variant: "m", LatencyB1Ms: 0.2}, {Variant: "l", LatencyB1Ms: 0.6}},
		Speech: []VariantFigure{{Variant: "a", LatencyB1Ms: 1.5}, {Variant: "b", LatencyB1Ms: 3.5}},
		VQA:    []VariantFigure{{Variant: "s", LatencyB1Ms: 0.02}, {Variant: "m", LatencyB1Ms: 0.02}, {Variant: "l", LatencyB1Ms: 0.02}},
		Combinations: []Combination{
			{Image: "l", Speech: "b", VQAAccuracy: 96.75},
			{Image: "s", Speech: "a", VQAAccuracy: 74},
			{Image: "m", Speech: "a", VQAAccuracy: 87.5},
			{Image: "l", Speech: "a", VQAAccuracy: 89},
			{Image: "s", Speech: "b", VQAAccuracy: 79.25},
			{Image: "m", Speech: "b", VQAAccuracy: 93.75},
		},
	}
}

func TestTradeoffCostsAndFront(t *testing.T) {
	pts, err := tradeoffProfile().Tradeoff()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pts {
		s := p.Image + p.Speech
		if p.Pareto {
			s += "*"
		}
		got = append(got, s)
	}
	// Costs: sa 1.62, ma 1.72, la 2.12, sb 3.62, mb 3.72, lb 4.12. sb (79.25) is dominated by ma
	// (87.5, cheaper) and by la; every other one is more accurate than all cheaper ones.
	want := "sa* ma* la* sb mb* lb*"
	if strings.Join(got, " ") != want {
		t.Errorf("order and front %q, want %q", strings.Join(got, " "), want)
	}
	if c := pts[2].CostMs; c < 2.1199 || c > 2.1201 {
		t.Errorf("cost of l+a %v, want 0.6+1.5+0.02", c)
	}
}

func TestTradeoffTiesAndMissingFigures(t *testing.T) {
	p := tradeoffProfile()
	p.Combinations = []Combination{{Image: "s", Speech: "a", VQAAccuracy: 80}, {Image: "s", Speech: "a", VQAAccuracy: 80}}
	pts, err := p.Tradeoff()
	if err != nil {
		t.Fatal(err)
	}
	if !pts[0].Pareto || !pts[1].Pareto {
		t.Errorf("equal points dominate neither: %+v", pts)
	}
	p.Combinations = []Combination{{Image: "xl", Speech: "a"}}
	if _, err := p.Tradeoff(); err == nil || !strings.Contains(err.Error(), `image variant "xl"`) {
		t.Errorf("missing figure: error %v", err)
	}
	p.Combinations = nil
	if _, err := TradeoffPNG(p, "t"); err == nil {
		t.Error("a chart of nothing must be an error")
	}
}

func TestTradeoffPNG(t *testing.T) {
	b, err := TradeoffPNG(tradeoffProfile(), "test split")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if r := img.Bounds(); r.Dx() < 500 || r.Dy() < 300 {
		t.Errorf("chart is %v", r)
	}
	// Something was drawn: a blank canvas has a single colour.
	seen := map[[4]uint32]bool{}
	for y := 0; y < img.Bounds().Dy(); y += 3 {
		for x := 0; x < img.Bounds().Dx(); x += 3 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
		}
	}
	if len(seen) < 10 {
		t.Errorf("chart has %d colours", len(seen))
	}
}
