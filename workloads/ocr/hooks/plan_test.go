package hooks

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"jellybean/hostfiles"
	"jellybean/job/onnx"
	"jellybean/job/pipeline"
	"jellybean/plan"
	"jellybean/workloads/ocr"
	"jellybean/workloads/ocr/dataset"
	"jellybean/workloads/ocr/metrics"
	"jellybean/workloads/ocr/reference"
	"jellybean/workloads/registry"
)

// repoRoot is the JellyBean root, three levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestOCRPlanAcrossRanks runs the shipped OCR plan (plan/examples/ocr.toml on hostfiles/localhost-ocr:
// seven ranks over loopback TCP, two recogniser workers) on three generated test pages, evaluates the
// run with the workload's evaluator and checks the figures against the reference pipeline reading the
// same pages with the same variants in one process.
func TestOCRPlanAcrossRanks(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the PP-OCRv4 models on seven ranks (not in -short)")
	}
	if _, err := onnx.LibraryPath(); err != nil {
		t.Skip(err)
	}
	models, err := ocr.ModelsDir()
	if err != nil {
		t.Skip(err)
	}
	root := repoRoot(t)
	tmp := t.TempDir()

	// The workflow file beside a link to the models, as fetch-models.sh lays it out in the repository.
	wfSrc, err := os.ReadFile(filepath.Join(root, "workloads", "ocr", "workflow.toml"))
	if err != nil {
		t.Fatal(err)
	}
	wfPath := filepath.Join(tmp, "workflow.toml")
	if err := os.WriteFile(wfPath, wfSrc, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(models, filepath.Join(tmp, "models")); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(tmp, "data")
	const pages = 3
	if err := dataset.Generate(data, pages, dataset.TestSeed); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(data, dataset.ManifestName)

	hf, err := hostfiles.Load(filepath.Join(root, "hostfiles", "localhost-ocr"))
	if err != nil {
		t.Fatal(err)
	}
	base, err := pipeline.FreeBasePort(hf.WorldSize(), "localhost")
	if err != nil {
		t.Fatal(err)
	}
	planSrc, err := os.ReadFile(filepath.Join(root, "plan", "examples", "ocr.toml"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(planSrc)
	for key, val := range map[string]string{"workflow": `"` + wfPath + `"`, "dataset": `"` + manifest + `"`, "base_port": itoa(base)} {
		re := regexp.MustCompile(`(?m)^` + key + ` = .*$`)
		if !re.MatchString(src) {
			t.Fatalf("plan/examples/ocr.toml has no %s line", key)
		}
		src = re.ReplaceAllString(src, key+" = "+val)
	}
	p, err := plan.Parse("ocr.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if hf.WorldSize() < 4 {
		t.Fatalf("the OCR hostfile has %d slots, want at least 4 ranks", hf.WorldSize())
	}
	runDir := filepath.Join(tmp, "run")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	enc, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(runDir, "plan.toml"), enc, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out strings.Builder
	start := time.Now()
	err = pipeline.RunInProcess(ctx, pipeline.Config{Hostfile: hf, Plan: p, PlanName: "ocr.toml", Root: tmp, RunDir: runDir,
		JobID: "ocr-test", Secret: []byte("ocr-test-secret-0123456789"), Cores: 2, Stdout: &out,
		HeartbeatTimeout: 20 * time.Second, ConnectTimeout: 30 * time.Second, Logf: t.Logf})
	if err != nil {
		t.Fatalf("OCR job: %v\n%s", err, out.String())
	}
	t.Logf("OCR job on %d ranks: %d pages in %v", hf.WorldSize(), pages, time.Since(start).Round(time.Millisecond))

	wl, err := registry.Lookup(Name)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := wl.Eval(tmp, runDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := registry.WriteEval(runDir, ev); err != nil {
		t.Fatal(err)
	}
	rep := ev.Doc.(*Report)
	t.Log(ev.Summary)
	if rep.Items != pages || rep.Missing != 0 || len(rep.Pages) != pages {
		t.Fatalf("eval: %d pages scored, %d missing, %d page entries; want %d, 0, %d", rep.Items, rep.Missing, len(rep.Pages), pages, pages)
	}
	if rep.Variants["Detect"] != "det960" || rep.Variants["Recognise"] != "rec-full" {
		t.Errorf("eval variants %v, want the plan's det960 and rec-full", rep.Variants)
	}

	// The reference pipeline with the plan's variants, as the workflow file sets them up.
	w, err := loadWorkflow(wfPath)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ReadChoices(w)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := reference.Open(models, 1, c.Settings)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	truth, err := dataset.LoadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	v := reference.Variant{DetSize: c.DetSizes["det960"], RecScale: c.RecScales["rec-full"]}
	var total metrics.Score
	for i, pg := range truth {
		img, err := ocr.LoadPage(filepath.Join(data, pg.Image))
		if err != nil {
			t.Fatal(err)
		}
		lines, _, err := ref.Page(img, v)
		if err != nil {
			t.Fatal(err)
		}
		s := metrics.ScorePage(pg.Lines, lines)
		total = total.Add(s)
		got := rep.Pages[i]
		if got.ID != pg.ID || got.LineRecall != s.Recall() {
			t.Errorf("page %d: run line recall %.2f %%, reference %.2f %% (same detector and settings)", pg.ID, got.LineRecall, s.Recall())
		}
	}
	t.Logf("reference %s: CER %.2f %%, words %.2f %%, recall %.2f %%", v, total.CER(), total.WordAccuracy(), total.Recall())
	// The Recognise node batches pieces of one width bucket only (pad = false), as the reference does, so
	// however the run forms its micro-batches every piece reads the same: the figures must be equal.
	const eps = 1e-9
	if d := rep.Values["word_accuracy"] - total.WordAccuracy(); d < -eps || d > eps {
		t.Errorf("run word accuracy %.4f %% vs the reference's %.4f %%: pieces read differently in the run", rep.Values["word_accuracy"], total.WordAccuracy())
	}
	if d := rep.Values["cer"] - total.CER(); d < -eps || d > eps {
		t.Errorf("run CER %.4f %% vs the reference's %.4f %%", rep.Values["cer"], total.CER())
	}
	if rep.Values["word_accuracy"] < 80 {
		t.Errorf("run word accuracy %.2f %% < 80 %% on det960 + rec-full", rep.Values["word_accuracy"])
	}
	if _, err := registry.ReadMetrics(filepath.Join(runDir, registry.EvalFile)); err != nil {
		t.Fatal(err)
	}
}
