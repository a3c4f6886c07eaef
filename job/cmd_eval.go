package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"jellybean/job/onnx"
	"jellybean/workloads/vqa"
	"jellybean/workloads/vqa/evaluate"
)

func init() {
	register("eval", "score a run (--run runs/ID -> eval.json) or profile variant accuracy (--profile)", runEval)
}

func runEval(args []string) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	run := fs.String("run", "", "run directory to score (writes RUN/eval.json)")
	profile := fs.Bool("profile", false, "measure every variant combination on a dataset split instead")
	split := fs.String("split", "val", "with --profile: split under --data to measure")
	data := fs.String("data", "workloads/vqa/data", "with --profile: dataset directory")
	models := fs.String("models", vqa.DefaultModelsDir, "with --profile: models directory")
	out := fs.String("out", "workloads/vqa/profiles", "with --profile: output directory")
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
		return runProfile(filepath.Join(*data, *split, "manifest.jsonl"), *models, *out, *threads)
	case *run == "":
		return fmt.Errorf("--run runs/ID (or --profile) is required")
	}
	rep, err := evaluate.EvalRun(".", *run)
	if err != nil {
		return err
	}
	if err := rep.Write(*run); err != nil {
		return err
	}
	fmt.Printf("%s: %d items, VQA accuracy %.2f%%, ASR WER %.2f%%, CER %.2f%% (missing %d) -> %s\n",
		*run, rep.Items, rep.VQAAccuracy, rep.ASRWER, rep.ASRCER, rep.Missing, filepath.Join(*run, "eval.json"))
	return nil
}

func runProfile(manifest, models, out string, threads int) error {
	if _, err := os.Stat(manifest); err != nil {
		return fmt.Errorf("%v (generate it: bin/jellybean gen-data --split val)", err)
	}
	if _, err := onnx.Init(); err != nil {
		return err
	}
	p, err := evaluate.RunProfile(evaluate.ProfileOptions{ModelsDir: models, Manifest: manifest, Threads: threads, Log: os.Stderr})
	if err != nil {
		return err
	}
	what := fmt.Sprintf("%d items of the %s split", p.Items, filepath.Base(filepath.Dir(manifest)))
	if err := evaluate.WriteProfile(out, p, what); err != nil {
		return err
	}
	fmt.Printf("profile of %d items written to %s/{profile.json,nodes_accuracy_profiles.json,tradeoff.png}\n", p.Items, out)
	return nil
}
