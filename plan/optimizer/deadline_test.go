package optimizer_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"jellybean/plan/optimizer"
)

// distinctFleet is the medium example replicated k times in 2 or 3 tiers, every host's latencies scaled by
// its own factor in [0.95, 1.05]: no two hosts interchangeable, as on a profiled cluster.
func distinctFleet(t *testing.T, base *optimizer.Problem, k, tiers int, seed uint64, threshold float64) *optimizer.Problem {
	t.Helper()
	spec := optimizer.ScaleSpec{Copies: k, Jitter: 0.05, Seed: seed}
	if tiers == 3 {
		spec = optimizer.ScaleSpec{Copies: k, Tiers: 3, LinkScale: 0.1, FiveStages: true, Jitter: 0.05, Seed: seed}
	}
	p, err := optimizer.Scale(base, spec)
	if err != nil {
		t.Fatal(err)
	}
	p.Threshold = threshold
	if n := len(p.Classes()); n != len(p.Workers) {
		t.Fatalf("jittered fleet has %d classes for %d hosts: hosts are not distinct", n, len(p.Workers))
	}
	return p
}

// checkAgainstEvaluator re-evaluates the returned plan with the original's cost evaluator and checks the
// reported figures and bound against it.
func checkAgainstEvaluator(t *testing.T, p *optimizer.Problem, s *optimizer.Solution) {
	t.Helper()
	checkPlan(t, p, s)
	compute, comm := p.Evaluate(&s.Assignment, s.Order, optimizer.BackwardReject)
	if total := compute + comm; math.Abs(total-s.Total) > 1e-9*total {
		t.Errorf("reported total %v, evaluator gives %v", s.Total, total)
	}
	if s.LowerBound > s.Total*(1+1e-12) || s.LowerBound < 0 {
		t.Errorf("bound %v not in [0, cost %v]", s.LowerBound, s.Total)
	}
}

// The case: 306 distinct hosts, 3 tiers, five stages, a 1 s limit. Before the hard deadline the
// first root LP alone ran for minutes. The answer must come within the limit + 1 s, valid, costing at
// least its bound, and no worse than the heuristic's plan when the heuristic finished.
func TestDeadlineDistinct300(t *testing.T) { withEachMILP(t, deadlineDistinct300) }

func deadlineDistinct300(t *testing.T) {
	in := loadMedium(t, true)
	p := distinctFleet(t, in.Problem, 34, 3, 1, 56)
	start := time.Now()
	s, err := optimizer.Solve(p, in.Config, "exact", time.Second)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("after %v: %v", took, err)
	}
	t.Logf("%d hosts: %v in %v (%d nodes)", len(p.Workers), s, took, s.SearchedNodes)
	if took > 2*time.Second {
		t.Errorf("1 s limit: returned after %v", took)
	}
	checkAgainstEvaluator(t, p, s)
}

// Random distinct fleets (seeded), both tier layouts, short limits: every answer valid, in time, never
// below its bound.
func TestDeadlineDistinctRandom(t *testing.T) { withEachMILP(t, deadlineDistinctRandom) }

func deadlineDistinctRandom(t *testing.T) {
	in := loadMedium(t, true)
	for i, c := range []struct {
		k, tiers  int
		threshold float64
	}{{4, 2, 56}, {8, 3, 57}, {16, 2, 55}, {12, 3, 58}} {
		p := distinctFleet(t, in.Problem, c.k, c.tiers, uint64(100+i), c.threshold)
		exactWithinLimit(t, fmt.Sprintf("%+v", c), p, in.Config, 300*time.Millisecond)
	}
}

// exactWithinLimit runs the exact solver with a limit of at least floor and checks its answer: back within
// the limit + 1 s, valid under the evaluator, never below its bound, and never worse than the heuristic
// alone (no limit), the ceiling the exact solver must not exceed once it has finished its seed. The seed
// gets half the limit, so the limit is floor or four times what the heuristic took here if that is more
// (a loaded machine): the seed always finishes.
func exactWithinLimit(t *testing.T, name string, p *optimizer.Problem, cfg optimizer.Config, floor time.Duration) (*optimizer.Solution, time.Duration) {
	t.Helper()
	hStart := time.Now()
	h, herr := p.Heuristic(cfg)
	limit := max(floor, 4*time.Since(hStart))
	start := time.Now()
	s, err := optimizer.Solve(p, cfg, "exact", limit)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if took > limit+time.Second {
		t.Errorf("%s: returned after %v (limit %v)", name, took, limit)
	}
	checkAgainstEvaluator(t, p, s)
	if herr == nil && s.Total > h.Total*(1+1e-12) {
		t.Errorf("%s: exact %v worse than heuristic %v (limit %v)", name, s.Total, h.Total, limit)
	}
	return s, took
}

// Cancelling (Ctrl-C) ends a long solve at once with the best plan so far.
func TestCancelReturnsBestSoFar(t *testing.T) { withEachMILP(t, cancelReturnsBestSoFar) }

func cancelReturnsBestSoFar(t *testing.T) {
	in := loadMedium(t, true)
	p := distinctFleet(t, in.Problem, 16, 3, 7, 56)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(400*time.Millisecond, cancel)
	start := time.Now()
	s, err := optimizer.SolveContext(ctx, p, in.Config, "exact", time.Hour)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if took > 1400*time.Millisecond {
		t.Errorf("cancelled after 400 ms, returned after %v", took)
	}
	checkAgainstEvaluator(t, p, s)
}

// The heuristic solver cut short says so (it is not the original's answer then) instead of running on.
func TestHeuristicOverLimitFails(t *testing.T) {
	in := loadMedium(t, true)
	p := distinctFleet(t, in.Problem, 34, 3, 1, 56)
	start := time.Now()
	_, err := optimizer.Solve(p, in.Config, "heuristic", time.Millisecond)
	if !errors.Is(err, optimizer.ErrTimeLimit) {
		t.Fatalf("err = %v, want the time limit", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("returned after %v", took)
	}
}
