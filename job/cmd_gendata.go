package main

import (
	"flag"
	"fmt"
	"os"

	"jellybean/workloads/vqa/dataset"
)

func init() {
	register("gen-data", "generate the spoken-VQA dataset (default: the test split the default job runs)", runGenData)
}

func runGenData(args []string) error {
	fs := flag.NewFlagSet("gen-data", flag.ContinueOnError)
	out := fs.String("out", "workloads/vqa/data", "parent directory of the split directories")
	split := fs.String("split", "test", "train, val, test or all")
	n := fs.Int("n", 0, "items per split (0 = the split's default: train 8000, val 500, test 400)")
	seed := fs.Uint64("seed", 1, "dataset seed (each split derives its own stream from it)")
	force := fs.Bool("force", false, "regenerate even if a complete split with the same parameters exists")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *n < 0 || *n > dataset.MaxItems {
		return fmt.Errorf("-n %d: want 1 to %d items per split (0 = the split's default)", *n, dataset.MaxItems)
	}
	splits := []string{*split}
	if *split == "all" {
		splits = dataset.Splits
	}
	for _, s := range splits {
		size := *n
		if size == 0 {
			size = dataset.DefaultSize[s]
		}
		spec := dataset.Spec{Out: *out, Split: s, N: size, Seed: *seed}
		if !*force && dataset.Complete(spec) {
			fmt.Fprintf(os.Stderr, "gen-data: %s is complete (%d items, seed %d); nothing to do\n", spec.ManifestPath(), size, *seed)
			continue
		}
		if err := dataset.Generate(spec, os.Stderr); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "gen-data: wrote %s\n", spec.ManifestPath())
	}
	return nil
}
