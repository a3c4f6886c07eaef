package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"jellybean/job/sweep"
	"jellybean/plan/optimizer"
	"jellybean/plan/optimizer/inputs"
)

func init() {
	register("sweep", "run the optimizer over growing infrastructures; CSV and plots of cost, gap, solve time", cmdSweep)
}

func cmdSweep(args []string) error {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	dir := fs.String("inputs", "plan/optimizer/testdata/medium", "base instance whose host types are replicated")
	config := fs.String("config", "plan/optimizer/testdata/medium/config.yaml", "config.yaml of the base instance ('' for none)")
	sizes := fs.String("sizes", "9,18,36,72", "infrastructure sizes in hosts (rounded up to whole copies of the base)")
	solver := fs.String("solver", "both", "both (heuristic and exact) or a list: heuristic,exact,cbc (cbc: where COIN-OR CBC's library is installed)")
	jitter := fs.Float64("jitter", 0, "each host's latencies × its own factor in [1−J, 1+J] (distinct hosts); 0: identical replicas")
	seed := fs.Uint64("seed", 1, "seed of --jitter")
	tiers := fs.Int("tiers", 2, "2: the base instance's tiers; 3: three tiers and five stages")
	limit := fs.Duration("time-limit", 10*time.Second, "per solve")
	out := fs.String("o", "", "output directory (sweep.csv, cost.png, gap.png, solve_time.png)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("sweep: -o DIR is required")
	}
	if *jitter < 0 || *jitter >= 1 {
		return fmt.Errorf("sweep: --jitter %g: want 0 ≤ J < 1", *jitter)
	}
	if *tiers != 2 && *tiers != 3 {
		return fmt.Errorf("sweep: --tiers %d: want 2 or 3", *tiers)
	}
	sz, err := sweep.ParseSizes(*sizes)
	if err != nil {
		return err
	}
	solvers, err := sweep.ParseSolvers(*solver)
	if err != nil {
		return err
	}
	in, err := inputs.ReadDir(*dir, *config)
	if err != nil {
		return err
	}
	// The exact solver's figures on distinct fleets depend on the libraries found: say which.
	fmt.Fprintf(os.Stderr, "sweep: solver libraries: %s\n", engineList(optimizer.Engines()))
	rows, err := sweep.Run(in.Problem, in.Config, sweep.Options{Sizes: sz, Solvers: solvers, Tiers: *tiers, Jitter: *jitter, Seed: *seed, TimeLimit: *limit, Progress: os.Stderr})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	csvPath, err := sweep.WriteCSVFile(*out, rows)
	if err != nil {
		return err
	}
	pngs, err := sweep.WritePlots(*out, rows)
	if err != nil {
		return err
	}
	fmt.Println("sweep:", csvPath, pngs)
	return nil
}
