package optimizer_test

import (
	"testing"
	"time"

	"jellybean/plan/optimizer"
)

func TestScaleTiming(t *testing.T) {
	in := loadMedium(t, true)
	for _, spec := range []optimizer.ScaleSpec{{Copies: 4}, {Copies: 4, Tiers: 3, LinkScale: 0.1, FiveStages: true}, {Copies: 33}, {Copies: 33, Tiers: 3, LinkScale: 0.1, FiveStages: true}} {
		p, err := optimizer.Scale(in.Problem, spec)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		h, err := p.Heuristic(in.Config)
		th := time.Since(t0)
		if err != nil {
			t.Fatal(err)
		}
		t0 = time.Now()
		s, err := p.Exact(optimizer.ExactOptions{Incumbent: h, TimeLimit: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v: heuristic %.4f (%v) exact %v in %v, nodes %d", spec, h.Total, th, s, time.Since(t0), s.SearchedNodes)
	}
}
