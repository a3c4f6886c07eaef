// Package registry is where each embedded workload hands the tools what a workflow file cannot say: how
// to make its dataset (gen-data), how to score a finished run (eval) and how to measure the accuracy of
// its variant combinations (eval --profile, the loop's accuracy step). A workload registers itself by
// name from an init function in its own package; the commands find it by the name in the plan's
// workflow file or by --workload. Nothing here knows any particular workload.
package registry

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"jellybean/plan/workflow"
)

// Workload is one embedded workload's hooks. Name must equal the name = "..." of its workflow file.
type Workload struct {
	Name string
	// Workflow is the default workflow file, relative to the JellyBean root.
	Workflow string
	// DataDir is the default dataset directory, relative to the root: it holds <split>/manifest.jsonl.
	DataDir string
	// Splits are the dataset's split names, in generation order (gen-data --split all).
	Splits []string
	// GenData makes one split of the dataset (nil: the workload has no generator); MaxItems bounds the
	// items per split it accepts (0: no bound).
	GenData  func(GenOptions) error
	MaxItems int
	// Eval scores a finished run directory (results.jsonl against the plan's dataset).
	Eval func(root, runDir string) (*Evaluation, error)
	// ProfileAccuracy measures the end-to-end accuracy of every variant combination on a manifest's
	// items and writes the workload's own files (tables, charts) into AccuracyOptions.Out.
	ProfileAccuracy func(AccuracyOptions) (*Accuracy, error)
}

// GenOptions say which split to generate. Zero N means the split's default size; the generator does
// nothing when a complete split with the same parameters exists, unless Force is set.
type GenOptions struct {
	Out   string // parent directory of the split directories
	Split string // the workload's split name (GenData rejects unknown ones)
	N     int
	Seed  uint64
	Force bool
	Log   io.Writer
}

// Metrics is the part of eval.json every workload writes and the tools read.
type Metrics struct {
	Items int `json:"items"`
	// AccuracyMetric names the figure among Values that accuracy profiles predict (the plan's
	// predicted accuracy is compared with it); Accuracy is its value, in percent.
	AccuracyMetric string             `json:"accuracy_metric"`
	Accuracy       float64            `json:"accuracy"`
	Values         map[string]float64 `json:"metrics"`
}

// Evaluation is what a workload's evaluator measured on a run.
type Evaluation struct {
	Metrics
	// Summary is one line for the terminal.
	Summary string
	// Doc is the whole eval.json document. It must carry Metrics' keys too (WriteEval checks).
	Doc any
}

// EvalFile is the name of the evaluation in a run directory.
const EvalFile = "eval.json"

// WriteEval stores the evaluation as runDir/eval.json, after checking that the document carries the
// common keys with the evaluation's values.
func WriteEval(runDir string, ev *Evaluation) error {
	data, err := json.MarshalIndent(ev.Doc, "", "  ")
	if err != nil {
		return err
	}
	var m Metrics
	if err := json.Unmarshal(data, &m); err != nil || m.AccuracyMetric != ev.AccuracyMetric || m.Accuracy != ev.Accuracy || m.Items != ev.Items {
		return fmt.Errorf("eval.json of %s: the workload's document lacks the common keys items/accuracy_metric/accuracy/metrics (a bug in its evaluator)", runDir)
	}
	return os.WriteFile(filepath.Join(runDir, EvalFile), append(data, '\n'), 0o644)
}

// ReadMetrics reads the common part of an eval.json.
func ReadMetrics(path string) (*Metrics, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Metrics
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m.AccuracyMetric == "" {
		return nil, fmt.Errorf("%s: no \"accuracy_metric\" (written by an older jellybean? run `jellybean eval --run` again)", path)
	}
	return &m, nil
}

// AccuracyOptions say what to measure.
type AccuracyOptions struct {
	Workflow string // workflow file whose variants are combined
	Manifest string // items to measure on (with ground truth)
	Threads  int    // intra-op threads per model session
	Out      string // directory for the workload's files ("" = write none)
	What     string // how the files describe the items after their count, e.g. "of the val split"
	Log      io.Writer
}

// Combo is the measured end-to-end accuracy of one choice of variant per model node.
type Combo struct {
	Variants map[string]string `json:"variants"` // model node -> variant
	Accuracy float64           `json:"accuracy"` // percent
}

// Accuracy is an accuracy profile: every combination the workload can run.
type Accuracy struct {
	Workload string  `json:"workload"`
	Metric   string  `json:"metric"` // the eval metric the combinations' accuracy is (e.g. a task's accuracy)
	Items    int     `json:"items"`
	Combos   []Combo `json:"combinations"`
}

var (
	mu        sync.RWMutex
	workloads = map[string]*Workload{}
)

// Register makes a workload available under w.Name; registering a name twice panics (a programming
// error in an init function).
func Register(w *Workload) {
	mu.Lock()
	defer mu.Unlock()
	if w.Name == "" {
		panic("registry: workload without a name")
	}
	if _, dup := workloads[w.Name]; dup {
		panic("registry: workload " + w.Name + " registered twice")
	}
	workloads[w.Name] = w
}

// Lookup returns the named workload, or an error listing the registered ones.
func Lookup(name string) (*Workload, error) {
	mu.RLock()
	defer mu.RUnlock()
	if w, ok := workloads[name]; ok {
		return w, nil
	}
	return nil, fmt.Errorf("workload %q is not registered (registered: %v)", name, namesLocked())
}

// Names lists the registered workloads, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	out := make([]string, 0, len(workloads))
	for n := range workloads {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ForWorkflow loads a workflow file and returns it with the workload registered under its name.
func ForWorkflow(path string) (*Workload, *workflow.Workflow, error) {
	w, err := workflow.Load(path)
	if err != nil {
		return nil, nil, err
	}
	wl, err := Lookup(w.Name)
	if err != nil {
		return nil, w, fmt.Errorf("%s: name = %q: %w", w.Path, w.Name, err)
	}
	return wl, w, nil
}
