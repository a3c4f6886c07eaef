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
		s, err := p.Exact(ExactOptions{Incumbent: h, Ctx: ctx})
		if err != nil && herr != nil && errors.Is(herr, ErrTimeLimit) {
			return nil, fmt.Errorf("%w; %v", err, herr)
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

// RemainingLimit is what is left of a whole-solve time limit after the heuristic's seed; 0 stays "no
// limit". It is never negative: a spent limit leaves 1 ns, which stops the search at once.
func RemainingLimit(limit, spent time.Duration) time.Duration {
	if limit <= 0 {
		return 0
	}
	return max(limit-spent, time.Nanosecond)
}
