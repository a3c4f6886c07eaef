package optimizer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
)

// Solve runs the named solver with no way to interrupt it but the time limit; see SolveContext.
func Solve(p *Problem, cfg Config, solver string, timeLimit time.Duration) (*Solution, error) {
	return SolveContext(context.Background(), p, cfg, solver, timeLimit)
}

// SolverFunc is a solver registered by name (the MILP baselines cbc and highs). It must
// return by ctx's deadline with a plan valid under Evaluate, or an error.
type SolverFunc func(ctx context.Context, p *Problem, cfg Config) (*Solution, error)

var extraSolvers = map[string]SolverFunc{}

// milpOptions selects the MILP's formulation (milpStrength bits; 0 = the plain model of the baseline).
type milpOptions struct {
	Strength int
	Start    *Solution // a plan for CBC to start from (nil: none)
	// PruneAbove, when positive, leaves out of the model the variant combinations whose LP relaxation is
	// not below it (a known plan's cost; pruneCombos).
	PruneAbove float64
	pruned     *prunedCombos // shared by the solves of a race (nil: their own)
	// StartFrom, when set, is asked for a better start than Start once the model is built (it may wait
	// for a search running meanwhile); nil from it keeps Start.
	StartFrom func() *Solution
	// HiGHS solves the model with HiGHS (highs.go) instead of CBC; Start is then not used.
	HiGHS bool
}

// prunedCombos is pruneCombos' result shared by the solves of a race (computed once, by the first).
// full is the model over every combination when none was left out (so it is not built twice).
type prunedCombos struct {
	once       sync.Once
	keep       []Combo
	lb, keptLB float64 // the least LP of the combinations left out, and of those kept
	full       *milpModel
}

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
		if len(p.Workers) > capCoverClasses {
			// CBC's library is loaded and SciPy's Python found (~0.2 s) while the heuristic runs, not in
			// the race's time.
			go CBCAvailable()
			go HiGHSAvailable()
		}
		h, herr := p.HeuristicContext(hctx, cfg)
		if herr != nil && !errors.Is(herr, ErrTimeLimit) {
			h = nil // the heuristic can fail where a plan exists; the exact search still decides
		}
		return p.exactPortfolio(ctx, h, herr)
	}
	if fn, ok := extraSolvers[solver]; ok {
		return fn(ctx, p, cfg)
	}
	return nil, fmt.Errorf("unknown solver %q (want %s)", solver, strings.Join(Solvers(), ", "))
}

// exactPortfolio is the exact solver after the heuristic's seed h (nil if it failed; herr its error).
//
// On many-class fleets (more than capCoverClasses classes: profiled hosts, each its own class), where
// CBC's library is installed, CBC first solves the strengthened MILP (milp.go) with the time left, the
// heuristic's plan as its start, and beside it HiGHS solves the same model (raceMILP; highs.go) — without
// HiGHS installed, on up to raceMaxClasses classes a second CBC solve without the start races instead,
// above that CBC runs alone; without CBC, HiGHS runs alone — and our branch and bound runs only if time
// remains (a proof came early, or the solvers stopped for another reason), seeded with the better plan.
// Where the hosts come in kinds (kinds.go: a machine type's copies, a few percent apart in speed), the
// model that counts each kind's hosts races too, in CBC and HiGHS, for the bound the per-host models do
// not reach.
// Measured on distinct fleets of 36–297 hosts (BENCHMARKS.md), the MILP solvers on the strengthened model
// find plans as good as or better than our search, with far tighter bounds. On replicated fleets (few
// classes) our search alone is far faster than CBC and no MILP solver is started.
//
// On the largest fleets (more than sequentialMaxClasses classes) CBC's root on the strengthened model
// alone outlasts the limit (999 distinct hosts: no plan and no bound in 50 s), so there the plain MILP runs
// beside our search (exactBeside), in CBC and HiGHS racing where both are installed; where the hosts
// come in kinds, the kinds model in both in its place (with one of them installed: the kinds model and
// the plain one in it).
func (p *Problem) exactPortfolio(ctx context.Context, h *Solution, herr error) (*Solution, error) {
	nc := len(p.Classes())
	cbc := nc > capCoverClasses && CBCAvailable() == nil
	// counted: the hosts come in kinds (kinds.go) few enough that counting them pays.
	nk := 0
	if nc > capCoverClasses {
		nk = len(p.kinds())
	}
	counted := nc > capCoverClasses && nk <= nc/2
	if nc > sequentialMaxClasses {
		var opts []milpOptions
		highs := HiGHSAvailable()
		switch {
		case counted && cbc && highs:
			// Measured at 999 hosts / 2 tiers / 56, 60 s: the kinds model in both proves the optimum
			// in 34 s, where CBC on it beside HiGHS on the plain MILP stopped at 0.070 %.
			opts = []milpOptions{kindsOptions(milpStrength, false), kindsOptions(milpStrength, true)}
			prune(opts, h)
		case counted && (cbc || highs):
			opts = []milpOptions{kindsOptions(milpStrength, !cbc), {HiGHS: !cbc}}
			prune(opts[:1], h) // the plain MILP's LPs on this many hosts would take its time
		default:
			if cbc {
				opts = append(opts, milpOptions{})
			}
			if highs {
				opts = append(opts, milpOptions{HiGHS: true})
			}
		}
		if len(opts) > 0 {
			return p.exactBeside(ctx, h, herr, opts)
		}
	}
	seed, milpBound := h, 0.0
	if h != nil {
		tracef("heuristic: plan %g; %d classes, %d kinds", h.Total, nc, nk)
	}
	highs := nc > capCoverClasses && nc <= sequentialMaxClasses && HiGHSAvailable()
	if nc > capCoverClasses && (cbc || highs) && ctx.Err() == nil {
		strength := milpStrength
		if nc > orderMaxClasses {
			strength &^= milpOrder
		}
		var opts []milpOptions
		switch {
		case counted && cbc:
			// The hosts counted per kind: its bound closes where the strengthened model's stops short
			// whatever the time (BENCHMARKS.md, issue 12, session 13). Its plans are rounded from
			// counts, so the strengthened model races for plans beside it, in CBC from the best plan
			// known. Where HiGHS is installed it solves both models too: on the kinds model it proves
			// rows CBC does not (297 / 2 / 58 in 3.1 s), and on small fleets, where the kinds solves end
			// within a second, its solve of the strengthened model is what proves the optimum soon
			// (36 / 2 / 55–56: 2.3 s with it, 3–7 s without).
			opts = []milpOptions{kindsOptions(strength, false), {Strength: strength, Start: h}}
			if highs {
				opts = append(opts, kindsOptions(strength, true), milpOptions{Strength: strength, HiGHS: true})
			}
		case counted:
			// HiGHS alone (CBC's library is not installed), on both models (144 / 3 / 55: 0.137 %,
			// against 1.03 % with the strengthened model alone).
			opts = []milpOptions{kindsOptions(strength, true), {Strength: strength, HiGHS: true}}
		case cbc && highs:
			// The second racer is HiGHS: where CBC without a start proves an optimum, HiGHS proves it
			// too, it proves some that neither CBC solve does in the limit, and above 100 classes, where
			// a second CBC solve only took CPU from the first, it finds cheaper plans (highs.go).
			opts = []milpOptions{{Strength: strength, Start: h}, {Strength: strength, HiGHS: true}}
		case cbc && nc <= raceMaxClasses:
			opts = []milpOptions{{Strength: strength, Start: h}, {Strength: strength}}
		case cbc:
			opts = []milpOptions{{Strength: strength, Start: h}}
		default:
			// HiGHS alone (CBC's library is not installed); the combinations' LPs are HiGHS's too.
			opts = []milpOptions{{Strength: strength, HiGHS: true}}
		}
		prune(opts, h)
		var better func() *Solution
		if h != nil {
			better = p.localBeside(ctx, h)
			for k := range opts {
				if !opts[k].HiGHS && opts[k].Start != nil {
					opts[k].StartFrom = better
				}
			}
		}
		m, bound := p.raceMILP(ctx, opts)
		if better != nil {
			if l := better(); l != nil && (m == nil || l.Total < m.Total*(1-relTol)) {
				tracef("local search: plan %g beats the MILP's %v", l.Total, m != nil)
				m = l
			}
		}
		milpBound = bound
		if m != nil {
			tracef("milp: plan %g, bound %g (seed %v)", m.Total, bound, seed != nil)
		} else {
			tracef("milp: no plan, bound %g", bound)
		}
		if m != nil && (seed == nil || m.Total < seed.Total*(1-relTol)) {
			seed = m
		}
		if seed != nil && seed != h && milpBound < seed.Total*(1-2e-6) && ctx.Err() == nil {
			// What CBC left of the limit (its margin) goes to the local search from CBC's plan first.
			if l := p.localFrom(ctx, seed); l != nil {
				tracef("local search after CBC: %g from %g", l.Total, seed.Total)
				seed = l
			}
		}
	}
	var s *Solution
	if seed != nil && (milpBound >= seed.Total*(1-2e-6) || time.Until(deadlineOf(ctx)) < minSearchTime || ctx.Err() != nil) {
		// Proven by CBC (to its tolerances), or no time left for our search: the best plan as it is.
		sol := *seed
		s = &sol
	} else {
		var err error
		s, err = p.Exact(ExactOptions{Incumbent: seed, Ctx: ctx})
		if err != nil {
			if herr != nil && errors.Is(herr, ErrTimeLimit) {
				return nil, fmt.Errorf("%w; %v", err, herr)
			}
			return nil, err
		}
	}
	s.Solver = "exact"
	s.SeedKept = h != nil && s.Total >= h.Total*(1-relTol)
	if milpBound > s.LowerBound {
		s.LowerBound = min(milpBound, s.Total) // both bounds are valid, so the larger is
	}
	return s, nil
}

// kindsOptions is the solve of the model with hosts counted per kind (strength plus milpKinds; the
// symmetry rows are for single hosts), in HiGHS or CBC. It gets no start: from the heuristic's plan CBC
// proved less (144 distinct hosts / 3 tiers / 57: bound 360.01 in 8.7 s; without the start the kinds
// optimum 361.89; BENCHMARKS.md, session 13).
func kindsOptions(strength int, highs bool) milpOptions {
	return milpOptions{Strength: (strength | milpKinds) &^ milpOrder, HiGHS: highs}
}

// prune has the solves of opts leave out the variant combinations whose LP is not below h's cost (none
// when h is nil), the solves of one model sharing its LPs (pruneCombos).
func prune(opts []milpOptions, h *Solution) {
	if h == nil {
		return
	}
	shared := map[int]*prunedCombos{}
	for k := range opts {
		if shared[opts[k].Strength] == nil {
			shared[opts[k].Strength] = &prunedCombos{}
		}
		opts[k].PruneAbove, opts[k].pruned = h.Total, shared[opts[k].Strength]
	}
}

// localBeside starts improveLocal from the plan h in the background, given at most an eighth of the time
// left, and returns a function that waits for its plan (nil when it found nothing cheaper than h).
//
// Why beside: the search runs while the parent builds CBC's model and the combinations' LPs solve in the
// CBC process (1–1.5 s on 297 hosts), so its plan is ready to be CBC's start, a better incumbent than
// the heuristic's (297 hosts / 3 tiers / 57: 742.79 against 745.81 after 0.35 s).
func (p *Problem) localBeside(ctx context.Context, h *Solution) func() *Solution {
	lctx, cancel := context.WithCancel(ctx)
	if d, ok := ctx.Deadline(); ok {
		cancel()
		lctx, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(d)/8))
	}
	ch := make(chan *Solution, 1)
	go func() {
		defer cancel()
		ch <- p.localFrom(lctx, h)
	}()
	var once sync.Once
	var l *Solution
	return func() *Solution {
		once.Do(func() { l = <-ch })
		return l
	}
}

// localFrom is improveLocal from the plan h, as a solution (nil when it found nothing cheaper).
func (p *Problem) localFrom(ctx context.Context, h *Solution) *Solution {
	order := h.Order
	if order == nil {
		var err error
		if order, err = p.TopoOrder(); err != nil {
			return nil
		}
	}
	a, compute, comm := p.improveLocal(ctx, h.Assignment, order)
	tracef("local search: %g from %g", compute+comm, h.Total)
	if compute+comm >= h.Total*(1-relTol) {
		return nil
	}
	s := *h
	s.Assignment, s.Order, s.Compute, s.Comm, s.Total = a, order, compute, comm, compute+comm
	return &s
}

// raceMILP runs one CBC solve per formulation in opts side by side (each its own process, so on an idle
// 2-core machine each has a core) and returns the cheapest plan (nil if none) and the largest bound (0 if
// none; every one is valid). A solve that proves its plan optimal ends the race at once; the others are
// interrupted and left to end in the background. Why a race: CBC's search differs a lot with and without a starting solution, and
// neither wins everywhere (measured in BENCHMARKS.md: with the heuristic's plan as the start 36 distinct
// hosts / 2 tiers / 56 is proven in 2.8 s instead of not in 10 s, without it 36 / 3 / 57 in 2.4 s
// instead of not in 10 s).
func (p *Problem) raceMILP(ctx context.Context, opts []milpOptions) (*Solution, float64) {
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	type result struct {
		s     *Solution
		bound float64
	}
	done := make(chan result, len(opts))
	for _, opt := range opts {
		go func() {
			// The bound is valid whatever went wrong (CBC's, the cover rows', or 0), so the error is
			// not needed: a plan or not decides.
			m, bound, _ := solveCBC(rctx, p, opt)
			if math.IsInf(bound, 1) {
				bound = 0 // no plan exists (the search itself says so and why)
			}
			if m != nil && bound >= m.Total*(1-2e-6) {
				stop() // proven (to CBC's tolerances): the others need not go on
			}
			done <- result{m, bound}
		}()
	}
	var best *Solution
	bound := 0.0
	for range opts {
		r := <-done
		bound = math.Max(bound, r.bound)
		if r.s != nil && (best == nil || r.s.Total < best.Total) {
			best = r.s
		}
		if best != nil && bound >= best.Total*(1-2e-6) {
			// Proven: the others are interrupted and end in the background (killed within the grace).
			return best, bound
		}
	}
	return best, bound
}

// raceMaxClasses is the largest fleet on which two CBC solves race (raceMILP) when HiGHS is not
// installed; above it one solve, with the heuristic's plan as its start, has the CPU to itself (HiGHS,
// a different search, does race there: BENCHMARKS.md, issue 12, session 11). Measured on 144 and 297
// distinct hosts (2026-12-03 night, load about 3): the second solve (the strengthened model without the start, or the
// plain model) took CPU from the first and found no better plans or bounds — 144 / 2 / 56 0.20 % raced
// against 0.09 % alone, 297 / 2 / 55 0.10 % against 0.07 %; where proofs come, they come later.
// (Where the hosts come in kinds the race is the kinds model's solves beside the strengthened model's,
// at any size: the kinds solves are small and usually end first.)
const raceMaxClasses = 100

// sequentialMaxClasses is the largest fleet (in classes) on which CBC runs first on the strengthened MILP.
const sequentialMaxClasses = 400

// exactBeside runs the plain MILP beside our search (the whole limit) — in each MILP solver of opts,
// racing (raceMILP): CBC, HiGHS or both — and keeps the cheaper plan and the larger bound (all bounds
// are valid); a proof stops our search. Measured at 999 distinct hosts, 60 s (BENCHMARKS.md, issue 12):
// CBC alone beside the search 0.226 % / 0.255 % (2 / 3 tiers), CBC and HiGHS 0.171 % / 0.191 %, with
// cheaper plans; without the search beside them no better (0.171 % / 0.190 %).
func (p *Problem) exactBeside(ctx context.Context, h *Solution, herr error, opts []milpOptions) (*Solution, error) {
	exCtx, stopExact := context.WithCancel(ctx)
	defer stopExact()
	type result struct {
		s     *Solution
		bound float64
	}
	done := make(chan result, 1)
	go func() {
		m, bound := p.raceMILP(ctx, opts)
		best := math.Inf(1)
		if h != nil {
			best = h.Total
		}
		if m != nil {
			best = math.Min(best, m.Total)
		}
		if bound >= best*(1-2e-6) { // proven to CBC's tolerances
			stopExact()
		}
		done <- result{m, bound}
	}()
	s, err := p.Exact(ExactOptions{Incumbent: h, Ctx: exCtx})
	r := <-done
	if err != nil && r.s == nil {
		if herr != nil && errors.Is(herr, ErrTimeLimit) {
			return nil, fmt.Errorf("%w; %v", err, herr)
		}
		return nil, err
	}
	if r.s != nil && (err != nil || r.s.Total < s.Total*(1-relTol)) {
		lb := 0.0
		if err == nil {
			lb = s.LowerBound
		}
		sol := *r.s
		sol.Solver, sol.LowerBound = "exact", lb
		s = &sol
	}
	if r.bound > s.LowerBound {
		s.LowerBound = min(r.bound, s.Total)
	}
	return s, nil
}

// orderMaxClasses is the largest fleet on which the MILP gets the symmetry rows of milpOrder. Measured
// (CBC alone, 8 s, load 2–3.5): they help the proofs on 36 hosts (2 tiers / 55 proven in 2.9–5.9 s
// instead of 0.5 %, 3 tiers / 55–56 proven in 0.6–1.4 s instead of 3.2–3.3 s) but CBC found worse plans
// with them at 72 and 297 hosts (44.2355 vs 44.1991, 781.89 vs 780.52).
const orderMaxClasses = 100

// minSearchTime is the least time left for which our branch and bound is started after CBC.
const minSearchTime = 50 * time.Millisecond

// deadlineOf is ctx's deadline, or a time far ahead when it has none.
func deadlineOf(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(24 * time.Hour)
}

// RemainingLimit is what is left of a whole-solve time limit after the heuristic's seed; 0 stays "no
// limit". It is never negative: a spent limit leaves 1 ns, which stops the search at once.
func RemainingLimit(limit, spent time.Duration) time.Duration {
	if limit <= 0 {
		return 0
	}
	return max(limit-spent, time.Nanosecond)
}
