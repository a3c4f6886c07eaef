package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"jellybean/job/benchopt"
	"jellybean/plan/optimizer"
	"jellybean/plan/optimizer/inputs"
)

func init() {
	registerBench("optimize", "heuristic vs exact optimizer on generated instances (JSON lines)", benchOptimize)
}

// benchOptimize replicates the medium example's worker types k times (rate 40·k per source), in 2 tiers
// (the example's) or 3 tiers with five stages, over a range of accuracy targets, and prints one JSON line
// per instance: costs, the exact solver's proven gap, times and memory; with --jitter the hosts are
// distinct, and with --baseline another solver (the plain MILP in CBC) runs on the same instance.
func benchOptimize(args []string) error {
	fs := flag.NewFlagSet("bench optimize", flag.ContinueOnError)
	dir := fs.String("inputs", "plan/optimizer/testdata/medium", "base instance (original format)")
	config := fs.String("config", "plan/optimizer/testdata/medium/config.yaml", "config.yaml for the base instance")
	copies := fs.String("copies", "1,4,16,33", "replication factors k (workers = 9·k)")
	tiers := fs.String("tiers", "2,3", "2 = the example's tiers and links (3 stages); 3 = three tiers, five stages")
	thresholds := fs.String("thresholds", "55,56,57,58", "accuracy targets")
	limit := fs.Duration("time-limit", 10*time.Second, "time limit per instance and solver (the exact solver's includes its heuristic seed)")
	jitter := fs.Float64("jitter", 0, "each host's latencies × its own factor in [1−J, 1+J] (distinct hosts); 0: identical replicas")
	seed := fs.Uint64("seed", 1, "seed of --jitter")
	baseline := fs.String("baseline", "", "also run this solver on every instance (cbc: the plain MILP in CBC, highs: the same in HiGHS; where their libraries are installed) and report ratios to it")
	markdown := fs.String("markdown", "", "also write the run as a markdown table with the optimizer's targets checked to `FILE`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *jitter < 0 || *jitter >= 1 {
		return fmt.Errorf("--jitter %g: want 0 ≤ J < 1", *jitter)
	}
	if *baseline != "" && !slices.Contains(optimizer.Solvers(), *baseline) {
		return fmt.Errorf("--baseline %q: this binary offers %s", *baseline, strings.Join(optimizer.Solvers(), ", "))
	}
	if *baseline == "cbc" {
		if err := optimizer.CBCAvailable(); err != nil {
			return fmt.Errorf("--baseline cbc: %w", err)
		}
	}
	if *baseline == "highs" && !optimizer.HiGHSAvailable() {
		return errors.New("--baseline highs: " + optimizer.HiGHSMissing)
	}
	in, err := inputs.ReadDir(*dir, *config)
	if err != nil {
		return err
	}
	// The exact solver's figures depend on the libraries found, so every record names them.
	engines := optimizer.Engines()
	fmt.Fprintf(os.Stderr, "bench optimize: solver libraries: %s\n", engineList(engines))
	ks, err := intList(*copies)
	if err != nil {
		return fmt.Errorf("--copies: %w", err)
	}
	ts, err := intList(*tiers)
	if err != nil {
		return fmt.Errorf("--tiers: %w", err)
	}
	var ths []float64
	for _, s := range strings.Split(*thresholds, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("--thresholds: %q: %w", s, err)
		}
		ths = append(ths, x)
	}
	// Ctrl-C ends the current solve with its best plan and stops the benchmark after that line.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	enc := json.NewEncoder(os.Stdout)
	var rows []benchopt.Row
	total, done := len(ts)*len(ks)*len(ths), 0
	for _, nt := range ts {
		for _, k := range ks {
			spec := optimizer.ScaleSpec{Copies: k}
			if nt == 3 {
				spec = optimizer.ScaleSpec{Copies: k, Tiers: 3, LinkScale: in.Config.CommCostScalingFactor, FiveStages: true}
			} else if nt != 2 {
				return fmt.Errorf("--tiers: %d: want 2 or 3", nt)
			}
			spec.Jitter, spec.Seed = *jitter, *seed
			for _, th := range ths {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				p, err := optimizer.Scale(in.Problem, spec)
				if err != nil {
					return err
				}
				p.Threshold = th
				rec := map[string]any{"workers": len(p.Workers), "copies": k, "tiers": p.NumTiers, "threshold": th,
					"jitter": *jitter, "seed": *seed, "classes": len(p.Classes()), "time_limit_seconds": limit.Seconds(),
					"stages": countStages(p), "machine_cores": runtime.NumCPU(), "date": time.Now().UTC().Format(time.RFC3339),
					"engines": engines}
				runtime.GC()
				// The heuristic alone, within the limit, for its cost (the exact solver runs it again as its
				// seed, inside its own limit).
				t0 := time.Now()
				h, herr := optimizer.SolveContext(ctx, p, in.Config, "heuristic", *limit)
				rec["heuristic_seconds"] = time.Since(t0).Seconds()
				if herr != nil {
					rec["heuristic_error"] = herr.Error()
					h = nil
				} else {
					rec["heuristic_cost"] = h.Total
				}
				runtime.GC()
				t0 = time.Now()
				s, err := optimizer.SolveContext(ctx, p, in.Config, "exact", *limit)
				rec["exact_seconds"] = time.Since(t0).Seconds()
				// Kept for comparison with earlier runs: exact_seconds now includes the heuristic seed.
				rec["total_seconds"] = rec["exact_seconds"]
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				rec["sys_mib"] = ms.Sys >> 20
				if err != nil {
					rec["exact_error"] = err.Error()
				} else {
					rec["exact_cost"], rec["lower_bound"], rec["gap"], rec["search_nodes"] = s.Total, s.LowerBound, s.Gap(), s.SearchedNodes
					rec["heuristic_plan_kept"] = s.SeedKept
					if h != nil {
						rec["exact_over_heuristic"] = s.Total / h.Total
					}
				}
				if *baseline != "" {
					runtime.GC()
					t0 = time.Now()
					b, berr := optimizer.SolveContext(ctx, p, in.Config, *baseline, *limit)
					rec["baseline"] = *baseline
					rec["baseline_seconds"] = time.Since(t0).Seconds()
					if berr != nil {
						rec["baseline_error"] = berr.Error()
					} else {
						rec["baseline_cost"], rec["baseline_bound"], rec["baseline_gap"] = b.Total, b.LowerBound, b.Gap()
						if err == nil {
							rec["exact_over_baseline"] = s.Total / b.Total
							// The best bound either proved: each is valid, so the larger is too.
							best := math.Max(s.LowerBound, b.LowerBound)
							rec["best_bound"] = best
							rec["exact_gap_to_best_bound"] = math.Max(0, (s.Total-best)/s.Total)
						}
					}
				}
				if err := enc.Encode(rec); err != nil {
					return err
				}
				row := benchRow(rec, *jitter > 0)
				rows = append(rows, row)
				done++
				fmt.Fprintf(os.Stderr, "bench optimize: %d/%d: %d hosts / %d tiers / %g: exact %s, gap %.3f %%, %.2f s\n",
					done, total, row.Hosts, row.Tiers, th, strconv.FormatFloat(row.Exact, 'f', 4, 64), 100*row.Gap, row.ExactSeconds)
			}
		}
	}
	if *markdown != "" {
		head := fmt.Sprintf("Solver libraries: %s.\n\n", engineList(engines))
		return os.WriteFile(*markdown, []byte(head+benchopt.Markdown(rows, *baseline, limit.Seconds())), 0o644)
	}
	return nil
}

// benchRow is the instance's record as a row of the markdown summary.
func benchRow(rec map[string]any, distinct bool) benchopt.Row {
	f := func(k string) float64 {
		switch x := rec[k].(type) {
		case float64:
			return x
		case int:
			return float64(x)
		}
		return 0
	}
	r := benchopt.Row{Hosts: int(f("workers")), Tiers: int(f("tiers")), Threshold: f("threshold"), Distinct: distinct,
		Heuristic: f("heuristic_cost"), Exact: f("exact_cost"), Gap: f("gap"), ExactSeconds: f("exact_seconds"),
		Baseline: f("baseline_cost"), BaselineGap: f("baseline_gap"), BaselineSeconds: f("baseline_seconds"),
		GapToBestBound: f("exact_gap_to_best_bound")}
	_, r.HasBaseline = rec["baseline"]
	return r
}

func countStages(p *optimizer.Problem) int {
	n := 0
	for v := range p.Nodes {
		if !p.IsSource[v] {
			n++
		}
	}
	return n
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// engineList is optimizer.Engines for people: "none (our own code alone)" when empty.
func engineList(engines []string) string {
	if len(engines) == 0 {
		return "none (our own code alone)"
	}
	return strings.Join(engines, ", ")
}
