package reference

import (
	"path/filepath"
	"testing"

	"jellybean/job/onnx"
	"jellybean/workloads/ocr"
	"jellybean/workloads/ocr/dataset"
	"jellybean/workloads/ocr/metrics"
)

// TestTestPagesLineByLine checks the whole chain on the first receipt and form of the test split against
// their ground truth line by line: every true line found by exactly one box (IoU ≥ 0.5), no other boxes,
// and nearly every line's text read exactly (the few misreadings a real recogniser makes are allowed).
func TestTestPagesLineByLine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the PP-OCRv4 models (not in -short)")
	}
	if _, err := onnx.LibraryPath(); err != nil {
		t.Skip(err)
	}
	dir, err := ocr.ModelsDir()
	if err != nil {
		t.Skip(err)
	}
	data := t.TempDir()
	if err := dataset.Generate(data, 2, dataset.TestSeed); err != nil {
		t.Fatal(err)
	}
	pages, err := dataset.LoadManifest(filepath.Join(data, dataset.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Open(dir, 1, DefaultSettings)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, pg := range pages {
		img, err := ocr.LoadPage(filepath.Join(data, pg.Image))
		if err != nil {
			t.Fatal(err)
		}
		lines, _, err := p.Page(img, Variant{DetSize: 960, RecScale: 1})
		if err != nil {
			t.Fatal(err)
		}
		exact := 0
		for _, l := range pg.Lines {
			tb := [4]float64{float64(l.Box[0]), float64(l.Box[1]), float64(l.Box[2]), float64(l.Box[3])}
			var hits []string
			for _, pl := range lines {
				if metrics.IoU(tb, pl.Box) >= metrics.MatchIoU {
					hits = append(hits, pl.Text)
				}
			}
			switch {
			case len(hits) != 1:
				t.Errorf("page %d (%s): line %q %v matched by %d boxes %q", pg.ID, pg.Kind, l.Text, l.Box, len(hits), hits)
			case hits[0] == l.Text:
				exact++
			default:
				t.Logf("page %d: %q read as %q", pg.ID, l.Text, hits[0])
			}
		}
		if len(lines) != len(pg.Lines) {
			t.Errorf("page %d (%s): %d boxes read, %d true lines", pg.ID, pg.Kind, len(lines), len(pg.Lines))
		}
		if exact*10 < len(pg.Lines)*7 {
			t.Errorf("page %d (%s): %d of %d lines read exactly, want at least 70 %%", pg.ID, pg.Kind, exact, len(pg.Lines))
		}
	}
}
