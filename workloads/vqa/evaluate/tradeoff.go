package evaluate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// TradeoffPoint is one (image, speech) combination's model cost and end-to-end accuracy.
type TradeoffPoint struct {
	Image, Speech string
	CostMs        float64 // batch-1 latency per item of its image, speech and VQA models, summed
	Accuracy      float64 // VQA accuracy with spoken questions, percent
	Pareto        bool    // no other combination is at least as cheap and as accurate, and better in one
}

// Tradeoff pairs every measured combination with its model cost and marks the Pareto front: the
// combinations an optimizer could ever pick for some accuracy target. Sorted by cost, then accuracy.
// A combination whose models lack a latency figure is an error (the chart would place it wrongly).
func (p *Profile) Tradeoff() ([]TradeoffPoint, error) {
	latency := func(figs []VariantFigure, variant, kind string) (float64, error) {
		for _, f := range figs {
			if f.Variant == variant {
				return f.LatencyB1Ms, nil
			}
		}
		return 0, fmt.Errorf("profile: combination names %s variant %q, which has no latency figure", kind, variant)
	}
	pts := make([]TradeoffPoint, 0, len(p.Combinations))
	for _, c := range p.Combinations {
		img, err := latency(p.Image, c.Image, "image")
		if err != nil {
			return nil, err
		}
		sp, err := latency(p.Speech, c.Speech, "speech")
		if err != nil {
			return nil, err
		}
		head, err := latency(p.VQA, c.Image, "vqa") // each image variant has its own VQA head
		if err != nil {
			return nil, err
		}
		pts = append(pts, TradeoffPoint{Image: c.Image, Speech: c.Speech, CostMs: img + sp + head, Accuracy: c.VQAAccuracy})
	}
	sort.Slice(pts, func(i, j int) bool {
		if pts[i].CostMs != pts[j].CostMs {
			return pts[i].CostMs < pts[j].CostMs
		}
		return pts[i].Accuracy > pts[j].Accuracy
	})
	for i := range pts {
		pts[i].Pareto = true
		for j := range pts {
			a, b := pts[j], pts[i]
			if j != i && a.CostMs <= b.CostMs && a.Accuracy >= b.Accuracy && (a.CostMs < b.CostMs || a.Accuracy > b.Accuracy) {
				pts[i].Pareto = false
				break
			}
		}
	}
	return pts, nil
}

// TradeoffPNG draws accuracy against model cost for every combination, labelled, with the Pareto front
// joined by a line: the figure to look at before choosing an accuracy target.
func TradeoffPNG(p *Profile, title string) ([]byte, error) {
	pts, err := p.Tradeoff()
	if err != nil {
		return nil, err
	}
	if len(pts) == 0 {
		return nil, fmt.Errorf("profile: no combinations to chart")
	}
	pl := plot.New()
	pl.Title.Text = title
	pl.X.Label.Text = "model CPU per item, ms (batch 1, 1 thread)"
	pl.Y.Label.Text = "VQA accuracy, spoken questions (%)"
	var all, front plotter.XYs
	var names []string
	for _, t := range pts {
		xy := plotter.XY{X: t.CostMs, Y: t.Accuracy}
		all = append(all, xy)
		names = append(names, fmt.Sprintf(" %s+%s %.1f", t.Image, t.Speech, t.Accuracy))
		if t.Pareto {
			front = append(front, xy)
		}
	}
	blue := color.RGBA{R: 0x4c, G: 0x72, B: 0xb0, A: 0xff}
	orange := color.RGBA{R: 0xdd, G: 0x84, B: 0x52, A: 0xff}
	line, err := plotter.NewLine(front)
	if err != nil {
		return nil, err
	}
	line.Color, line.Width = orange, vg.Points(1.5)
	dots, err := plotter.NewScatter(all)
	if err != nil {
		return nil, err
	}
	dots.GlyphStyle.Color, dots.GlyphStyle.Radius, dots.GlyphStyle.Shape = blue, vg.Points(4), draw.CircleGlyph{}
	labels, err := plotter.NewLabels(plotter.XYLabels{XYs: all, Labels: names})
	if err != nil {
		return nil, err
	}
	pl.Add(plotter.NewGrid(), line, dots, labels)
	pl.Legend.Add("Pareto front", line)
	pl.Legend.Add("combination", dots)
	// Bottom right (the default corner), pulled inside the frame: the costliest points sit top right.
	pl.Legend.XOffs, pl.Legend.YOffs = -vg.Points(12), vg.Points(6)
	pl.Title.Padding = vg.Points(6)
	// Room on the right and below for the labels of the costliest and least accurate points.
	lo, hi := pts[0].Accuracy, pts[0].Accuracy
	for _, t := range pts {
		lo, hi = min(lo, t.Accuracy), max(hi, t.Accuracy)
	}
	pl.X.Min, pl.X.Max = 0, pts[len(pts)-1].CostMs*1.45
	pl.Y.Min, pl.Y.Max = max(0, lo-5), min(100, hi+3)
	wt, err := pl.WriterTo(7*vg.Inch, 4.5*vg.Inch, "png")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteProfile writes p into dir as profile.json, the original system's nodes_accuracy_profiles.json and
// tradeoff.png (titled with what was measured, e.g. "400 items of the test split").
func WriteProfile(dir string, p *Profile, what string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, v := range map[string]any{"profile.json": p, "nodes_accuracy_profiles.json": p.OriginalFormat()} {
		b, err := json.MarshalIndent(v, "", " ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	chart, err := TradeoffPNG(p, "accuracy vs cost: "+what)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "tradeoff.png"), chart, 0o644)
}
