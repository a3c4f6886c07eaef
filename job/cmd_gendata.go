package main

import (
	"flag"
	"fmt"
	"os"

	"jellybean/workloads/all"
	"jellybean/workloads/registry"
)

func init() {
	register("gen-data", "generate a workload's dataset (default: the test split the default job runs)", runGenData)
}

func runGenData(args []string) error {
	fs := flag.NewFlagSet("gen-data", flag.ContinueOnError)
	name := fs.String("workload", all.Default, fmt.Sprintf("workload whose dataset to make (registered: %v)", registry.Names()))
	out := fs.String("out", "", "parent directory of the split directories (default: the workload's data folder)")
	split := fs.String("split", "test", "a split of the workload's dataset (e.g. train, val, test), or all")
	n := fs.Int("n", 0, "items per split (0 = the split's default)")
	seed := fs.Uint64("seed", 1, "dataset seed (each split derives its own stream from it)")
	force := fs.Bool("force", false, "regenerate even if a complete split with the same parameters exists")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	wl, err := registry.Lookup(*name)
	if err != nil {
		return fmt.Errorf("--workload: %w", err)
	}
	if wl.GenData == nil {
		return fmt.Errorf("workload %q has no dataset generator", wl.Name)
	}
	if *n < 0 || (wl.MaxItems > 0 && *n > wl.MaxItems) {
		return fmt.Errorf("-n %d: want 1 to %d items per split (0 = the split's default)", *n, wl.MaxItems)
	}
	if *out == "" {
		*out = wl.DataDir
	}
	splits := []string{*split}
	if *split == "all" {
		splits = wl.Splits
	}
	for _, s := range splits {
		if err := wl.GenData(registry.GenOptions{Out: *out, Split: s, N: *n, Seed: *seed, Force: *force, Log: os.Stderr}); err != nil {
			return err
		}
	}
	return nil
}
