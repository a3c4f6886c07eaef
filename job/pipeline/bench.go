package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"jellybean/hostfiles"
	"jellybean/plan"
)

// BenchOptions configure BenchRunner.
type BenchOptions struct {
	Root         string  // JellyBean root
	Hostfile     string  // default hostfiles/localhost
	Plan         string  // default plan/examples/default.toml
	Items        int     // items per run (plan limit); 0 = the plan's
	RateFraction float64 // paced run at this fraction of the measured batch-mode throughput (default 0.8)
	Logf         func(string, ...any)
}

// BenchResult is what `jellybean bench runner` prints.
type BenchResult struct {
	Items                   int                `json:"items"`
	Cores                   int                `json:"cores"`
	BatchThroughput         float64            `json:"batch_throughput_items_per_second"`
	BatchWallSeconds        float64            `json:"batch_wall_seconds"`
	RunnerOverheadMsPerItem float64            `json:"runner_overhead_ms_per_item"` // batch run, model stages, not in ONNX Runtime
	ModelMsPerItem          float64            `json:"model_ms_per_item"`           // batch run, ONNX Runtime, all model stages
	OverheadVsModel         float64            `json:"overhead_vs_model"`           // runner overhead / ONNX Runtime time (load-independent)
	StageOverheadMs         map[string]float64 `json:"stage_overhead_ms_per_item"`
	PacedRate               float64            `json:"paced_input_rate"` // = the paced run's predicted throughput
	PacedThroughput         float64            `json:"paced_throughput_items_per_second"`
	ThroughputVsPredicted   float64            `json:"throughput_vs_predicted"`
	PacedLatencyMs          map[string]float64 `json:"paced_latency_ms"`
	BatchLatencyMs          map[string]float64 `json:"batch_latency_ms"`
}

// BenchRunner runs the plan twice in this process on loopback: in batch mode (as fast as possible), to
// measure throughput and the runner's per-item overhead; then paced at a fraction of that throughput,
// with that rate as the plan's predicted throughput (what the optimizer promises for a feasible plan at
// a given input rate), to measure how much of the predicted throughput the runner delivers.
func BenchRunner(ctx context.Context, o BenchOptions) (*BenchResult, error) {
	if o.Hostfile == "" {
		o.Hostfile = filepath.Join(o.Root, "hostfiles", "localhost")
	}
	if o.Plan == "" {
		o.Plan = filepath.Join(o.Root, "plan", "examples", "default.toml")
	}
	if o.RateFraction <= 0 {
		o.RateFraction = 0.8
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	hf, err := hostfiles.Load(o.Hostfile)
	if err != nil {
		return nil, err
	}
	p, err := plan.Load(o.Plan)
	if err != nil {
		return nil, err
	}
	if o.Items > 0 {
		p.Limit = o.Items
	}
	if err := plan.Validate(p, o.Plan, plan.Options{Hostfile: hf, Root: o.Root, CheckFiles: true}); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "jellybean-bench-runner-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	run := func(name string, rate float64) (*Summary, error) {
		q := *p
		q.InputRate = rate
		q.Predicted.ThroughputItemsPerSecond = rate
		base, err := FreeBasePort(maxSlots(hf), hf.HostNames()...)
		if err != nil {
			return nil, err
		}
		q.BasePort = base
		dir := filepath.Join(tmp, name)
		err = RunInProcess(ctx, Config{Hostfile: hf, Plan: &q, PlanName: o.Plan, Root: o.Root, RunDir: dir,
			JobID: "bench-" + name, Secret: []byte("bench-secret-0123456789"), Cores: runtime.NumCPU(),
			Stdout: discard{}, ConnectTimeout: 20 * time.Second})
		if err != nil {
			return nil, fmt.Errorf("%s run: %w", name, err)
		}
		var s Summary
		data, err := os.ReadFile(filepath.Join(dir, "summary.json"))
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, err
		}
		if s.CompletedThisRun != s.Items {
			return nil, fmt.Errorf("%s run completed %d of %d items", name, s.CompletedThisRun, s.Items)
		}
		return &s, nil
	}
	o.Logf("batch-mode run of %d items", p.Limit)
	batch, err := run("batch", 0)
	if err != nil {
		return nil, err
	}
	r := &BenchResult{Items: batch.Items, Cores: runtime.NumCPU(), BatchThroughput: batch.ThroughputItemsPerSecond,
		BatchWallSeconds: batch.WallSeconds, RunnerOverheadMsPerItem: batch.RunnerOverheadMsPerItem,
		StageOverheadMs: map[string]float64{}, BatchLatencyMs: batch.LatencyMs}
	for _, st := range batch.Stages {
		r.StageOverheadMs[st.Name] = st.OverheadMsPerItem
		if st.Op == "model" {
			r.ModelMsPerItem += st.ModelMsPerItem
		}
	}
	if r.ModelMsPerItem > 0 {
		r.OverheadVsModel = r.RunnerOverheadMsPerItem / r.ModelMsPerItem
	}
	r.PacedRate = batch.ThroughputItemsPerSecond * o.RateFraction
	o.Logf("paced run at %.1f items/s", r.PacedRate)
	paced, err := run("paced", r.PacedRate)
	if err != nil {
		return nil, err
	}
	r.PacedThroughput = paced.ThroughputItemsPerSecond
	r.ThroughputVsPredicted = paced.ThroughputVsPredicted
	r.PacedLatencyMs = paced.LatencyMs
	return r, nil
}

func maxSlots(hf *hostfiles.Hostfile) int {
	n := 0
	for _, h := range hf.Hosts {
		n = max(n, h.Slots)
	}
	return n
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }
