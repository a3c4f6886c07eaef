package optimizer_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"jellybean/plan/optimizer"
)

// Cover cuts only add valid inequalities: the least box bound with them stays at or below the brute-force
// optimum, never below the bound without them, and is strictly higher on some instances.
func TestCoverCutsBelowBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	checked, tighter := 0, 0
	for i := range 120 {
		base := randomProblem(r, 3+r.IntN(2))
		p, err := optimizer.Scale(base, optimizer.ScaleSpec{Copies: 2}) // classes of two workers
		if err != nil {
			t.Fatal(err)
		}
		brute, err := p.BruteForce(true)
		if err != nil {
			continue
		}
		checked++
		plain, cut := p.BoxBounds()
		if cut > brute.Total*(1+1e-9) {
			t.Errorf("instance %d: bound with cover cuts %v above the optimum %v", i, cut, brute.Total)
		}
		if cut < plain*(1-1e-9) {
			t.Errorf("instance %d: bound with cover cuts %v below the one without %v", i, cut, plain)
		}
		if cut > plain*(1+1e-6) {
			tighter++
		}
	}
	if checked < 30 {
		t.Errorf("only %d feasible instances: the generator no longer exercises the bounds", checked)
	}
	if tighter == 0 {
		t.Errorf("cover cuts never tightened the box bound on %d instances", checked)
	}
	t.Logf("%d instances, cover cuts tightened the least box bound on %d", checked, tighter)
}

// On the 36-worker, 3-tier, 5-stage instance the cuts lift the least box bound towards the optimum
// 61.96637660524419 (proven by the solver before count branching, in 192 s, and by the test below).
func TestCoverCutsTighterThreeTiers(t *testing.T) {
	p := threeTier(t, 4, 56)
	plain, cut := p.BoxBounds()
	t.Logf("least box bound %.4f without cover cuts, %.4f with", plain, cut)
	if !(cut > plain+1) || cut > 61.96637660524419 {
		t.Errorf("least box bound %v with cover cuts, %v without: want > %v + 1 and ≤ the optimum 61.96637660524419", cut, plain, plain)
	}
}

// Branching on worker counts, forced on every box, finds the brute-force optimum (classes of two
// workers, so counts take the values 0, 1, 2), and its time-limited bounds stay below it.
func TestBranchingMatchesBruteForce(t *testing.T) {
	t.Cleanup(func() { optimizer.SetAlwaysBranch(false) })
	r := rand.New(rand.NewPCG(13, 14))
	feasible := 0
	for i := range 100 {
		base := randomProblem(r, 3+r.IntN(2))
		p, err := optimizer.Scale(base, optimizer.ScaleSpec{Copies: 2})
		if err != nil {
			t.Fatal(err)
		}
		brute, berr := p.BruteForce(true)
		optimizer.SetAlwaysBranch(true)
		exact, eerr := p.Exact(optimizer.ExactOptions{})
		cut, cerr := p.Exact(optimizer.ExactOptions{TimeLimit: 50 * time.Microsecond})
		optimizer.SetAlwaysBranch(false)
		if (berr == nil) != (eerr == nil) {
			t.Fatalf("instance %d: brute force err %v, exact err %v", i, berr, eerr)
		}
		if berr != nil {
			continue
		}
		feasible++
		checkPlan(t, p, exact)
		if math.Abs(exact.Total-brute.Total) > 1e-9*brute.Total || exact.Gap() != 0 {
			t.Errorf("instance %d: exact %v, brute force %v", i, exact, brute.Total)
		}
		if cerr == nil && cut.LowerBound > brute.Total*(1+1e-9) {
			t.Errorf("instance %d: time-limited bound %v above the optimum %v", i, cut.LowerBound, brute.Total)
		}
	}
	if feasible < 30 {
		t.Errorf("only %d feasible instances", feasible)
	}
}

// The 36-worker, 3-tier, 5-stage instances are proven optimal (gap 0); before count branching they ended
// at gaps of 6.3 % and 9.0 % after 10 s.
func TestThreeTierProvenOptimal(t *testing.T) {
	for _, tc := range []struct {
		threshold, want float64
	}{{56, 61.96637660524419}, {58, 100.2871}} {
		p := threeTier(t, 4, tc.threshold)
		h, err := p.Heuristic(optimizer.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		s, err := p.Exact(optimizer.ExactOptions{Incumbent: h}) // as Solve does
		if err != nil {
			t.Fatal(err)
		}
		checkPlan(t, p, s)
		t.Logf("threshold %v: %v, %d nodes", tc.threshold, s, s.SearchedNodes)
		if s.Gap() != 0 || math.Abs(s.Total-tc.want) > 1e-4*tc.want {
			t.Errorf("threshold %v: %v, want %v proven optimal", tc.threshold, s, tc.want)
		}
	}
}

func threeTier(t *testing.T, copies int, threshold float64) *optimizer.Problem {
	t.Helper()
	in := loadMedium(t, true)
	p, err := optimizer.Scale(in.Problem, optimizer.ScaleSpec{Copies: copies, Tiers: 3, LinkScale: in.Config.CommCostScalingFactor, FiveStages: true})
	if err != nil {
		t.Fatal(err)
	}
	p.Threshold = threshold
	return p
}
