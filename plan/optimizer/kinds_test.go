package optimizer_test

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"jellybean/plan/optimizer"
)

// The copies of one machine type, a few percent apart in speed, form one kind, fastest first; types that
// share a price but not a profile (the example's cpu-3 and cpu-4) stay apart.
func TestKindsAreTheMachineTypes(t *testing.T) {
	in := loadMedium(t, true)
	for _, tiers := range []int{2, 3} {
		spec := optimizer.ScaleSpec{Copies: 5, Jitter: 0.05, Seed: 3}
		if tiers == 3 {
			spec.Tiers, spec.LinkScale, spec.FiveStages = 3, in.Config.CommCostScalingFactor, true
		}
		p, err := optimizer.Scale(in.Problem, spec)
		if err != nil {
			t.Fatal(err)
		}
		kinds := p.Kinds()
		if len(kinds) != len(in.Problem.Workers) {
			t.Fatalf("%d tiers: %d kinds, want one per machine type (%d)", tiers, len(kinds), len(in.Problem.Workers))
		}
		for _, kind := range kinds {
			typ := strings.Split(p.Workers[kind[0]].Name, "_")[0]
			if len(kind) != spec.Copies {
				t.Errorf("%d tiers: kind of %s has %d hosts, want %d", tiers, typ, len(kind), spec.Copies)
			}
			for i, w := range kind {
				if got := strings.Split(p.Workers[w].Name, "_")[0]; got != typ {
					t.Errorf("%d tiers: %s in the kind of %s", tiers, p.Workers[w].Name, typ)
				}
				if i > 0 && speedSum(p, w) > speedSum(p, kind[i-1]) {
					t.Errorf("%d tiers: kind of %s not fastest first", tiers, typ)
				}
			}
		}
	}
}

func speedSum(p *optimizer.Problem, w int) float64 {
	s := 0.0
	for v := range p.Nodes {
		for _, caps := range p.Cap[v] {
			s += caps[w]
		}
	}
	return s
}

// kindsProblem is a random instance whose hosts come in kinds: a few random machine types, each copied
// 2–4 times with its own speed, and on every other instance each capacity also moved by up to 2 % (a
// measured fleet, whose copies are not exact scalings of one profile).
func kindsProblem(t *testing.T, r *rand.Rand, i int) *optimizer.Problem {
	t.Helper()
	p, err := optimizer.Scale(randomProblem(r, 3+r.IntN(3)), optimizer.ScaleSpec{Copies: 2 + r.IntN(3), Jitter: 0.05, Seed: uint64(i)})
	if err != nil {
		t.Fatal(err)
	}
	if i%2 == 1 {
		for v := range p.Nodes {
			for _, r0 := range p.Variants[v] { // in order: the draws must not follow map order
				caps := p.Cap[v][r0]
				for w := range caps {
					caps[w] *= 1 + 0.02*(2*r.Float64()-1)
				}
			}
		}
	}
	return p
}

// randomPlan is a random valid plan of p (nil when the draw has none): a variant combination meeting the
// target, and for each stage random free hosts until its rate is carried; plans with backward traffic
// are drawn again.
func randomPlan(p *optimizer.Problem, r *rand.Rand) *optimizer.Assignment {
	combos := p.Combos(p.Threshold)
	order, err := p.TopoOrder()
	if err != nil || len(combos) == 0 {
		return nil
	}
	for range 20 {
		c := combos[r.IntN(len(combos))]
		a := &optimizer.Assignment{Models: c.Models, Workers: make([][]int, len(p.Nodes))}
		used := map[int]bool{}
		ok := true
		for _, v := range order {
			if p.IsSource[v] {
				continue
			}
			caps, got := p.Cap[v][c.Models[v]], 0.0
			for _, w := range r.Perm(len(p.Workers)) {
				if got >= p.Rate[v] {
					break
				}
				if !used[w] && caps[w] > 0 {
					used[w], got = true, got+caps[w]
					a.Workers[v] = append(a.Workers[v], w)
				}
			}
			ok = ok && got >= p.Rate[v]
		}
		if !ok {
			continue
		}
		if c1, c2 := p.Evaluate(a, order, optimizer.BackwardReject); !math.IsInf(c1+c2, 1) {
			return a
		}
	}
	return nil
}

// Every plan, random ones included, is a point of the model with hosts counted per kind, at an objective
// at most its cost: the kinds model is a relaxation, so CBC's bound on it is a bound on every plan. A row
// that cut off a real plan (a speed row counting a kind's hosts too slow, say) shows here.
func TestKindsModelHoldsEveryPlan(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	checked := 0
	for i := range 40 {
		p := kindsProblem(t, r, i)
		var plans []*optimizer.Assignment
		if h, err := optimizer.Solve(p, optimizer.DefaultConfig(), "heuristic", 0); err == nil {
			plans = append(plans, &h.Assignment, &p.ImproveLocal(h).Assignment)
		}
		for range 10 {
			if a := randomPlan(p, r); a != nil {
				plans = append(plans, a)
			}
		}
		order, _ := p.TopoOrder()
		for k, a := range plans {
			c1, c2 := p.Evaluate(a, order, optimizer.BackwardReject)
			obj, worst, ok := p.MILPPoint(a, optimizer.KindsMILP)
			if !ok {
				t.Errorf("instance %d plan %d: not a point of the kinds model", i, k)
				continue
			}
			if worst > 1e-6 {
				t.Errorf("instance %d plan %d: violates the kinds model by %g", i, k, worst)
			}
			if obj > (c1+c2)*(1+1e-9) {
				t.Errorf("instance %d plan %d: objective %v above the cost %v", i, k, obj, c1+c2)
			}
			checked++
		}
	}
	if checked < 200 {
		t.Errorf("only %d plans checked", checked)
	}
	t.Logf("%d plans checked", checked)
}

// CBC's bound on the kinds model is never above a proven optimum, and the plan it yields is valid.
func TestKindsBoundBelowOptimum(t *testing.T) {
	needCBC(t)
	r := rand.New(rand.NewPCG(23, 24))
	proven := 0
	for i := range 16 {
		p := kindsProblem(t, r, i)
		s, err := optimizer.Solve(p, optimizer.DefaultConfig(), "exact", 20*time.Second)
		if err != nil {
			continue // no plan meets this instance's target or rate
		}
		if s.Gap() > 0 {
			continue
		}
		proven++
		k, bound, err := optimizer.SolveKinds(context.Background(), p)
		if err != nil {
			t.Errorf("instance %d: kinds solve: %v", i, err)
			continue
		}
		if bound > s.Total*(1+1e-6) {
			t.Errorf("instance %d: kinds bound %v above the optimum %v", i, bound, s.Total)
		}
		checkPlan(t, p, k)
		if k.Total < s.Total*(1-1e-9) {
			t.Errorf("instance %d: kinds plan %v below the optimum %v", i, k.Total, s.Total)
		}
	}
	if proven < 8 {
		t.Errorf("only %d instances proven", proven)
	}
}
