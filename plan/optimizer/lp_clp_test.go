//go:build cgo

package optimizer_test

import (
	"math"
	"testing"
	"time"

	"jellybean/plan/optimizer"
)

// searchLPs are LPs our exact search solves on replicated fleets (the only fleets where it runs its own
// LPs: on distinct ones the MILP solvers take over): 36 hosts in 3 tiers (five stages) and 72 in 2.
func searchLPs(tb testing.TB) []optimizer.RecordedLP {
	tb.Helper()
	in := loadMedium(tb, true)
	var lps []optimizer.RecordedLP
	for _, spec := range []optimizer.ScaleSpec{
		{Copies: 4, Tiers: 3, LinkScale: in.Config.CommCostScalingFactor, FiveStages: true},
		{Copies: 8},
	} {
		p, err := optimizer.Scale(in.Problem, spec)
		if err != nil {
			tb.Fatal(err)
		}
		p.Threshold = 56
		lps = append(lps, optimizer.RecordLPs(p, 3*time.Second, 150)...)
	}
	if len(lps) < 50 {
		tb.Fatalf("recorded %d LPs; the comparison needs more", len(lps))
	}
	return lps
}

// CLP and our simplex agree on every LP the search solves: the same optimum, or both infeasible; CLP
// reaches a conclusion on every one.
func TestCLPMatchesOurLP(t *testing.T) {
	needCBC(t)
	lps := searchLPs(t)
	minC, maxC, minR, maxR, compared, worst := math.MaxInt, 0, math.MaxInt, 0, 0, 0.0
	defer func() {
		t.Logf("%d LPs (%d compared, largest relative difference %.2g), %d–%d columns, %d–%d rows", len(lps), compared, worst, minC, maxC, minR, maxR)
	}()
	for i, lp := range lps {
		cols, rows := lp.Size()
		minC, maxC, minR, maxR = min(minC, cols), max(maxC, cols), min(minR, rows), max(maxR, rows)
		ours, clp := lp.SolveOurs(), lp.SolveCLP()
		if math.IsNaN(clp) {
			t.Errorf("LP %d (%d columns, %d rows): CLP reached no conclusion (ours %v)", i, cols, rows, ours)
			continue
		}
		if math.IsNaN(ours) {
			continue // our simplex gave no conclusion (numerical trouble): nothing to compare
		}
		compared++
		if !math.IsInf(ours, 1) {
			worst = math.Max(worst, math.Abs(ours-clp)/math.Max(1, math.Abs(clp)))
		}
		// Within 1e-9: the margin the search takes off an LP's value for its bound (relaxation).
		if math.IsInf(ours, 1) != math.IsInf(clp, 1) || (!math.IsInf(ours, 1) && math.Abs(ours-clp) > 1e-9*math.Max(1, math.Abs(clp))) {
			t.Errorf("LP %d (%d columns, %d rows): ours %v, CLP %v", i, cols, rows, ours, clp)
		}
	}
}

// BenchmarkSearchLPs solves the recorded LPs with our dense simplex and with CLP (in this process, a
// model built per LP, as the search would): one op is the whole set. BENCHMARKS.md has the ratio.
func BenchmarkSearchLPs(b *testing.B) {
	lps := searchLPs(b)
	b.Run("ours", func(b *testing.B) {
		for b.Loop() {
			for _, lp := range lps {
				lp.SolveOurs()
			}
		}
	})
	b.Run("clp", func(b *testing.B) {
		if err := optimizer.CBCAvailable(); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			for _, lp := range lps {
				lp.SolveCLP()
			}
		}
	})
}
