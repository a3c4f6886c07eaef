package optimizer_test

import (
	"context"
	"fmt"
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

// A kinds solution rounded back to hosts (kindHosts: blocks of the counted sizes, trades, the cheapest
// free host where a stage is short) is a valid plan: every host on one stage, every stage's rate carried.
// The points rounded here are real plans' (random ones included), seen as the kinds model sees them.
func TestKindsRoundEveryPlan(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	rounded, cheaper := 0, 0
	for i := range 50 {
		p := kindsProblem(t, r, i)
		for range 6 {
			a := randomPlan(p, r)
			if a == nil {
				continue
			}
			s, err := p.RoundKinds(a)
			if err != nil {
				t.Errorf("instance %d: %v", i, err)
				continue
			}
			checkPlan(t, p, s)
			rounded++
			if c1, c2 := p.Evaluate(a, s.Order, optimizer.BackwardReject); s.Total <= (c1+c2)*(1+1e-9) {
				cheaper++
			}
		}
	}
	if rounded < 100 {
		t.Errorf("only %d plans rounded", rounded)
	}
	t.Logf("%d plans rounded, %d of them no dearer than the plan they came from", rounded, cheaper)
}

// CBC's bound on the kinds model is never above a proven optimum, and the plan it yields is valid. The
// optimum is our own search's on at most 16 hosts (16 classes at most: no kinds model takes part in it).
func TestKindsBoundBelowOptimum(t *testing.T) {
	needCBC(t)
	r := rand.New(rand.NewPCG(23, 24))
	proven := 0
	for i := range 40 {
		p := kindsProblem(t, r, i)
		if len(p.Workers) > 16 {
			continue
		}
		s, err := optimizer.Solve(p, optimizer.DefaultConfig(), "exact", 20*time.Second)
		if err != nil {
			continue // no plan meets this instance's target or rate
		}
		if s.Gap() > 0 {
			continue
		}
		proven++
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		k, bound, err := optimizer.SolveKinds(ctx, p)
		cancel()
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
	t.Logf("%d instances proven", proven)
}

// twoStagesOneKind: a source feeding stage A feeding stage B; hosts k0–k2 are one kind (price 1, speeds
// 1, 0.9, 0.8: A 10/9/8 req/s, B 20/18/16), x another (price 5, A 10, B 20); both stages run at rate.
func twoStagesOneKind(t *testing.T, rate float64) *optimizer.Problem {
	t.Helper()
	p := &optimizer.Problem{
		Nodes: []string{"S", "A", "B"}, IsSource: []bool{true, false, false},
		Edges: []optimizer.Edge{{From: 0, To: 1}, {From: 1, To: 2}}, Sink: "B", Threshold: 50, NumTiers: 1,
		Variants: [][]string{{"default"}, {"default"}, {"default"}},
	}
	p.Inputs = [][]int{nil, {0}, {1}}
	for i, price := range []float64{1, 1, 1, 5} {
		p.Workers = append(p.Workers, optimizer.Worker{Name: fmt.Sprintf("h%d", i), Price: price})
	}
	p.Cap = []map[string][]float64{{}, {"default": {10, 9, 8, 10}}, {"default": {20, 18, 16, 20}}}
	p.SetMessageSize(0, 1, "default", "default", 1)
	p.SetMessageSize(1, 2, "default", "default", 1)
	p.Link = make([][]float64, 4)
	for a := range p.Link {
		p.Link[a] = make([]float64, 4)
	}
	p.SrcLink = [][]float64{make([]float64, 4), nil, nil}
	p.Accuracy = optimizer.AccuracyProfile{Operators: []string{"A", "B"},
		EndToEnd: []optimizer.EndToEndEntry{{Variants: []string{"default", "default"}, Accuracy: 60}}}
	if err := p.Finish(map[string]float64{"S": rate}, nil); err != nil {
		t.Fatal(err)
	}
	return p
}

// The rounding's later steps: hosts trade places between stages when the first blocks leave one short,
// and where no partition carries the counted shares, the stage short takes the cheapest free host that
// covers what it misses.
func TestKindHostsTradeAndFill(t *testing.T) {
	// 17.5 req/s: A counts 2 of the kind, B 1. In blocks, fastest first, either A is short (h1+h2: 17)
	// or B (h2: 16); trading gives A h0+h2 (18) and B h1 (18).
	p := twoStagesOneKind(t, 17.5)
	if ks := p.Kinds(); len(ks) != 2 || len(ks[0]) != 3 {
		t.Fatalf("kinds %v, want h0–h2 and h3", ks)
	}
	s, err := p.RoundKindCounts(map[[2]int][2]float64{{1, 0}: {2, 17.5}, {2, 0}: {1, 17.5}})
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, p, s)
	if len(s.Workers[1]) != 2 || len(s.Workers[2]) != 1 || s.Workers[2][0] != 1 {
		t.Errorf("A on %v, B on %v: want two hosts for A and h1 for B", s.Workers[1], s.Workers[2])
	}
	// 18.5 req/s: B needs h0 (20), and then A's h1+h2 carry 17 — short; no trade leaves fewer stages
	// short, so A takes h3 (price 5, 10 req/s), and then does without h2 (h1+h3: 19).
	p = twoStagesOneKind(t, 18.5)
	s, err = p.RoundKindCounts(map[[2]int][2]float64{{1, 0}: {2, 18.5}, {2, 0}: {1, 18.5}})
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, p, s)
	if a := append([]int(nil), s.Workers[1]...); len(a) != 2 || len(s.Workers[2]) != 1 || s.Workers[2][0] != 0 ||
		!(a[0] == 1 && a[1] == 3 || a[0] == 3 && a[1] == 1) {
		t.Errorf("A on %v, B on %v: want A on h1 and h3, B on h0", s.Workers[1], s.Workers[2])
	}
}
