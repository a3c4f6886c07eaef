package gpucheck

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"jellybean/job/gpu"
	"jellybean/job/onnx"
	"jellybean/workloads/vqa"
)

// Config is what `jellybean gpucheck` measures.
type Config struct {
	Root      string // JellyBean root
	ModelsDir string // relative to Root
	Binary    string // jellybean executable for the job checks
	Dataset   string // manifest for the job checks, relative to Root
	Batches   []int
	Threads   int // CPU intra-op threads (0 = all cores)
	Runs      int // timed runs per measurement (after 2 warm-up runs)
	JobItems  int
	ExtraDir  string // optional folder of further *.onnx models to time (see ExtraModels)
	BasePort  int    // ranks listen on BasePort+slot (0 = the default plan's)
	Logf      func(format string, a ...any)
}

// Row is one model variant at one batch size.
type Row struct {
	Kind       string  `json:"kind"`
	Variant    string  `json:"variant"`
	Batch      int     `json:"batch"`
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
	Inputs       string        `json:"inputs"` // where the model inputs came from
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
	var err error
	if rep.Inventory, err = gpu.Discover(); err != nil {
		return nil, err
	}
	if rep.ORTVersion, err = onnx.Init(); err != nil {
		return nil, err
	}
	hasGPU := len(rep.Inventory.Devices) > 0
	dir := filepath.Join(c.Root, c.ModelsDir)
	models, err := vqa.LoadModels(dir)
	if err != nil {
		return nil, err
	}
	mf, err := readModelsFile(dir)
	if err != nil {
		return nil, err
	}
	// Real inputs from the job's dataset when it is there, else synthetic ones of the same shapes.
	inputs := func(m vqa.ModelInfo, b int) ([]Input, error) { return Inputs(m, mf.ImageSize, mf.Features, b) }
	rep.Inputs = fmt.Sprintf("synthetic deterministic inputs of the models' shapes (audio %d s; dataset %s absent)", AudioSeconds, c.Dataset)
	manifest := c.Dataset
	if manifest != "" && !filepath.IsAbs(manifest) {
		manifest = filepath.Join(c.Root, manifest)
	}
	if man, err := vqa.LoadManifest(manifest); err == nil {
		inputs = func(m vqa.ModelInfo, b int) ([]Input, error) { return DataInputs(m, man, mf.ImageSize, mf.Features, b) }
		rep.Inputs = fmt.Sprintf("the first items of %s (real images, spoken and written questions; synthetic image features for the VQA models)", c.Dataset)
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	for _, m := range models {
		for _, b := range c.Batches {
			logf("%s %s batch %d", m.Kind, m.Variant, b)
			rep.Rows = append(rep.Rows, measureRow(dir, m, inputs, b, rep.Threads, c.Runs, hasGPU))
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
				rep.Rows = append(rep.Rows, measureRow(dir, m, extraInputs, b, rep.Threads, c.Runs, hasGPU))
			}
		}
	}
	rep.Checks = jobChecks(c, hasGPU, logf)
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

func readModelsFile(dir string) (vqa.ModelsFile, error) {
	var mf vqa.ModelsFile
	data, err := os.ReadFile(filepath.Join(dir, "models.json"))
	if err == nil {
		err = json.Unmarshal(data, &mf)
	}
	if err == nil && (mf.ImageSize <= 0 || mf.Features <= 0) {
		err = fmt.Errorf("image_size %d, features %d: both must be > 0", mf.ImageSize, mf.Features)
	}
	if err != nil {
		return mf, fmt.Errorf("%s: %w", filepath.Join(dir, "models.json"), err)
	}
	return mf, nil
}

func measureRow(dir string, m vqa.ModelInfo, makeInputs func(vqa.ModelInfo, int) ([]Input, error), batch, threads, runs int, hasGPU bool) Row {
	row := Row{Kind: m.Kind, Variant: m.Variant, Batch: batch}
	inputs, err := makeInputs(m, batch)
	if err != nil {
		row.Error = err.Error()
		return row
	}
	cpu, err := timeOn(dir, m, "cpu", threads, inputs, runs)
	if err != nil {
		row.Error = err.Error()
		return row
	}
	row.CPUms, row.Scale = cpu.MedianMS, MaxAbs(cpu.Output)
	if !hasGPU {
		return row
	}
	gpuT, err := timeOn(dir, m, "cuda:0", 0, inputs, runs)
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

func timeOn(dir string, m vqa.ModelInfo, device string, threads int, inputs []Input, runs int) (Timing, error) {
	s, err := openModel(dir, m, device, threads)
	if err != nil {
		return Timing{}, err
	}
	defer s.close()
	return s.time(inputs, 2, runs)
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
	jc := JobConfig{Root: c.Root, Binary: c.Binary, Dataset: c.Dataset, Device: "cuda:0", Items: c.JobItems,
		BasePort: c.BasePort, RunsDir: runs, RunID: "mixed", Timeout: 2 * time.Minute}
	var checks []Check
	logf("mixed job: SpeechRecognition on cuda:0, the other stages on CPU")
	res, err := RunMixedJob(jc, false)
	if hasGPU {
		ok := err == nil && res.ExitOK && res.Completed == c.JobItems && summaryCompleted(res.RunDir) == c.JobItems
		checks = append(checks, Check{Name: "mixed job (1 CUDA rank + 5 CPU ranks)", OK: ok,
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
