package optimizer_test

import (
	"math"
	"testing"
	"time"

	"jellybean/plan/optimizer"
)

// The LP and memoised bounds only prune: with them off, the exact solver must find the same optimum.
func TestCrossCheckBounds(t *testing.T) {
	t.Cleanup(func() { optimizer.SetBoundSwitches(false, false) })
	base := loadMedium(t, true).Problem
	for _, spec := range []optimizer.ScaleSpec{{Copies: 2}, {Copies: 1, Tiers: 3, LinkScale: 0.1, FiveStages: false}} {
		p, err := optimizer.Scale(base, spec)
		if err != nil {
			t.Fatal(err)
		}
		var totals []float64
		for _, mode := range [][2]bool{{false, false}, {true, false}, {true, true}} {
			optimizer.SetBoundSwitches(mode[0], mode[1])
			s, err := p.Exact(optimizer.ExactOptions{TimeLimit: 30 * time.Second})
			if err != nil {
				t.Fatalf("%+v mode %v: %v", spec, mode, err)
			}
			t.Logf("%+v mode %v: %v nodes %d", spec, mode, s, s.SearchedNodes)
			if s.Gap() != 0 {
				t.Fatalf("%+v mode %v: not proven optimal", spec, mode)
			}
			totals = append(totals, s.Total)
		}
		for _, x := range totals[1:] {
			if math.Abs(x-totals[0]) > 1e-9*totals[0] {
				t.Errorf("%+v: totals differ %v", spec, totals)
			}
		}
	}
}
