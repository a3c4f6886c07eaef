package sweep

import (
	"image/color"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// WritePlots writes cost.png, gap.png and solve_time.png into dir: one line per solver against hosts.
func WritePlots(dir string, rows []Row) ([]string, error) {
	metrics := []struct {
		file, title, ylabel string
		value               func(Row) (float64, bool)
	}{
		{"cost.png", "Plan cost vs infrastructure size", "$/hour", func(r Row) (float64, bool) { return r.Cost, r.Err == "" }},
		{"gap.png", "Optimality gap vs infrastructure size", "gap (cost − bound) / cost", func(r Row) (float64, bool) { return r.Gap, r.Gap >= 0 }},
		{"solve_time.png", "Solve time vs infrastructure size", "seconds", func(r Row) (float64, bool) { return r.Seconds, true }},
	}
	var written []string
	for _, m := range metrics {
		p := plot.New()
		p.Title.Text, p.X.Label.Text, p.Y.Label.Text = m.title, "hosts", m.ylabel
		i := 0
		for _, solver := range solversIn(rows) {
			var pts plotter.XYs
			for _, r := range rows {
				if v, ok := m.value(r); ok && r.Solver == solver {
					pts = append(pts, plotter.XY{X: float64(r.Hosts), Y: v})
				}
			}
			if len(pts) == 0 {
				continue
			}
			line, points, err := plotter.NewLinePoints(pts)
			if err != nil {
				return nil, err
			}
			c := plotutil.Color(i)
			if c == nil {
				c = color.Black
			}
			line.Color, points.Color, points.Shape = c, c, plotutil.Shape(i)
			p.Add(line, points)
			p.Legend.Add(solver, line, points)
			i++
		}
		p.Legend.Top = true
		path := filepath.Join(dir, m.file)
		if err := p.Save(16*vg.Centimeter, 9*vg.Centimeter, path); err != nil {
			return nil, err
		}
		written = append(written, path)
	}
	return written, nil
}

func solversIn(rows []Row) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range rows {
		if !seen[r.Solver] {
			seen[r.Solver] = true
			out = append(out, r.Solver)
		}
	}
	return out
}

// WriteCSVFile writes rows to dir/sweep.csv.
func WriteCSVFile(dir string, rows []Row) (string, error) {
	path := filepath.Join(dir, "sweep.csv")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := WriteCSV(f, rows); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}
