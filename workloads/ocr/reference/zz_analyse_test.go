package reference

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"jellybean/workloads/ocr"
	"jellybean/workloads/ocr/dataset"
	"jellybean/workloads/ocr/metrics"
)

func TestZZAnalyse(t *testing.T) {
	if os.Getenv("OCR_ANALYSE") == "" {
		t.Skip()
	}
	dir, _ := ocr.ModelsDir()
	n := envInt(t, "OCR_REF_PAGES", 10)
	seed := int64(envInt(t, "OCR_REF_SEED", 3))
	data := t.TempDir()
	first := envInt(t, "OCR_REF_FIRST", 0)
	if err := dataset.Generate(data, first+n, seed); err != nil {
		t.Fatal(err)
	}
	pages, _ := dataset.LoadManifest(filepath.Join(data, dataset.ManifestName))
	pages = pages[first:]
	p, err := Open(dir, 1, DefaultSettings)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	type agg struct{ words, ok int }
	by := map[string]*agg{}
	add := func(k string, w, ok int) {
		if by[k] == nil {
			by[k] = &agg{}
		}
		by[k].words += w
		by[k].ok += ok
	}
	var tot metrics.Score
	gaps := []int{6}
	if g := os.Getenv("OCR_GAPS"); g != "" {
		gaps = nil
		for _, f := range strings.Split(g, ",") {
			var v int
			fmt.Sscan(f, &v)
			gaps = append(gaps, v)
		}
	}
	gapTot := make([]metrics.Score, len(gaps))
	for _, pg := range pages {
		img, _ := ocr.LoadPage(filepath.Join(data, pg.Image))
		boxes, _, err := p.Detect(img, 1280)
		if err != nil {
			t.Fatal(err)
		}
		crops, _ := p.Crop(img, boxes)
		var lines []metrics.Line
		for gi, g := range gaps {
			p.S.WordGap = g
			texts, _, err := p.Recognise(crops, false, 1)
			if err != nil {
				t.Fatal(err)
			}
			var ls []metrics.Line
			for i, b := range boxes {
				if texts[i] != "" {
					ls = append(ls, metrics.Line{Text: texts[i], Box: b.Bounds()})
				}
			}
			gapTot[gi] = gapTot[gi].Add(metrics.ScorePage(pg.Lines, ls))
			if gi == 0 {
				lines = ls
			}
		}
		s := metrics.ScorePage(pg.Lines, lines)
		tot = tot.Add(s)
		fmt.Printf("page %d %s angle %.2f blur %.2f noise %.1f: words %.1f%% of %d\n", pg.ID, pg.Kind, pg.Angle, pg.Blur, pg.Noise, s.WordAccuracy(), s.Words)
		for _, tl := range pg.Lines {
			tb := [4]float64{float64(tl.Box[0]), float64(tl.Box[1]), float64(tl.Box[2]), float64(tl.Box[3])}
			best, bi := 0.0, -1
			for i, l := range lines {
				if v := metrics.IoU(tb, l.Box); v > best {
					best, bi = v, i
				}
			}
			tw := strings.Fields(tl.Text)
			ok := 0
			got := ""
			if bi >= 0 && best > 0.3 {
				got = lines[bi].Text
				ok = metrics.LCS(tw, strings.Fields(got))
			}
			sz := "small<13"
			if tl.Size >= 15 {
				sz = "big>=15"
			} else if tl.Size >= 13 {
				sz = "mid13-15"
			}
			bl := "sharp"
			if pg.Blur > 0 {
				bl = "blur"
			}
			add("size "+sz, len(tw), ok)
			add("font "+tl.Font, len(tw), ok)
			add(bl, len(tw), ok)
			add(bl+" "+sz, len(tw), ok)
			add("kind "+pg.Kind, len(tw), ok)
			ang := "straight"
			if pg.Angle != 0 {
				ang = "turned"
				if pg.Angle > 0.6 || pg.Angle < -0.6 {
					ang = "turned>0.6"
				}
			}
			add("angle "+ang, len(tw), ok)
			nz := "noise<5"
			if pg.Noise >= 5 {
				nz = "noise>=5"
			}
			add(nz, len(tw), ok)
			bl2 := "blur0"
			if pg.Blur > 0.75 {
				bl2 = "blur>0.75"
			} else if pg.Blur > 0 {
				bl2 = "blur<=0.75"
			}
			add(bl2+" "+sz, len(tw), ok)
			if ok < len(tw) && os.Getenv("OCR_SHOW") != "" {
				fmt.Printf("   %.1fpx %s: %q -> %q\n", tl.Size, tl.Font, tl.Text, got)
			}
		}
	}
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("%-30s %5d words  %.1f%%\n", k, by[k].words, 100*float64(by[k].ok)/float64(by[k].words))
	}
	for gi, g := range gaps {
		fmt.Printf("GAP %d: words %.2f%% CER %.2f\n", g, gapTot[gi].WordAccuracy(), gapTot[gi].CER())
	}
	fmt.Printf("TOTAL words %.2f%% CER %.2f recall %.2f\n", tot.WordAccuracy(), tot.CER(), tot.Recall())
}
