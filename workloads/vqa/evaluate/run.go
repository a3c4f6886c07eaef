// Package evaluate scores a finished run against its dataset's ground truth (eval.json) and measures
// the accuracy profile of the shipped model variants for the optimizer.
package evaluate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"jellybean/plan"
	"jellybean/workloads/vqa"
)

// AccuracyMetric is the eval metric accuracy profiles predict: answers right, in percent.
const AccuracyMetric = "vqa_accuracy"

// Result is one line of a run's results.jsonl (fields eval reads; others are ignored).
type Result struct {
	ID       *int64            `json:"id"`
	Answer   *string           `json:"answer"`
	Question string            `json:"question"`
	Variants map[string]string `json:"variants"`
}

// Report is eval.json.
type Report struct {
	// The keys every workload's eval.json has (registry.Metrics): the headline accuracy (here
	// vqa_accuracy, which the accuracy profile predicts) and the named figures.
	AccuracyMetric string             `json:"accuracy_metric"`
	Accuracy       float64            `json:"accuracy"` // percent
	Metrics        map[string]float64 `json:"metrics"`

	Run          string                `json:"run"`
	Dataset      string                `json:"dataset"`
	Items        int                   `json:"items"`         // results scored
	DatasetItems int                   `json:"dataset_items"` // items in the manifest
	Missing      int                   `json:"missing"`       // manifest items with no result (within the plan's limit)
	VQAAccuracy  float64               `json:"vqa_accuracy"`  // percent
	ASRWER       float64               `json:"asr_wer"`       // percent
	ASRCER       float64               `json:"asr_cer"`       // percent
	ByType       map[string]TypeReport `json:"by_type"`       // per question type
	Variants     map[string]string     `json:"variants"`      // stage -> variant (the plan's, or the one all results name)
	VariantMix   map[string]int        `json:"variant_mix"`   // "stage=variant" -> results that used it
	Combinations []ComboReport         `json:"combinations"`  // per combination of variants seen in results
	PlanAccuracy float64               `json:"plan_predicted_accuracy,omitempty"`
}

// TypeReport is the accuracy on one question type.
type TypeReport struct {
	Items       int     `json:"items"`
	VQAAccuracy float64 `json:"vqa_accuracy"`
}

// ComboReport scores the results that used one combination of variants (weighted routing can send
// items through different variants of a stage).
type ComboReport struct {
	Variants    map[string]string `json:"variants"`
	Items       int               `json:"items"`
	VQAAccuracy float64           `json:"vqa_accuracy"`
	ASRWER      float64           `json:"asr_wer"`
}

// EvalRun scores runDir/results.jsonl against the manifest named by runDir/plan.toml (dataset, relative
// to root) and returns the report. Errors name the file and line at fault.
func EvalRun(root, runDir string) (*Report, error) {
	planPath := filepath.Join(runDir, "plan.toml")
	p, err := plan.Load(planPath)
	if err != nil {
		return nil, err
	}
	if p.Dataset == "" {
		return nil, fmt.Errorf("%s: key \"dataset\" is empty", planPath)
	}
	m, err := vqa.LoadManifest(plan.Resolve(root, p.Dataset))
	if err != nil {
		return nil, fmt.Errorf("dataset of %s: %w", planPath, err)
	}
	resPath := filepath.Join(runDir, "results.jsonl")
	results, err := readResults(resPath)
	if err != nil {
		return nil, err
	}
	rep, err := Score(m, results, resPath)
	if err != nil {
		return nil, err
	}
	rep.Run, rep.Dataset = runDir, p.Dataset
	if p.Limit > 0 && p.Limit < len(m.Items) {
		rep.Missing = p.Limit - rep.Items
	}
	if len(rep.Combinations) != 1 || len(rep.Variants) == 0 {
		// The plan's choice: every stage that names a variant runs a model (read without loading the
		// workflow, so that a run directory can be scored on its own).
		rep.Variants = map[string]string{}
		for _, st := range p.Stages {
			if st.Variant != "" {
				rep.Variants[st.Name] = st.Variant
			}
		}
	}
	rep.PlanAccuracy = p.Predicted.Accuracy
	return rep, nil
}

// lineResult is a result with the line it came from.
type lineResult struct {
	Result
	Line int
}

func readResults(path string) ([]lineResult, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []lineResult
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var r Result
		if err := json.Unmarshal(text, &r); err != nil {
			// A job killed mid-write may leave a torn last line: say so rather than fail obscurely.
			return nil, fmt.Errorf("%s:%d: %v", path, line, err)
		}
		if r.ID == nil {
			return nil, fmt.Errorf("%s:%d: key \"id\" missing", path, line)
		}
		if r.Answer == nil {
			return nil, fmt.Errorf("%s:%d: key \"answer\" missing", path, line)
		}
		out = append(out, lineResult{r, line})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return out, nil
}

// Score compares results with the manifest's ground truth. Every result must name a manifest item, and
// an item may be answered only once (name is the results file, for errors).
func Score(m *vqa.Manifest, results []lineResult, name string) (*Report, error) {
	if len(results) == 0 {
		return nil, fmt.Errorf("%s: no results", name)
	}
	total := &vqa.Tally{}
	combos := map[string]*vqa.Tally{}
	comboVariants := map[string]map[string]string{}
	mix := map[string]int{}
	seen := map[int64]int{}
	for _, r := range results {
		it, ok := m.ByID(*r.ID)
		if !ok {
			return nil, fmt.Errorf("%s:%d: id %d is not in %s", name, r.Line, *r.ID, m.Path)
		}
		if prev, dup := seen[*r.ID]; dup {
			return nil, fmt.Errorf("%s:%d: id %d answered twice (first on line %d)", name, r.Line, *r.ID, prev)
		}
		seen[*r.ID] = r.Line
		total.Add(it, *r.Answer, r.Question)
		key := comboKey(r.Variants)
		if combos[key] == nil {
			combos[key] = &vqa.Tally{}
			comboVariants[key] = r.Variants
		}
		combos[key].Add(it, *r.Answer, r.Question)
		for stage, v := range r.Variants {
			mix[stage+"="+v]++
		}
	}
	rep := &Report{
		Items:        total.Items,
		DatasetItems: len(m.Items),
		Missing:      len(m.Items) - total.Items,
		VQAAccuracy:  round(total.Accuracy()),
		ASRWER:       round(total.WER()),
		ASRCER:       round(total.CER()),
		ByType:       map[string]TypeReport{},
		VariantMix:   mix,
	}
	rep.AccuracyMetric, rep.Accuracy = AccuracyMetric, rep.VQAAccuracy
	rep.Metrics = map[string]float64{"vqa_accuracy": rep.VQAAccuracy, "asr_wer": rep.ASRWER, "asr_cer": rep.ASRCER}
	for _, typ := range total.Types() {
		tt := total.ByType[typ]
		rep.ByType[typ] = TypeReport{Items: tt.Items, VQAAccuracy: round(100 * float64(tt.Correct) / float64(tt.Items))}
	}
	keys := make([]string, 0, len(combos))
	for k := range combos {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c := combos[k]
		rep.Combinations = append(rep.Combinations, ComboReport{Variants: comboVariants[k], Items: c.Items,
			VQAAccuracy: round(c.Accuracy()), ASRWER: round(c.WER())})
	}
	if len(keys) == 1 {
		rep.Variants = comboVariants[keys[0]]
	}
	return rep, nil
}

func comboKey(v map[string]string) string {
	b, _ := json.Marshal(v) // map keys are sorted
	return string(b)
}

func round(x float64) float64 { return math.Round(x*100) / 100 }

// Write stores the report as runDir/eval.json.
func (r *Report) Write(runDir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(runDir, "eval.json"), append(b, '\n'), 0o644)
}
