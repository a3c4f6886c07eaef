package report

import (
	"bytes"
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Chart is one rendered PNG.
type Chart struct {
	Name, Title string
	PNG         []byte
}

var palette = []color.Color{
	color.RGBA{R: 0x4c, G: 0x72, B: 0xb0, A: 0xff},
	color.RGBA{R: 0xdd, G: 0x84, B: 0x52, A: 0xff},
	color.RGBA{R: 0x55, G: 0xa8, B: 0x68, A: 0xff},
}

// Charts renders the page's figures; a chart with no data is left out.
func Charts(a *Analysis) ([]Chart, error) {
	var out []Chart
	add := func(name, title string, p *plot.Plot, err error) error {
		if err != nil {
			return fmt.Errorf("chart %s: %w", name, err)
		}
		if p == nil {
			return nil
		}
		png, err := render(p, 16*vg.Centimeter, 9*vg.Centimeter)
		if err != nil {
			return fmt.Errorf("chart %s: %w", name, err)
		}
		out = append(out, Chart{Name: name, Title: title, PNG: png})
		return nil
	}
	var names []string
	// Capacity (often orders of magnitude above the rest) is in the table, not the chart.
	var pred, meas plotter.Values
	for _, s := range a.Stages {
		names = append(names, s.Name)
		pred, meas = append(pred, s.Predicted), append(meas, s.Measured)
	}
	p, err := bars("Throughput per stage", "items/s", names, []string{"predicted", "measured"}, pred, meas)
	if err := add("throughput", "Predicted vs measured throughput per stage", p, err); err != nil {
		return nil, err
	}
	if len(a.Capacity) > 0 {
		// Capacities span orders of magnitude (a tiny head vs a recogniser): the chart shows the ratio,
		// with the tolerance band drawn as lines.
		var cn []string
		var ratio plotter.Values
		for _, c := range a.Capacity {
			cn, ratio = append(cn, c.Stage), append(ratio, 100*c.Ratio)
		}
		p, err := bars("Measured / predicted capacity per stage", "%", cn, []string{"measured / predicted"}, ratio)
		if err == nil {
			for _, y := range []float64{100 * (1 - CapacityTolerance), 100, 100 * (1 + CapacityTolerance)} {
				l, lerr := plotter.NewLine(plotter.XYs{{X: -0.5, Y: y}, {X: float64(len(cn)) - 0.5, Y: y}})
				if lerr != nil {
					err = lerr
					break
				}
				l.Color = color.Gray{Y: 0x80}
				if y != 100 {
					l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
				}
				p.Add(l)
			}
		}
		if err := add("capacity", "Capacity per stage: measured / predicted (dashed: ±15 %)", p, err); err != nil {
			return nil, err
		}
	}
	names = names[:0]
	var raw, wire plotter.Values
	for _, l := range a.Links {
		names = append(names, fmt.Sprintf("%d", len(names)+1))
		raw, wire = append(raw, float64(l.BytesRaw)/1e6), append(wire, float64(l.BytesWire)/1e6)
	}
	p, err = bars("Bytes per link (numbered as in the table)", "MB", names, []string{"raw", "wire"}, raw, wire)
	if err := add("links", "Bytes per link, raw and on the wire", p, err); err != nil {
		return nil, err
	}
	if len(a.Latency) > 0 {
		p := plot.New()
		p.Title.Text, p.X.Label.Text, p.Y.Label.Text = "End-to-end latency", "ms", "items"
		h, err := plotter.NewHist(plotter.Values(a.Latency), 30)
		if err == nil {
			h.FillColor = palette[0]
			p.Add(h)
		}
		if err := add("latency", "Latency distribution (from timing/*.csv)", p, err); err != nil {
			return nil, err
		}
	}
	if a.MeasuredAccuracy >= 0 {
		p, err := bars("accuracy ("+a.AccuracyMetric+")", "%", []string{"accuracy"}, []string{"predicted", "measured"},
			plotter.Values{a.PredictedAccuracy}, plotter.Values{a.MeasuredAccuracy})
		if err := add("accuracy", "Accuracy, predicted vs measured", p, err); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// bars draws grouped bars: one group per name, one bar per series.
func bars(title, ylabel string, names, series []string, vals ...plotter.Values) (*plot.Plot, error) {
	if len(names) == 0 {
		return nil, nil
	}
	p := plot.New()
	p.Title.Text, p.Y.Label.Text = title, ylabel
	w := vg.Points(float64(36 / len(series)))
	if len(names) > 6 {
		w = vg.Points(float64(20 / len(series)))
	}
	for i, v := range vals {
		b, err := plotter.NewBarChart(v, w)
		if err != nil {
			return nil, err
		}
		b.LineStyle.Width = 0
		b.Color = palette[i%len(palette)]
		b.Offset = w * vg.Length(float64(i)-float64(len(vals)-1)/2)
		p.Add(b)
		p.Legend.Add(series[i], b)
	}
	p.Legend.Top = true
	if len(names) == 1 {
		p.Legend.Left = true // the one group stands in the middle: the corner is free
	} else {
		// Headroom above the tallest bar keeps the legend (top right) from covering the last group.
		top := 0.0
		for _, v := range vals {
			for _, x := range v {
				top = max(top, x)
			}
		}
		if top > 0 {
			p.Y.Min, p.Y.Max = 0, top*1.3
		}
	}
	p.NominalX(names...)
	if len(names) > 4 { // long stage names would overlap
		p.X.Tick.Label.Rotation = 0.4
		p.X.Tick.Label.XAlign = -0.9
	}
	return p, nil
}

func render(p *plot.Plot, w, h vg.Length) ([]byte, error) {
	wt, err := p.WriterTo(w, h, "png")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
