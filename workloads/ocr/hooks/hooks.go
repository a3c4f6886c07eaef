// Package hooks registers the OCR workload with the tools (workloads/registry): its workflow file, its
// dataset generator (gen-data --workload ocr), its evaluator (eval: CER, word accuracy, line recall) and
// its accuracy profiler (eval --profile, the loop's accuracy step). workloads/all imports it.
package hooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"jellybean/plan"
	"jellybean/workloads/ocr/dataset"
	"jellybean/workloads/ocr/metrics"
	"jellybean/workloads/registry"
)

// Name is the workload's name: the name = "..." of workflow.toml.
const Name = "ocr"

// AccuracyMetric is the eval figure the accuracy profile predicts: word accuracy, in percent.
const AccuracyMetric = "word_accuracy"

// Splits are the dataset's splits in generation order. Each has its own seed (see SplitSeed): the test
// split every reported figure comes from, a second seed that shows the figures hold, and the development
// seed the processing settings and the generator's difficulty were tuned on.
var Splits = []string{"test", "seed2", "dev"}

// DefaultPages is a split's size when gen-data is given no -n: enough pages for figures that hold, few
// enough to generate in a minute.
const DefaultPages = 30

func init() {
	registry.Register(&registry.Workload{
		Name:            Name,
		Workflow:        "workloads/ocr/workflow.toml",
		DataDir:         "workloads/ocr/data",
		Splits:          Splits,
		GenData:         genData,
		MaxItems:        dataset.MaxPages,
		Eval:            eval,
		ProfileAccuracy: profileAccuracy,
	})
}

// SplitSeed is the generator seed of a split for gen-data's --seed: with the default --seed 1 the splits
// are seeds 1 (test), 2 (seed2) and 3 (dev), the seeds the README's figures name; --seed s gives
// 3s-2, 3s-1 and 3s, so that no two (seed, split) pairs share pages.
func SplitSeed(split string, seed uint64) (int64, error) {
	if seed == 0 {
		seed = 1
	}
	for i, s := range Splits {
		if s == split {
			return int64(3*(seed-1)) + int64(i) + 1, nil
		}
	}
	return 0, fmt.Errorf("split %q: want one of %v", split, Splits)
}

// genInfo records how a split was made, so that gen-data can tell a complete split with the same
// parameters from one to regenerate.
type genInfo struct {
	Pages int   `json:"pages"`
	Seed  int64 `json:"seed"`
}

const genInfoFile = "gen-data.json"

func genData(o registry.GenOptions) error {
	seed, err := SplitSeed(o.Split, o.Seed)
	if err != nil {
		return err
	}
	if o.N == 0 {
		o.N = DefaultPages
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	dir := filepath.Join(o.Out, o.Split)
	want := genInfo{Pages: o.N, Seed: seed}
	if !o.Force {
		var have genInfo
		data, err := os.ReadFile(filepath.Join(dir, genInfoFile))
		if err == nil && json.Unmarshal(data, &have) == nil && have == want {
			if _, err := os.Stat(filepath.Join(dir, dataset.ManifestName)); err == nil {
				fmt.Fprintf(o.Log, "gen-data: %s is complete (%d pages, seed %d); nothing to do\n", filepath.Join(dir, dataset.ManifestName), o.N, seed)
				return nil
			}
		}
	}
	// A split made with other parameters goes first: its manifest must not outlive the new pages' start.
	if err := os.Remove(filepath.Join(dir, dataset.ManifestName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.RemoveAll(filepath.Join(dir, "pages")); err != nil {
		return err
	}
	fmt.Fprintf(o.Log, "gen-data: generating %d OCR pages (seed %d) into %s\n", o.N, seed, dir)
	if err := dataset.Generate(dir, o.N, seed); err != nil {
		return err
	}
	data, _ := json.Marshal(want)
	if err := os.WriteFile(filepath.Join(dir, genInfoFile), append(data, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(o.Log, "gen-data: wrote %s\n", filepath.Join(dir, dataset.ManifestName))
	return nil
}

// PageScore is one page's figures in eval.json.
type PageScore struct {
	ID           int64   `json:"id"`
	Kind         string  `json:"kind"`
	CER          float64 `json:"cer"`
	WordAccuracy float64 `json:"word_accuracy"`
	LineRecall   float64 `json:"line_recall"`
	Words        int     `json:"words"`
	Lines        int     `json:"lines"`
	Missing      bool    `json:"missing,omitempty"` // the run wrote no result for the page
}

// Report is eval.json for an OCR run.
type Report struct {
	registry.Metrics
	Run      string            `json:"run"`
	Dataset  string            `json:"dataset"`
	Variants map[string]string `json:"variants"`
	// PlanAccuracy is the word accuracy the plan predicted (0: the plan predicted none).
	PlanAccuracy float64     `json:"plan_accuracy,omitempty"`
	Missing      int         `json:"missing"`
	Pages        []PageScore `json:"pages"`
}

// Evaluate scores a run directory's results.jsonl against the dataset its plan.toml names (relative
// paths from root). With a plan limit, the first limit pages of the manifest are the job.
func Evaluate(root, runDir string) (*Report, error) {
	planPath := filepath.Join(runDir, "plan.toml")
	p, err := plan.Load(planPath)
	if err != nil {
		return nil, err
	}
	if p.Dataset == "" {
		return nil, fmt.Errorf("%s: key \"dataset\" is empty", planPath)
	}
	pages, err := dataset.LoadManifest(plan.Resolve(root, p.Dataset))
	if err != nil {
		return nil, fmt.Errorf("dataset of %s: %w", planPath, err)
	}
	if p.Limit > 0 && p.Limit < len(pages) {
		pages = pages[:p.Limit]
	}
	resPath := filepath.Join(runDir, "results.jsonl")
	results, err := metrics.LoadResults(resPath)
	if err != nil {
		return nil, err
	}
	have := map[int64]bool{}
	for _, r := range results {
		have[r.ID] = true
	}
	total, per, err := metrics.ScoreResults(pages, results)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", resPath, err)
	}
	rep := &Report{Run: runDir, Dataset: p.Dataset, Variants: map[string]string{}, PlanAccuracy: p.Predicted.Accuracy}
	for _, st := range p.Stages {
		if st.Variant != "" {
			rep.Variants[st.Name] = st.Variant
		}
	}
	for i, pg := range pages {
		s := per[i]
		rep.Pages = append(rep.Pages, PageScore{ID: pg.ID, Kind: pg.Kind, CER: s.CER(), WordAccuracy: s.WordAccuracy(),
			LineRecall: s.Recall(), Words: s.Words, Lines: s.Lines, Missing: !have[pg.ID]})
		if !have[pg.ID] {
			rep.Missing++
		}
	}
	rep.Metrics = registry.Metrics{Items: len(pages) - rep.Missing, AccuracyMetric: AccuracyMetric, Accuracy: total.WordAccuracy(),
		Values: map[string]float64{"cer": total.CER(), "word_accuracy": total.WordAccuracy(), "line_recall": total.Recall()}}
	return rep, nil
}

func eval(root, runDir string) (*registry.Evaluation, error) {
	rep, err := Evaluate(root, runDir)
	if err != nil {
		return nil, err
	}
	return &registry.Evaluation{
		Metrics: rep.Metrics,
		Summary: fmt.Sprintf("%d pages, CER %.2f%%, word accuracy %.2f%%, line recall %.2f%% (missing %d)",
			rep.Items, rep.Values["cer"], rep.Values["word_accuracy"], rep.Values["line_recall"], rep.Missing),
		Doc: rep,
	}, nil
}
