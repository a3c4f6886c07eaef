package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"jellybean/plan/optimizer"
	"jellybean/plan/optimizer/inputs"
)

func init() {
	registerBench("optimize", "heuristic vs exact optimizer on generated instances (JSON lines)", benchOptimize)
}

// benchOptimize replicates the medium example's worker types k times (rate 40·k per source), in 2 tiers
// (the example's) or 3 tiers with five stages, over a range of accuracy targets, and prints one JSON line
// per instance: costs, the exact solver's proven gap, times and memory.
func benchOptimize(args []string) error {
	fs := flag.NewFlagSet("bench optimize", flag.ContinueOnError)
	dir := fs.String("inputs", "plan/optimizer/testdata/medium", "base instance (original format)")
	config := fs.String("config", "plan/optimizer/testdata/medium/config.yaml", "config.yaml for the base instance")
	copies := fs.String("copies", "1,4,16,33", "replication factors k (workers = 9·k)")
	tiers := fs.String("tiers", "2,3", "2 = the example's tiers and links (3 stages); 3 = three tiers, five stages")
	thresholds := fs.String("thresholds", "55,56,57,58", "accuracy targets")
	limit := fs.Duration("time-limit", 10*time.Second, "time limit per instance (heuristic seed + exact search)")
	skipHeuristic := fs.Bool("no-heuristic-seed", false, "do not seed the exact solver with the heuristic")
	if err := fs.Parse(args); err != nil {
		return err
	}
	in, err := inputs.ReadDir(*dir, *config)
	if err != nil {
		return err
	}
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
	enc := json.NewEncoder(os.Stdout)
	for _, nt := range ts {
		for _, k := range ks {
			spec := optimizer.ScaleSpec{Copies: k}
			if nt == 3 {
				spec = optimizer.ScaleSpec{Copies: k, Tiers: 3, LinkScale: in.Config.CommCostScalingFactor, FiveStages: true}
			} else if nt != 2 {
				return fmt.Errorf("--tiers: %d: want 2 or 3", nt)
			}
			for _, th := range ths {
				p, err := optimizer.Scale(in.Problem, spec)
				if err != nil {
					return err
				}
				p.Threshold = th
				rec := map[string]any{"workers": len(p.Workers), "copies": k, "tiers": p.NumTiers, "threshold": th,
					"stages": countStages(p), "machine_cores": runtime.NumCPU(), "date": time.Now().UTC().Format(time.RFC3339)}
				runtime.GC()
				t0 := time.Now()
				h, herr := p.Heuristic(in.Config)
				rec["heuristic_seconds"] = time.Since(t0).Seconds()
				if herr != nil {
					rec["heuristic_error"] = herr.Error()
					h = nil
				} else {
					rec["heuristic_cost"] = h.Total
				}
				seed := h
				if *skipHeuristic {
					seed = nil
				}
				t0 = time.Now()
				// The time limit covers the whole solve: the heuristic's seed plus the exact search.
				s, err := p.Exact(optimizer.ExactOptions{Incumbent: seed, TimeLimit: optimizer.RemainingLimit(*limit, time.Duration(rec["heuristic_seconds"].(float64)*float64(time.Second)))})
				rec["exact_seconds"] = time.Since(t0).Seconds()
				rec["total_seconds"] = rec["exact_seconds"].(float64) + rec["heuristic_seconds"].(float64)
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
				if err := enc.Encode(rec); err != nil {
					return err
				}
			}
		}
	}
	return nil
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
