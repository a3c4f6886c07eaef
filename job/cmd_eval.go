package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"jellybean/plan"
	"jellybean/workloads/all"
	"jellybean/workloads/registry"
)

func init() {
	register("eval", "score a run (--run runs/ID -> eval.json) or profile variant accuracy (--profile)", runEval)
}

func runEval(args []string) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	run := fs.String("run", "", "run directory to score (writes RUN/eval.json) with the evaluator of its plan's workflow")
	profile := fs.Bool("profile", false, "measure every variant combination on a dataset split instead")
	workload := fs.String("workload", all.Default, "with --profile: the workload to profile (its workflow file, data and evaluator)")
	workflowFile := fs.String("workflow", "", "with --profile: workflow file (default: the workload's)")
	split := fs.String("split", "val", "with --profile: split under --data to measure")
	data := fs.String("data", "", "with --profile: dataset directory (default: the workload's)")
	out := fs.String("out", "", "with --profile: output directory (default: profiles/ beside the workflow file)")
	threads := fs.Int("threads", 1, "with --profile: intra-op threads per model session")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case *profile && *run != "":
		return fmt.Errorf("--run and --profile are exclusive")
	case *profile:
		return runAccuracyProfile(*workload, *workflowFile, *data, *split, *out, *threads)
	case *run == "":
		return fmt.Errorf("--run runs/ID (or --profile) is required")
	}
	wl, err := runWorkload(".", *run)
	if err != nil {
		return err
	}
	ev, err := wl.Eval(".", *run)
	if err != nil {
		return err
	}
	if err := registry.WriteEval(*run, ev); err != nil {
		return err
	}
	fmt.Printf("%s: %s -> %s\n", *run, ev.Summary, filepath.Join(*run, registry.EvalFile))
	return nil
}

// runWorkload finds the evaluator of a run: the workload named by its plan's workflow file.
func runWorkload(root, runDir string) (*registry.Workload, error) {
	planPath := filepath.Join(runDir, "plan.toml")
	p, err := plan.Load(planPath)
	if err != nil {
		return nil, err
	}
	if p.Workflow == "" {
		return nil, fmt.Errorf("%s: key \"workflow\" is empty", planPath)
	}
	wl, _, err := registry.ForWorkflow(plan.Resolve(root, p.Workflow))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", planPath, err)
	}
	if wl.Eval == nil {
		return nil, fmt.Errorf("%s: workload %q has no evaluator", planPath, wl.Name)
	}
	return wl, nil
}

func runAccuracyProfile(name, workflowFile, data, split, out string, threads int) error {
	wl, err := registry.Lookup(name)
	if workflowFile != "" {
		wl, _, err = registry.ForWorkflow(workflowFile)
	}
	if err != nil {
		return err
	}
	if wl.ProfileAccuracy == nil {
		return fmt.Errorf("workload %q has no accuracy profiler", wl.Name)
	}
	if workflowFile == "" {
		workflowFile = wl.Workflow
	}
	if data == "" {
		data = wl.DataDir
	}
	if out == "" {
		out = filepath.Join(filepath.Dir(workflowFile), "profiles")
	}
	manifest := filepath.Join(data, split, "manifest.jsonl")
	if _, err := os.Stat(manifest); err != nil {
		return fmt.Errorf("%v (generate it: bin/jellybean gen-data --workload %s --split %s)", err, wl.Name, split)
	}
	what := fmt.Sprintf("of the %s split", split)
	acc, err := wl.ProfileAccuracy(registry.AccuracyOptions{Workflow: workflowFile, Manifest: manifest, Threads: threads, Out: out, What: what, Log: os.Stderr})
	if err != nil {
		return err
	}
	fmt.Printf("accuracy profile of %d items (%d combinations, %s) written to %s\n", acc.Items, len(acc.Combos), acc.Metric, out)
	return nil
}
