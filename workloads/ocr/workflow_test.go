package ocr_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"jellybean/job/flow"
	"jellybean/job/onnx"
	"jellybean/plan/workflow"
	"jellybean/workloads/ocr"
	"jellybean/workloads/ocr/dataset"
	"jellybean/workloads/ocr/metrics"
	"jellybean/workloads/ocr/reference"
)

// TestWorkflowFileRunsInOneProcess compiles workflow.toml with the real models, runs generated pages
// through its nodes in order (the fan-out and fan-in included) and checks that the sink's results read
// the pages as the single-process reference pipeline does, with the same settings.
func TestWorkflowFileRunsInOneProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the PP-OCRv4 models (not in -short)")
	}
	if _, err := onnx.LibraryPath(); err != nil {
		t.Skip(err)
	}
	models, err := ocr.ModelsDir()
	if err != nil {
		t.Skip(err)
	}
	// The workflow names models/ relative to itself: run a copy beside a link to the fetched models.
	dir := t.TempDir()
	src, err := os.ReadFile("workflow.toml")
	if err != nil {
		t.Fatal(err)
	}
	wfPath := filepath.Join(dir, "workflow.toml")
	if err := os.WriteFile(wfPath, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(models, filepath.Join(dir, "models")); err != nil {
		t.Fatal(err)
	}
	wf, err := workflow.Load(wfPath)
	if err != nil {
		t.Fatal(err)
	}
	order, err := wf.TopoOrder()
	if err != nil {
		t.Fatal(err)
	}
	g, err := flow.Compile(wf, map[string]string{"Detect": "det960", "Recognise": "rec-full"},
		flow.Env{Device: "cpu", Threads: 1}, order...)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()

	data := filepath.Join(dir, "data")
	const pages = 2
	if err := dataset.Generate(data, pages, dataset.TestSeed); err != nil {
		t.Fatal(err)
	}
	man, err := flow.LoadManifest(filepath.Join(data, dataset.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	var items []*flow.Item
	for _, id := range man.IDs {
		rec, _ := man.Record(id)
		items = append(items, &flow.Item{ID: id, Record: rec})
	}
	// Each node takes the whole stream as one micro-batch except the recogniser, which takes 8 pieces at
	// a time (as a rank would), so its inputs of different widths are padded together.
	sink := order[len(order)-1]
	for _, i := range order {
		n := g.Nodes[i]
		batch := len(items)
		if wf.Nodes[i].Name == "Recognise" {
			batch = 8
		}
		var out []*flow.Item
		for start := 0; start < len(items); start += batch {
			got, _, err := n.Process(items[start:min(len(items), start+batch)])
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, got...)
		}
		if err := n.Finish(); err != nil {
			t.Fatal(err)
		}
		items = out
		if i == sink {
			break
		}
	}
	if len(items) != pages {
		t.Fatalf("%d results, want %d", len(items), pages)
	}
	var results []metrics.Result
	for _, it := range items {
		line, err := flow.ResultLine(it, wf.Nodes[sink].Fields, nil)
		if err != nil {
			t.Fatal(err)
		}
		var r metrics.Result
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("results line %s: %v", line, err)
		}
		results = append(results, r)
	}
	truth, err := dataset.LoadManifest(filepath.Join(data, dataset.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	total, _, err := metrics.ScoreResults(truth, results)
	if err != nil {
		t.Fatal(err)
	}

	// The reference pipeline with the workflow's settings on the same pages.
	p, err := reference.Open(models, 1, reference.DefaultSettings)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var ref metrics.Score
	for _, pg := range truth {
		img, err := ocr.LoadPage(filepath.Join(data, pg.Image))
		if err != nil {
			t.Fatal(err)
		}
		lines, _, err := p.Page(img, reference.Variant{DetSize: 960, RecScale: 1})
		if err != nil {
			t.Fatal(err)
		}
		ref = ref.Add(metrics.ScorePage(pg.Lines, lines))
	}
	t.Logf("workflow: CER %.2f %%, words %.2f %%, recall %.2f %%; reference: CER %.2f %%, words %.2f %%, recall %.2f %%",
		total.CER(), total.WordAccuracy(), total.Recall(), ref.CER(), ref.WordAccuracy(), ref.Recall())
	if total.Recall() != ref.Recall() {
		t.Errorf("workflow line recall %.2f %% differs from the reference's %.2f %% (same detector and settings)", total.Recall(), ref.Recall())
	}
	// Padding within a batch changes the recogniser's input a little, so texts may differ slightly.
	if d := total.WordAccuracy() - ref.WordAccuracy(); d < -3 || d > 3 || total.WordAccuracy() < 75 {
		t.Errorf("workflow word accuracy %.2f %% vs the reference's %.2f %%", total.WordAccuracy(), ref.WordAccuracy())
	}
}
