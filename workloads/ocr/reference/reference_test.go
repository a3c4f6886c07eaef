package reference

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"jellybean/job/onnx"
	"jellybean/workloads/ocr"
	"jellybean/workloads/ocr/dataset"
	"jellybean/workloads/ocr/metrics"
)

// envInt reads an integer setting of the measurement from the environment.
func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return v
}

// TestVariants runs every variant on generated pages and prints CER, word accuracy, line recall and model
// time per page. By default it runs 3 pages of the test seed (a check that the whole chain reads real
// pages); OCR_REF_PAGES and OCR_REF_SEED make it the measurement recorded in the README.
func TestVariants(t *testing.T) {
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
	n := envInt(t, "OCR_REF_PAGES", 3)
	seed := int64(envInt(t, "OCR_REF_SEED", int(dataset.TestSeed)))
	first := envInt(t, "OCR_REF_FIRST", 0)
	data := t.TempDir()
	if d := os.Getenv("OCR_REF_DATA"); d != "" {
		data = d
	}
	if _, err := os.Stat(filepath.Join(data, dataset.ManifestName)); err != nil {
		if err := dataset.Generate(data, first+n, seed); err != nil {
			t.Fatal(err)
		}
	}
	pages, err := dataset.LoadManifest(filepath.Join(data, dataset.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	if first+n > len(pages) {
		t.Fatalf("manifest has %d pages, want %d", len(pages), first+n)
	}
	pages = pages[first : first+n]
	p, err := Open(dir, envInt(t, "OCR_REF_THREADS", 1), DefaultSettings)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	type result struct {
		score  metrics.Score
		timing Timing
	}
	// By default the cheapest and the most accurate combination; OCR_REF_ALL=1 measures them all.
	cheap, best := Variant{480, false, RecScales[0]}, Variant{1280, false, 1}
	variants := []Variant{cheap, best}
	if os.Getenv("OCR_REF_ALL") != "" {
		variants = nil
		for _, size := range ocr.DetectorSizes {
			for _, sc := range RecScales {
				variants = append(variants, Variant{size, false, sc})
			}
		}
		variants = append(variants, Variant{1280, true, 1}) // the classifier's cost and effect
	}
	res := map[Variant]*result{}
	sizes := map[int]bool{}
	for _, v := range variants {
		res[v] = &result{}
		sizes[v.DetSize] = true
	}
	debug := os.Getenv("OCR_REF_DEBUG") != ""
	for _, pg := range pages {
		img, err := ocr.LoadPage(filepath.Join(data, pg.Image))
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range ocr.DetectorSizes {
			if !sizes[size] {
				continue
			}
			// Detection and crops are shared by the two classifier settings of a size.
			boxes, dd, err := p.Detect(img, size)
			if err != nil {
				t.Fatalf("page %d: %v", pg.ID, err)
			}
			crops, err := p.Crop(img, boxes)
			if err != nil {
				t.Fatalf("page %d: %v", pg.ID, err)
			}
			for _, v := range variants {
				if v.DetSize != size {
					continue
				}
				texts, tm, err := p.Recognise(crops, v.Cls, v.RecScale)
				if err != nil {
					t.Fatalf("page %d: %v", pg.ID, err)
				}
				tm.Det = dd
				var lines []metrics.Line
				for i, b := range boxes {
					if texts[i] != "" {
						lines = append(lines, metrics.Line{Text: texts[i], Box: b.Bounds()})
					}
				}
				s := metrics.ScorePage(pg.Lines, lines)
				r := res[v]
				r.score = r.score.Add(s)
				r.timing.Det += tm.Det
				r.timing.Cls += tm.Cls
				r.timing.Rec += tm.Rec
				if debug && v == best {
					t.Logf("page %d %s det%d: CER %.1f words %.1f recall %.1f (%d boxes, %d true lines)",
						pg.ID, pg.Kind, size, s.CER(), s.WordAccuracy(), s.Recall(), len(boxes), len(pg.Lines))
					if size == best.DetSize {
						for _, l := range lines {
							t.Logf("   %v %q", l.Box, l.Text)
						}
					}
				}
			}
		}
	}
	per := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(len(pages)) }
	out := fmt.Sprintf("%d pages, seed %d (from page %d)\n| variant | CER %% | word acc %% | line recall %% | det ms/page | cls ms/page | rec ms/page | model ms/page |\n|---|---|---|---|---|---|---|---|\n", len(pages), seed, first)
	for _, v := range variants {
		r := res[v]
		out += fmt.Sprintf("| %s | %.2f | %.2f | %.2f | %.0f | %.0f | %.0f | %.0f |\n", v, r.score.CER(), r.score.WordAccuracy(),
			r.score.Recall(), per(r.timing.Det), per(r.timing.Cls), per(r.timing.Rec), per(r.timing.Total()))
	}
	t.Log("\n" + out)
	if f := os.Getenv("OCR_REF_OUT"); f != "" {
		if err := os.WriteFile(f, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The most accurate combination must read these pages well, and better than the cheapest, which must
	// cost less.
	b, c := res[best], res[cheap]
	if b.score.WordAccuracy() < 80 {
		t.Errorf("%s word accuracy %.1f %% < 80 %%", best, b.score.WordAccuracy())
	}
	if b.score.WordAccuracy() <= c.score.WordAccuracy() || b.score.Recall() < c.score.Recall() {
		t.Errorf("%s (words %.1f %%, recall %.1f %%) is not better than %s (%.1f %%, %.1f %%)", best,
			b.score.WordAccuracy(), b.score.Recall(), cheap, c.score.WordAccuracy(), c.score.Recall())
	}
	if b.timing.Total() <= c.timing.Total() {
		t.Errorf("%s takes %v of model time, no more than %s's %v", best, b.timing.Total(), cheap, c.timing.Total())
	}
}
