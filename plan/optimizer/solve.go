package optimizer

import (
	"context"
	"errors"
	"fmt"
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
			return nil, err // a heuristic cut short is not the original's answer
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
		seed, milpBound := p.milpSeed(ctx, cfg, h)
		if seed != nil && milpBound >= seed.Total*(1-1e-6) {
			// The MILP's bound already proves the plan optimal (to CBC's cutoff tolerance).
			s := *seed
			s.LowerBound, s.Solver, s.SeedKept = min(milpBound, seed.Total), "exact", seed == h
			return &s, nil
		}
		s, err := p.Exact(ExactOptions{Incumbent: seed, Ctx: ctx})
		if err != nil && herr != nil && errors.Is(herr, ErrTimeLimit) {
			return nil, fmt.Errorf("%w; %v", err, herr)
		}
		if err == nil && milpBound > s.LowerBound {
			s.LowerBound = min(milpBound, s.Total) // both bounds are valid, so the larger is
		}
		return s, err
	}
	if fn, ok := extraSolvers[solver]; ok {
		return fn(ctx, p, cfg)
	}
	if solver == "cbc" {
		return nil, fmt.Errorf("solver cbc: this binary was built without COIN-OR CBC (build with -tags cbc and the coinor-libcbc-dev package)")
	}
	return nil, fmt.Errorf("unknown solver %q (want %s)", solver, strings.Join(Solvers(), ", "))
}

// milpShare is the percentage of the time left that milpSeed gives the MILP solver. Measured on 36–72
// distinct hosts (BENCHMARKS.md): with half, the plan was 0.3 % dearer than CBC alone given the whole
// limit; with 85 %, our search after it improved neither plan nor bound on any of 8 instances. So on
// many-class fleets CBC (with the heuristic's cost as cutoff) gets all of it, and our search only what
// CBC leaves when it fails.
const milpShare = 100

// milpSeed runs the MILP solver (CBC, in a build with the cbc tag) before the exact search on fleets of
// many classes, where our search's bounds are weak (distinct hosts: one class each), with milpShare % of
// the time left. It returns the cheaper of its plan and h as the search's incumbent, and its proven
// bound (0 if none). On replicated fleets (few classes) our search alone is faster and the MILP is skipped.
func (p *Problem) milpSeed(ctx context.Context, cfg Config, h *Solution) (*Solution, float64) {
	if milpSolver == nil || len(p.Classes()) <= capCoverClasses || ctx.Err() != nil {
		return h, 0
	}
	mctx := ctx
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		mctx, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(d)*milpShare/100))
		defer cancel()
	}
	m, bound, err := milpSolver(mctx, p, h)
	if err != nil || (h != nil && m.Total >= h.Total) {
		return h, bound
	}
	return m, bound
}

// RemainingLimit is what is left of a whole-solve time limit after the heuristic's seed; 0 stays "no
// limit". It is never negative: a spent limit leaves 1 ns, which stops the search at once.
func RemainingLimit(limit, spent time.Duration) time.Duration {
	if limit <= 0 {
		return 0
	}
	return max(limit-spent, time.Nanosecond)
}
