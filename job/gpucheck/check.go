package gpucheck

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"jellybean/job/gpu"
	"jellybean/job/onnx"
)

// Config is what `jellybean gpucheck` measures.
type Config struct {
	Root     string // JellyBean root
	Workflow string // workflow file whose models are timed, relative to Root
	BasePlan string // plan of the job checks, relative to Root (default plan/examples/default.toml)
	Binary   string // jellybean executable for the job checks
	Dataset  string // manifest of the model inputs and the job checks, relative to Root
	Batches  []int
	Threads  int // CPU intra-op threads (0 = all cores)
	Runs     int // timed runs per measurement (after 2 warm-up runs)
	JobItems int
	ExtraDir string // optional folder of further *.onnx models to time (see ExtraModels)
	Stage    string // stage whose first worker the job checks move to the GPU ("" = the largest model's)
	BasePort int    // ranks listen on BasePort+slot (0 = the default plan's)
	Logf     func(format string, a ...any)
}

// Row is one model variant at one batch size.
type Row struct {
	Node       string  `json:"node"` // workflow node ("extra" for --extra models)
	Variant    string  `json:"variant"`
	Batch      int     `json:"batch"`
	Input      string  `json:"input_shape,omitempty"` // shape of the model's first input, e.g. 8x3x960x736
	CPUms      float64 `json:"cpu_ms"`
	CUDAms     float64 `json:"cuda_ms,omitempty"`
	Speedup    float64 `json:"speedup,omitempty"`
	MaxAbsDiff float64 `json:"max_abs_diff,omitempty"`
	Scale      float64 `json:"output_scale"`
	DiffOK     bool    `json:"diff_ok"`
	Error      string  `json:"error,omitempty"`
}

// Check is one pass/fail step beyond the latency table.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Report is the whole result, printed as markdown and written as JSON.
type Report struct {
	Date         string        `json:"date"`
	Host         string        `json:"host"`
	CPUs         int           `json:"cpus"`
	ORTVersion   string        `json:"onnxruntime_version"`
	Inventory    gpu.Inventory `json:"inventory"`
	Threads      int           `json:"cpu_threads"`
	Runs         int           `json:"runs"`
	RelTolerance float64       `json:"rel_tolerance"`
	Inputs       string        `json:"inputs"`        // where the model inputs came from
	CUDA         string        `json:"cuda_settings"` // the CUDA provider settings the sessions ran with
	Rows         []Row         `json:"rows"`
	Checks       []Check       `json:"checks"`
	Seconds      float64       `json:"seconds"`
}

// OK reports whether every row and check passed.
func (r *Report) OK() bool {
	for _, row := range r.Rows {
		if row.Error != "" || (row.CUDAms > 0 && !row.DiffOK) {
			return false
		}
	}
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// Run measures and checks everything; errors in single steps are recorded in the report, not returned.
func Run(c Config) (*Report, error) {
	start := time.Now()
	logf := c.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	host, _ := os.Hostname()
	rep := &Report{Date: start.UTC().Format(time.RFC3339), Host: host, CPUs: runtime.NumCPU(), Threads: c.Threads,
		Runs: c.Runs, RelTolerance: RelTolerance}
	if rep.Threads == 0 {
		rep.Threads = runtime.NumCPU()
	}
	settings, err := onnx.CUDASettings(0, os.Getenv)
	if err != nil {
		return nil, err
	}
	rep.CUDA = fmt.Sprintf("cuDNN convolution algorithm search %s, TF32 %s (%s, %s)", settings["cudnn_conv_algo_search"],
		map[string]string{"0": "off", "1": "on"}[settings["use_tf32"]], onnx.EnvConvAlgoSearch, onnx.EnvTF32)
	if rep.Inventory, err = gpu.Discover(); err != nil {
		return nil, err
	}
	if rep.ORTVersion, err = onnx.Init(); err != nil {
		return nil, err
	}
	hasGPU := len(rep.Inventory.Devices) > 0
	// Real inputs: the dataset's first items, run through the workflow up to each model.
	manifest := c.Dataset
	if manifest != "" && !filepath.IsAbs(manifest) {
		manifest = filepath.Join(c.Root, manifest)
	}
	if _, err := os.Stat(manifest); err != nil {
		return nil, fmt.Errorf("dataset for the model inputs: %w (generate it with `jellybean gen-data`)", err)
	}
	models, inputs, err := WorkflowModels(filepath.Join(c.Root, c.Workflow), manifest, maxOf(c.Batches))
	if err != nil {
		return nil, err
	}
	rep.Inputs = fmt.Sprintf("the first items of %s, run through the nodes of %s up to each model", c.Dataset, c.Workflow)
	for _, m := range models {
		for _, b := range c.Batches {
			logf("%s %s batch %d", m.Node, m.Variant, b)
			rep.Rows = append(rep.Rows, measureRow(m, inputs, b, rep.Threads, c.Runs, hasGPU))
		}
	}
	if c.ExtraDir != "" {
		extra, err := ExtraModels(c.ExtraDir)
		if err != nil {
			return nil, err
		}
		for _, m := range extra {
			for _, b := range c.Batches {
				logf("extra model %s batch %d", m.Variant, b)
				rep.Rows = append(rep.Rows, measureRow(m, extraInputs, b, rep.Threads, c.Runs, hasGPU))
			}
		}
	}
	rep.Checks = jobChecks(c, hasGPU, logf)
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

func measureRow(m Model, makeInputs func(Model, int) ([]Input, error), batch, threads, runs int, hasGPU bool) Row {
	row := Row{Node: m.Node, Variant: m.Variant, Batch: batch}
	inputs, err := makeInputs(m, batch)
	if err != nil {
		row.Error = err.Error()
		return row
	}
	row.Input = shapeString(inputs[0].Shape)
	cpu, err := timeOn(m, "cpu", threads, inputs, runs)
	if err != nil {
		row.Error = err.Error()
		return row
	}
	row.CPUms, row.Scale = cpu.MedianMS, MaxAbs(cpu.Output)
	if !hasGPU {
		return row
	}
	gpuT, err := timeOn(m, "cuda:0", 0, inputs, runs)
	if err != nil {
		row.Error = err.Error()
		return row
	}
	row.CUDAms = gpuT.MedianMS
	if gpuT.MedianMS > 0 {
		row.Speedup = cpu.MedianMS / gpuT.MedianMS
	}
	row.MaxAbsDiff = MaxAbsDiff(cpu.Output, gpuT.Output)
	row.DiffOK = WithinTolerance(row.MaxAbsDiff, row.Scale)
	return row
}

// shapeString writes a tensor shape as the table shows it: 8x3x960x736.
func shapeString(shape []int64) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, "x")
}

func maxOf(v []int) int {
	m := 1
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// jobChecks runs the launcher checks. With a GPU: the mixed job completes, and SIGTERM to its CUDA rank
// aborts the job cleanly. Without: the CUDA placement is refused naming rank and host, and the SIGTERM
// check runs on a CPU rank (same mechanism, proving the check itself).
func jobChecks(c Config, hasGPU bool, logf func(string, ...any)) []Check {
	runs, err := os.MkdirTemp("", "gpucheck-runs-")
	if err != nil {
		return []Check{{Name: "mixed job", Detail: err.Error()}}
	}
	defer os.RemoveAll(runs)
	jc := JobConfig{Root: c.Root, BasePlan: c.BasePlan, Binary: c.Binary, Dataset: c.Dataset, Stage: c.Stage, Device: "cuda:0", Items: c.JobItems,
		BasePort: c.BasePort, RunsDir: runs, RunID: "mixed", Timeout: 2 * time.Minute}
	var checks []Check
	res, err := RunMixedJob(jc, false)
	logf("mixed job: %s on cuda:0, the other stages on CPU", res.Stage)
	if hasGPU {
		ok := err == nil && res.ExitOK && res.Completed == c.JobItems && summaryCompleted(res.RunDir) == c.JobItems
		checks = append(checks, Check{Name: fmt.Sprintf("mixed job (1 CUDA rank + %d CPU ranks)", res.Ranks-1), OK: ok,
			Detail: describe(res, err, fmt.Sprintf("%d of %d items in %.1f s", res.Completed, c.JobItems, res.WallSecond))})
	} else {
		rank, host, dev, found := Rejection(res.Output)
		ok := err == nil && !res.ExitOK && found && rank == res.Rank && host == "localhost" && dev == "cuda:0"
		checks = append(checks, Check{Name: "CUDA placement refused at start-up (no GPU)", OK: ok,
			Detail: describe(res, err, firstLineMatching(res.Output, "no such GPU"))})
	}
	device := "cuda:0"
	if !hasGPU {
		device = "cpu"
	}
	logf("SIGTERM to the %s rank of a running job", device)
	jc.Device, jc.RunID, jc.Rate = device, "sigterm", 4
	res, err = RunMixedJob(jc, true)
	line := firstLineMatching(res.Output, "received terminated")
	ok := err == nil && !res.ExitOK && line != "" && strings.Contains(line, fmt.Sprintf("rank %d", res.Rank)) &&
		res.Completed < c.JobItems && res.WallSecond < 60
	checks = append(checks, Check{Name: fmt.Sprintf("SIGTERM to the %s rank aborts the job cleanly", device), OK: ok,
		Detail: describe(res, err, fmt.Sprintf("%s (after %d items, %.1f s)", line, res.Completed, res.WallSecond))})
	return checks
}

func describe(res JobResult, err error, good string) string {
	if err != nil {
		return err.Error()
	}
	if good != "" && !strings.HasPrefix(good, " (") {
		return good
	}
	return good + "; launcher output: " + tail(res.Output, 600)
}

func firstLineMatching(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}
