package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"jellybean/job/gpucheck"
	"jellybean/workloads/all"
	"jellybean/workloads/registry"
)

func init() {
	register("gpucheck", "time every model of a workflow on CPU and CUDA, compare outputs, run a mixed CPU/GPU job", runGPUCheck)
}

func runGPUCheck(args []string) error {
	fs := flag.NewFlagSet("gpucheck", flag.ContinueOnError)
	batches := fs.String("batches", "1,8", "comma-separated batch sizes")
	threads := fs.Int("threads", 0, "CPU intra-op threads (0 = all cores)")
	runs := fs.Int("runs", 10, "timed runs per measurement (after 2 warm-up runs)")
	workload := fs.String("workload", all.Default, "workload whose workflow, test split and default plan are checked")
	workflowFile := fs.String("workflow", "", "workflow file whose models are timed (default: the workload's)")
	basePlan := fs.String("plan", "plan/examples/default.toml", "one-host plan of the mixed job checks (its workflow should be --workflow)")
	dataset := fs.String("dataset", "", "dataset manifest for the model inputs and the job checks (default: the workload's test split)")
	items := fs.Int("items", 16, "items the mixed job processes")
	stage := fs.String("stage", "", "stage whose first worker the mixed job runs on the GPU (default: the one with the largest model file)")
	basePort := fs.Int("base-port", 0, "ranks of the job checks listen on this port + slot (0 = the default plan's)")
	extra := fs.String("extra", "", "also time every *.onnx in `DIR` (float32 inputs, free batch dimension only)")
	jsonOut := fs.String("json", "gpucheck.json", "write the report as JSON to `FILE` (\"\" = don't)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	bs, err := gpucheck.ParseBatches(*batches)
	if err != nil {
		return err
	}
	if *runs < 1 || *items < 2 || *threads < 0 {
		return fmt.Errorf("--runs must be >= 1, --items >= 2, --threads >= 0")
	}
	if *workflowFile == "" || *dataset == "" {
		wl, err := registry.Lookup(*workload)
		if err != nil {
			return fmt.Errorf("gpucheck: --workload: %w", err)
		}
		if *workflowFile == "" {
			*workflowFile = wl.Workflow
		}
		if *dataset == "" {
			*dataset = filepath.Join(wl.DataDir, "test", "manifest.jsonl")
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	rep, err := gpucheck.Run(gpucheck.Config{Root: root, Workflow: *workflowFile, BasePlan: *basePlan, Binary: self, Dataset: *dataset, Stage: *stage,
		Batches: bs, Threads: *threads, Runs: *runs, JobItems: *items, BasePort: *basePort, ExtraDir: *extra,
		Logf: func(f string, a ...any) { fmt.Fprintf(os.Stderr, "gpucheck: "+f+"\n", a...) }})
	if err != nil {
		return err
	}
	fmt.Print(rep.Markdown())
	if *jsonOut != "" {
		data, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonOut, append(data, '\n'), 0o644); err != nil {
			return err
		}
	}
	if !rep.OK() {
		return errors.New("gpucheck: some checks failed (see the table)")
	}
	return nil
}
