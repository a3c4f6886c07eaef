package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"jellybean/plan/optimizer"
	"jellybean/plan/optimizer/inputs"
)

func init() {
	register("optimize", "choose model variants and place stages on hosts; print JSON or write a plan", runOptimize)
}

func runOptimize(args []string) error {
	fs := flag.NewFlagSet("optimize", flag.ContinueOnError)
	dir := fs.String("inputs", "", "inputs folder (original JellyBean format, or ours: jellybean.toml)")
	config := fs.String("config", "", "config.yaml of the original optimizer (optional)")
	solver := fs.String("solver", "exact", "heuristic (the original's), exact, cbc (the plain MILP in COIN-OR CBC, where its library is installed) or highs (the same in SciPy's HiGHS): "+strings.Join(optimizer.Solvers(), ", "))
	threshold := fs.Float64("threshold", 0, "accuracy target; overrides accuracy_requirement.json when > 0")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	out := fs.String("o", "", "write the runnable plan TOML here")
	limit := fs.Duration("time-limit", 60*time.Second, "bounds the whole solve after the inputs are read; the exact solver then reports its best plan and proven gap (Ctrl-C does the same sooner)")
	variants := fs.String("variants", "", "stage/variant → op/ONNX mapping (default: INPUTS/variants.toml if present)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() > 0 {
		return fmt.Errorf("usage: jellybean optimize --inputs DIR [--config FILE] [--solver heuristic|exact] [--threshold X] [--json] [-o PLAN]")
	}
	in, err := inputs.ReadDir(*dir, *config)
	if err != nil {
		return err
	}
	for _, w := range in.Warnings {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	p := in.Problem
	if *threshold > 0 {
		p.Threshold = *threshold
	}
	start := time.Now()
	// Ctrl-C ends the search early with the best plan found so far (a second Ctrl-C kills as usual).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	sol, err := optimizer.SolveContext(ctx, p, in.Config, *solver, *limit)
	stop()
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	if hint := optimizer.MILPHint(sol); hint != "" {
		fmt.Fprintln(os.Stderr, "optimize:", hint)
	}
	if *out != "" {
		var opts optimizer.PlanOptions
		if *variants != "" {
			data, err := os.ReadFile(*variants)
			if err != nil {
				return err
			}
			if opts, err = inputs.ParseVariants(*variants, data); err != nil {
				return err
			}
		} else if opts, err = inputs.ReadVariants(*dir); err != nil {
			return err
		}
		pl, err := optimizer.ToPlan(p, sol, opts)
		if err != nil {
			return err
		}
		data, err := pl.Encode()
		if err != nil {
			return err
		}
		if err := os.WriteFile(*out, data, 0o644); err != nil {
			return err
		}
	}
	if *asJSON {
		r := optimizer.NewReport(p, sol, secs)
		r.Warnings = in.Warnings
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	fmt.Printf("%s solver: %v, solved in %.3fs\n", sol.Solver, sol, secs)
	return nil
}
