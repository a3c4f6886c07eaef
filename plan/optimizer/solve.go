package optimizer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Solve runs the named solver with no way to interrupt it but the time limit; see SolveContext.
func Solve(p *Problem, cfg Config, solver string, timeLimit time.Duration) (*Solution, error) {
	return SolveContext(context.Background(), p, cfg, solver, timeLimit)
}

// SolverFunc is a solver registered by name (the MILP baseline of a build with the cbc tag). It must
// return by ctx's deadline with a plan valid under Evaluate, or an error.
type SolverFunc func(ctx context.Context, p *Problem, cfg Config) (*Solution, error)

var extraSolvers = map[string]SolverFunc{}

// milpSolver, when set (a build with the cbc tag), solves the MILP of milp.go; it returns the plan (nil
// if none in time) and the bound it proved either way.
var milpSolver func(ctx context.Context, p *Problem, incumbent *Solution) (*Solution, float64, error)

// RegisterSolver adds a solver by name (from an init function).
func RegisterSolver(name string, fn SolverFunc) { extraSolvers[name] = fn }

// Solvers lists the solver names this binary offers.
func Solvers() []string {
	names := []string{"heuristic", "exact"}
	var extra []string
	for n := range extraSolvers {
		extra = append(extra, n)
	}
	sort.Strings(extra)
	return append(names, extra...)
}

// SolveContext runs the named solver: "heuristic" (the original's main.py), "exact" (seeded with the
// heuristic; never worse than it) or a registered one. timeLimit (0 = none) bounds the whole solve, and
// ctx can end it sooner (Ctrl-C). When the limit comes the exact solver returns the best plan found and
// the bound proven so far; an error wrapping ErrTimeLimit means no plan was found in time.
func SolveContext(ctx context.Context, p *Problem, cfg Config, solver string, timeLimit time.Duration) (*Solution, error) {
	if timeLimit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeLimit)
		defer cancel()
	}
	switch solver {
	case "heuristic":
		s, err := p.HeuristicContext(ctx, cfg)
		if err != nil {
			return nil, err // a heuristic cut short is not the original's plan
		}
		return s, nil
	case "exact":
		// The heuristic seeds the search but gets at most half of the time: on large fleets it alone can
		// take seconds, and the search finds plans of its own.
		hctx := ctx
		if d, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			hctx, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(d)/2))
			defer cancel()
		}
		h, herr := p.HeuristicContext(hctx, cfg)
		if herr != nil && !errors.Is(herr, ErrTimeLimit) {
			h = nil // the heuristic can fail where a plan exists; the exact search still decides
		}
		// On many-class fleets, in a build with CBC, the MILP runs beside our search (its own thread) and
		// the better plan and the larger bound win; see milpBeside.
		exCtx, stopExact := context.WithCancel(ctx)
		defer stopExact()
		milp := p.milpBeside(ctx, h, stopExact)
		s, err := p.Exact(ExactOptions{Incumbent: h, Ctx: exCtx})
		m, milpBound := milp()
		if err != nil && m == nil {
			if herr != nil && errors.Is(herr, ErrTimeLimit) {
				return nil, fmt.Errorf("%w; %v", err, herr)
			}
			return nil, err
		}
		if m != nil && (err != nil || m.Total < s.Total*(1-relTol)) {
			lb := 0.0
			if err == nil {
				lb = s.LowerBound
			}
			sol := *m
			sol.Solver, sol.LowerBound = "exact", lb
			s = &sol
		}
		if milpBound > s.LowerBound {
			s.LowerBound = min(milpBound, s.Total) // both bounds are valid, so the larger is
		}
		return s, nil
	}
	if fn, ok := extraSolvers[solver]; ok {
		return fn(ctx, p, cfg)
	}
	if solver == "cbc" {
		return nil, fmt.Errorf("solver cbc: this binary was built without COIN-OR CBC (build with -tags cbc and the coinor-libcbc-dev package)")
	}
	return nil, fmt.Errorf("unknown solver %q (want %s)", solver, strings.Join(Solvers(), ", "))
}

// milpBeside starts the MILP solver (CBC, in a build with the cbc tag) in the background on fleets of
// more than capCoverClasses classes, and returns a function that waits for it
// and gives its plan (nil if none) and the bound it proved (0 if none). When CBC proves its plan or h
// optimal it calls proved, which stops our search early. Elsewhere it does nothing.
//
// Measured on distinct fleets (BENCHMARKS.md), the two are complementary: CBC finds the better plans, our
// search's tier-window bounds are often far tighter than CBC's (36 hosts, 2 tiers: 2.7 % vs 19 % gaps at
// 10 s), and run one after the other each had too little time. Side by side on the 2 cores each gets the
// whole limit. On replicated fleets (few classes) our search alone is faster and CBC is not started.
func (p *Problem) milpBeside(ctx context.Context, h *Solution, proved func()) func() (*Solution, float64) {
	if milpSolver == nil || len(p.Classes()) <= capCoverClasses || ctx.Err() != nil {
		return func() (*Solution, float64) { return nil, 0 }
	}
	type result struct {
		s     *Solution
		bound float64
	}
	done := make(chan result, 1)
	go func() {
		// No cutoff from h: measured on 36 distinct hosts / 2 tiers / 57, where the heuristic's plan is
		// optimal, CBC took 7.3 s to prove it with h's cost as cutoff and 0.28 s without.
		m, bound, err := milpSolver(ctx, p, nil)
		if err != nil {
			m = nil
		}
		best := math.Inf(1)
		if h != nil {
			best = h.Total
		}
		if m != nil {
			best = math.Min(best, m.Total)
		}
		if bound >= best*(1-2e-6) { // proven to CBC's tolerances
			proved()
		}
		done <- result{m, bound}
	}()
	return func() (*Solution, float64) {
		r := <-done
		return r.s, r.bound
	}
}

// RemainingLimit is what is left of a whole-solve time limit after the heuristic's seed; 0 stays "no
// limit". It is never negative: a spent limit leaves 1 ns, which stops the search at once.
func RemainingLimit(limit, spent time.Duration) time.Duration {
	if limit <= 0 {
		return 0
	}
	return max(limit-spent, time.Nanosecond)
}
