package optimizer_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"jellybean/plan/optimizer"
)

// Every bound the exact solver proves must stay at or below the true optimum (brute force): the root
// bounds (plain LP, tier-window LP, least box) and the bound returned when the time limit cuts the
// search short. The windowed bounds must also never be weaker than the plain LP.
func TestBoundsNeverExceedBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	checked, stronger := 0, 0
	for i := range 150 {
		p := randomProblem(r, 4+r.IntN(4))
		brute, err := p.BruteForce(true)
		if err != nil {
			continue
		}
		checked++
		opt := brute.Total * (1 + 1e-9)
		plain, windowed, box := p.RootBounds()
		if plain > opt || windowed > opt || box > opt {
			t.Errorf("instance %d: root bounds plain %v windowed %v box %v above the optimum %v", i, plain, windowed, box, brute.Total)
		}
		if windowed < plain*(1-1e-9) {
			t.Errorf("instance %d: windowed bound %v weaker than the plain LP %v", i, windowed, plain)
		}
		if windowed > plain*(1+1e-6) {
			stronger++
		}
		cut, err := p.Exact(optimizer.ExactOptions{TimeLimit: time.Microsecond})
		if err == nil && cut.LowerBound > opt {
			t.Errorf("instance %d: time-limited bound %v above the optimum %v", i, cut.LowerBound, brute.Total)
		}
	}
	if checked < 50 {
		t.Errorf("only %d feasible instances: the generator no longer exercises the bounds", checked)
	}
	if stronger == 0 {
		t.Errorf("the tier windows never tightened the LP on %d instances: the test no longer exercises them", checked)
	}
	t.Logf("%d instances, windows tightened the root LP on %d", checked, stronger)
}

// The box search must find the same optimum as the search without tier windows.
func TestWindowsSameOptimum(t *testing.T) {
	t.Cleanup(func() { optimizer.SetWindowBounds(true) })
	r := rand.New(rand.NewPCG(9, 10))
	for i := range 60 {
		p := randomProblem(r, 5+r.IntN(3))
		optimizer.SetWindowBounds(true)
		with, err1 := p.Exact(optimizer.ExactOptions{})
		optimizer.SetWindowBounds(false)
		without, err2 := p.Exact(optimizer.ExactOptions{})
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("instance %d: with windows err %v, without %v", i, err1, err2)
		}
		if err1 == nil && math.Abs(with.Total-without.Total) > 1e-9*without.Total {
			t.Errorf("instance %d: with windows %v, without %v", i, with.Total, without.Total)
		}
	}
}
