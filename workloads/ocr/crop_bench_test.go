package ocr

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"jellybean/job/flow"
)

// benchPages loads the first 8 generated test pages (jellybean gen-data --workload ocr) with their ground
// truth line boxes as the detector's boxes: the crop and the detector input see real pages.
func benchPages(b *testing.B) []*flow.Item {
	dir := "data/test"
	f, err := os.Open(filepath.Join(dir, "manifest.jsonl"))
	if err != nil {
		b.Skip("no generated test pages (jellybean gen-data --workload ocr)")
	}
	defer f.Close()
	var items []*flow.Item
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() && len(items) < 8 {
		var rec struct {
			Image string `json:"image"`
			Lines []struct {
				Box [4]float64 `json:"box"`
			} `json:"lines"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			b.Fatal(err)
		}
		page, err := LoadPage(filepath.Join(dir, rec.Image))
		if err != nil {
			b.Fatal(err)
		}
		var boxes []Box
		for _, l := range rec.Lines {
			x0, y0, x1, y1 := l.Box[0], l.Box[1], l.Box[2], l.Box[3]
			boxes = append(boxes, Box{Quad: [4]Point{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}, Score: 1})
		}
		it := &flow.Item{ID: int64(len(items))}
		it.Set(rgbTensor("page", page))
		it.Set(boxesTensor("boxes", boxes))
		items = append(items, it)
	}
	return items
}

// benchStep times one OCR step on the bench pages, one page per call, and reports ms per page.
func benchStep(b *testing.B, build func(flow.Params, flow.Env) (flow.Step, flow.Signature, error), p flow.Params) {
	items := benchPages(b)
	st, _, err := build(p, flow.Env{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		for _, it := range items {
			if _, err := st.Process([]*flow.Item{it}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*len(items)), "ms/page")
}

func BenchmarkCropLines(b *testing.B) { benchStep(b, newCropLines, flow.Params{}) }

func BenchmarkDetectPreprocess960(b *testing.B) {
	benchStep(b, newDetPre, flow.Params{"size": int64(960)})
}
