package optimizer_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"jellybean/plan/optimizer"
)

// CBC on the plain MILP finds the medium example's optimum, the same double as the exact solver.
func TestCBCMedium(t *testing.T) {
	needCBC(t)
	in := loadMedium(t, true)
	s, err := optimizer.Solve(in.Problem, in.Config, "cbc", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(s.Total-7.485018393756207) > 1e-12 {
		t.Errorf("cbc total %v, want 7.485018393756207", s.Total)
	}
	if s.Gap() > 1e-9 {
		t.Errorf("cbc gap %v: not proven", s.Gap())
	}
	checkAgainstEvaluator(t, in.Problem, s)
}

// Without CBC (here turned off, as where its library is not installed) --solver cbc says why and how to
// get it instead of failing obscurely, and the exact solver still answers.
func TestCBCMissingSaysHow(t *testing.T) {
	t.Setenv(optimizer.EnvCBC, "0")
	in := loadMedium(t, true)
	_, err := optimizer.Solve(in.Problem, in.Config, "cbc", time.Second)
	if err == nil || !strings.Contains(err.Error(), optimizer.EnvCBC+"=0") {
		t.Fatalf("err = %v, want it to name %s=0", err, optimizer.EnvCBC)
	}
	if _, err := optimizer.Solve(in.Problem, in.Config, "exact", 10*time.Second); err != nil {
		t.Fatalf("exact without CBC: %v", err)
	}
}

// Where the exact solver is left far from its bound without the MILP solvers, the hint says which are
// missing and how to get them; a proven answer gets none.
func TestMILPHint(t *testing.T) {
	t.Setenv(optimizer.EnvCBC, "0")
	t.Setenv(optimizer.EnvHiGHS, "0")
	in := loadMedium(t, true)
	s, err := optimizer.Solve(in.Problem, in.Config, "exact", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if h := optimizer.MILPHint(s); s.Gap() == 0 && h != "" {
		t.Errorf("proven optimum, hint %q", h)
	}
	p := distinctFleet(t, in.Problem, 8, 3, 1, 56)
	s, err = optimizer.Solve(p, in.Config, "exact", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	h := optimizer.MILPHint(s)
	if s.Gap() <= 0.005 {
		t.Fatalf("72 distinct hosts / 3 tiers in 1 s without MILP solvers: gap %v, want > 0.5 %% (the case the hint is for)", s.Gap())
	}
	for _, want := range []string{optimizer.EnvCBC + "=0", "python3-scipy"} {
		if !strings.Contains(h, want) {
			t.Errorf("hint %q does not mention %q", h, want)
		}
	}
}

// Engines names exactly the libraries the solvers may use: none when both are turned off, all three
// where they are installed (the full suite's machines).
func TestEngines(t *testing.T) {
	t.Run("off", func(t *testing.T) {
		t.Setenv(optimizer.EnvCBC, "0")
		t.Setenv(optimizer.EnvHiGHS, "0")
		if e := optimizer.Engines(); len(e) != 0 {
			t.Errorf("engines %v with CBC and HiGHS turned off", e)
		}
	})
	t.Run("installed", func(t *testing.T) {
		needCBC(t)
		needHiGHS(t)
		if e := strings.Join(optimizer.Engines(), ","); e != "cbc,clp,highs" {
			t.Errorf("engines %q, want cbc,clp,highs", e)
		}
	})
}

// The plain MILP in HiGHS (solver "highs") finds and proves the medium example's optimum too.
func TestHiGHSSolverMedium(t *testing.T) {
	if testing.Short() {
		t.Skip("runs HiGHS in a Python process")
	}
	in := loadMedium(t, true)
	s, err := optimizer.Solve(in.Problem, in.Config, "highs", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(s.Total-7.485018393756207) > 1e-9 || s.Gap() > 2e-6 || s.Solver != "highs" {
		t.Errorf("highs: %v (solver %q, gap %v), want 7.485018393756207 proven", s.Total, s.Solver, s.Gap())
	}
	checkAgainstEvaluator(t, in.Problem, s)
}

// On random small instances (arbitrary links, so the MILP's flows are a true relaxation) CBC's plan is
// valid and never cheaper than brute force's optimum, and its bound never above it.
func TestCBCRandomBoundsBruteForce(t *testing.T) {
	needCBC(t)
	for _, strong := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "strong"}[strong], func(t *testing.T) { cbcRandomBoundsBruteForce(t, strong) })
	}
}

func cbcRandomBoundsBruteForce(t *testing.T, strong bool) {
	r := rand.New(rand.NewPCG(11, 12))
	cfg := optimizer.DefaultConfig()
	checked := 0
	for i := range 40 {
		p := randomProblem(r, 4+r.IntN(4))
		brute, berr := p.BruteForce(true)
		s, err := optimizer.Solve(p, cfg, "cbc", 10*time.Second)
		if strong {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			s, _, err = optimizer.SolveCBCWith(ctx, p, optimizer.StrongMILP)
			cancel()
		}
		if berr != nil {
			if err == nil {
				t.Fatalf("instance %d: cbc found %v where brute force found none", i, s)
			}
			continue
		}
		if err != nil {
			t.Fatalf("instance %d: %v (brute force %v)", i, err, brute.Total)
		}
		checked++
		checkAgainstEvaluator(t, p, s)
		if s.Total < brute.Total*(1-1e-9) {
			t.Errorf("instance %d: cbc %v below the optimum %v", i, s.Total, brute.Total)
		}
		if s.LowerBound > brute.Total*(1+1e-9) {
			t.Errorf("instance %d: cbc bound %v above the optimum %v", i, s.LowerBound, brute.Total)
		}
	}
	if checked < 10 {
		t.Errorf("only %d feasible instances", checked)
	}
}

// With CBC in the build, the exact solver answers 306 distinct hosts within a 1 s limit (+1 s) with a
// valid plan above its bound; CBC alone answers in time too, with a plan or a time-limit error.
func TestCBCDeadlineDistinct300(t *testing.T) {
	needCBC(t)
	in := loadMedium(t, true)
	p := distinctFleet(t, in.Problem, 34, 3, 1, 56)
	for _, solver := range []string{"cbc", "exact"} {
		start := time.Now()
		s, err := optimizer.Solve(p, in.Config, solver, time.Second)
		took := time.Since(start)
		if took > 2*time.Second {
			t.Errorf("%s: 1 s limit, returned after %v", solver, took)
		}
		if solver == "cbc" && errors.Is(err, optimizer.ErrTimeLimit) {
			t.Logf("cbc alone: %v in %v", err, took) // the plain MILP may find no plan in 1 s: it says so
			continue
		}
		if err != nil {
			t.Fatalf("%s after %v: %v", solver, took, err)
		}
		t.Logf("%s: %v in %v", solver, s, took)
		checkAgainstEvaluator(t, p, s)
	}
}

// On 36 distinct hosts the exact solver (CBC's plan as its seed) is as good as CBC alone.
func TestCBCSeedDistinct36(t *testing.T) {
	needCBC(t)
	in := loadMedium(t, true)
	p := distinctFleet(t, in.Problem, 4, 2, 1, 56)
	h, err := p.Heuristic(in.Config)
	if err != nil {
		t.Fatal(err)
	}
	s, err := optimizer.Solve(p, in.Config, "exact", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstEvaluator(t, p, s)
	if s.Total >= h.Total {
		t.Errorf("exact with the CBC seed %v, heuristic %v: the MILP did not help", s.Total, h.Total)
	}
}

// The strengthened MILP (tight big-M, knapsack, least-tier, per-tier capacity and integer-cover rows) is
// still a relaxation: on random distinct fleets small enough for our branch and bound to prove the
// optimum, CBC on it never claims a bound above the optimum nor returns a plan below it, and its plan is
// valid under the cost evaluator.
func TestStrongMILPDistinctBounds(t *testing.T) {
	needCBC(t)
	in := loadMedium(t, true)
	for i, c := range []struct {
		k, tiers  int
		threshold float64
	}{{2, 2, 56}, {2, 2, 55}, {2, 2, 57}, {2, 2, 58}} {
		p := distinctFleet(t, in.Problem, c.k, c.tiers, uint64(200+i), c.threshold)
		opt, err := p.Exact(optimizer.ExactOptions{TimeLimit: time.Minute})
		if err != nil {
			t.Fatalf("%+v: exact: %v", c, err)
		}
		if opt.Gap() > 1e-9 {
			t.Fatalf("%+v: exact not proven in a minute (gap %v)", c, opt.Gap())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		s, bound, err := optimizer.SolveCBCWith(ctx, p, optimizer.StrongMILP)
		cancel()
		if err != nil {
			t.Fatalf("%+v: strong MILP: %v", c, err)
		}
		checkAgainstEvaluator(t, p, s)
		if bound > opt.Total*(1+1e-9) {
			t.Errorf("%+v: strong MILP bound %v above the optimum %v", c, bound, opt.Total)
		}
		if s.Total < opt.Total*(1-1e-9) {
			t.Errorf("%+v: strong MILP plan %v below the optimum %v", c, s.Total, opt.Total)
		}
		t.Logf("%+v: optimum %v, strong MILP %v (bound %v)", c, opt.Total, s.Total, bound)
	}
}

// Leaving out the combinations whose LP is not below a cost keeps the bound valid whatever the cost: on
// small distinct fleets, CBC over the kept combinations never claims a bound above the best plan known
// (the cheapest of the heuristic's, the plain and the strengthened MILP's), with the cost at the
// heuristic's, at the best plan's, and below it, where the best plan's own combination may be the one
// left out. (The reference is not a proof: on the 18-host / 3-tier / 55 instance below, CBC claims the
// plain model's optimum is 34.984 with gap 0, and the strengthened model finds a valid plan of 34.523.)
func TestPrunedMILPBounds(t *testing.T) {
	needCBC(t)
	in := loadMedium(t, true)
	for i, c := range []struct {
		k, tiers  int
		threshold float64
	}{{2, 2, 55}, {2, 2, 56}, {2, 3, 55}, {2, 3, 56}} {
		p := distinctFleet(t, in.Problem, c.k, c.tiers, uint64(400+i), c.threshold)
		h, err := p.Heuristic(in.Config)
		if err != nil {
			t.Fatalf("%+v: heuristic: %v", c, err)
		}
		best := h.Total
		for _, mask := range []int{0, optimizer.StrongMILP} {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			s, _, err := optimizer.SolveCBCWith(ctx, p, mask)
			cancel()
			if err != nil {
				t.Fatalf("%+v: MILP %d: %v", c, mask, err)
			}
			checkAgainstEvaluator(t, p, s)
			best = math.Min(best, s.Total)
		}
		for _, cost := range []float64{h.Total, best, 0.98 * best, 0.9 * best} {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			s, bound, err := optimizer.SolveCBCPruned(ctx, p, h, cost)
			cancel()
			if bound > best*(1+1e-9) {
				t.Errorf("%+v, cost %v: bound %v above a plan of %v", c, cost, bound, best)
			}
			if err != nil {
				t.Logf("%+v, cost %v: %v (bound %v)", c, cost, err, bound)
				continue
			}
			checkAgainstEvaluator(t, p, s)
			if s.Total < bound*(1-1e-9) {
				t.Errorf("%+v, cost %v: plan %v below its bound %v", c, cost, s.Total, bound)
			}
		}
	}
}

// The same on random small instances with brute force's optimum: whatever the cost, CBC over the
// combinations whose LP is below it claims no bound above the optimum.
func TestPrunedMILPBruteForce(t *testing.T) {
	needCBC(t)
	r := rand.New(rand.NewPCG(13, 14))
	checked := 0
	for i := range 40 {
		p := randomProblem(r, 4+r.IntN(4))
		brute, err := p.BruteForce(true)
		if err != nil {
			continue
		}
		checked++
		for _, f := range []float64{1.2, 1, 0.97, 0.93, 0.9, 0.85, 0.8} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			s, bound, err := optimizer.SolveCBCPruned(ctx, p, nil, f*brute.Total)
			cancel()
			if bound > brute.Total*(1+1e-9) {
				t.Errorf("instance %d, cost %v × optimum: bound %v above the optimum %v", i, f, bound, brute.Total)
			}
			if err == nil {
				checkAgainstEvaluator(t, p, s)
				if s.Total < brute.Total*(1-1e-9) {
					t.Errorf("instance %d: plan %v below the optimum %v", i, s.Total, brute.Total)
				}
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d feasible instances", checked)
	}
}

// The exact solver on random distinct fleets with CBC in the build (CBC on the strengthened MILP first,
// then our search): every answer is valid under the evaluator, never below its own bound, never worse
// than the heuristic, and back within the limit + 1 s.
func TestPortfolioDistinctRandom(t *testing.T) {
	needCBC(t)
	in := loadMedium(t, true)
	for i, c := range []struct {
		k, tiers  int
		threshold float64
	}{{4, 2, 55}, {4, 3, 56}, {8, 2, 57}, {8, 3, 55}, {16, 3, 58}} {
		p := distinctFleet(t, in.Problem, c.k, c.tiers, uint64(300+i), c.threshold)
		s, took := exactWithinLimit(t, fmt.Sprintf("%+v", c), p, in.Config, 2*time.Second)
		t.Logf("%+v: %v in %v", c, s, took)
	}
}

// A CBC solve that would run on (no limit of its own; 36 distinct hosts / 2 tiers / 55, which CBC
// proves in 3 s or more) is stopped by its context: interrupted (SIGINT) and, if it has not answered
// within the grace, killed — the call returns within the deadline + 1 s, and any bound it reports is
// at most the heuristic's cost. (CBC answers a SIGINT only once it is out of its current phase, which
// can take longer than the grace; then the solve reports nothing.)
func TestCBCProcessInterrupted(t *testing.T) {
	needCBC(t)
	in := loadMedium(t, true)
	p := distinctFleet(t, in.Problem, 4, 2, 1, 55)
	h, err := p.Heuristic(in.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	plan, bound, err := optimizer.SolveCBCUnlimited(ctx, p, h)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if took > 2500*time.Millisecond {
		t.Errorf("returned %v after a 1.5 s deadline", took)
	}
	if bound > h.Total {
		t.Errorf("bound %v above the heuristic's plan %v", bound, h.Total)
	}
	t.Logf("stopped after %v: plan %v, bound %v, heuristic %v", took, plan, bound, h.Total)
}

// The combinations' LPs solved one after another from the previous basis (pruneCombos) equal the same
// LPs solved from scratch and differ between combinations, on distinct fleets of 2 and 3 tiers; a time budget too short for any leaves
// every one unsolved (NaN), never a value that would be taken for a bound.
// HiGHS's combination LPs (where CBC, and with it CLP, is missing) equal CLP's; with no time, none is
// claimed solved.
func TestComboLPsHiGHSEqualCLP(t *testing.T) {
	needCBC(t)
	needHiGHS(t)
	in := loadMedium(t, true)
	p := distinctFleet(t, in.Problem, 8, 3, 501, 56)
	clp, highs := optimizer.ComboLPs(p, 0, 0), optimizer.ComboLPsHiGHS(p, 0)
	if len(clp) < 2 || len(highs) != len(clp) {
		t.Fatalf("%d combinations from CLP, %d from HiGHS; the test needs several", len(clp), len(highs))
	}
	for k := range clp {
		if math.IsNaN(highs[k]) || math.Abs(highs[k]-clp[k]) > 1e-6*math.Max(1, math.Abs(clp[k])) {
			t.Errorf("combination %d: LP %v in HiGHS, %v in CLP", k, highs[k], clp[k])
		}
	}
	for k, lp := range optimizer.ComboLPsHiGHS(p, 1e-9) {
		if !math.IsNaN(lp) {
			t.Errorf("combination %d: LP %v with no time to solve it", k, lp)
		}
	}
}

func TestComboLPsWarmEqualCold(t *testing.T) {
	needCBC(t)
	in := loadMedium(t, true)
	for i, c := range []struct {
		k, tiers  int
		threshold float64
	}{{4, 2, 55}, {4, 3, 55}, {8, 3, 56}} {
		p := distinctFleet(t, in.Problem, c.k, c.tiers, uint64(500+i), c.threshold)
		warm := optimizer.ComboLPs(p, 0, 0)
		if len(warm) < 2 {
			t.Fatalf("%+v: %d combinations; the test needs several", c, len(warm))
		}
		for k := range warm {
			cold := optimizer.ComboLPs(p, k, 0)[k] // solved first: from scratch
			if math.IsNaN(warm[k]) || math.IsNaN(cold) {
				t.Fatalf("%+v, combination %d: LP not solved (warm %v, cold %v)", c, k, warm[k], cold)
			}
			if math.Abs(warm[k]-cold) > 1e-7*math.Max(1, math.Abs(cold)) {
				t.Errorf("%+v, combination %d: LP %v from the previous basis, %v from scratch", c, k, warm[k], cold)
			}
		}
		// The combinations use different models, so their LPs differ: the same value for all would mean
		// no combination was fixed.
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, lp := range warm {
			lo, hi = math.Min(lo, lp), math.Max(hi, lp)
		}
		if hi < lo*1.01 {
			t.Errorf("%+v: every combination's LP within 1 %% (%v–%v): combinations not fixed", c, lo, hi)
		}
		for k, lp := range optimizer.ComboLPs(p, 0, 1e-9) {
			if !math.IsNaN(lp) {
				t.Errorf("%+v, combination %d: LP %v with no time to solve it", c, k, lp)
			}
		}
	}
}
