package optimizer_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"jellybean/plan/optimizer"
)

// randomProblem builds a small instance shaped like the reference workflow (two sources, two model
// stages with two variants each, a join stage), with random workers, tiers, prices, speeds and links.
func randomProblem(r *rand.Rand, workers int) *optimizer.Problem {
	p := &optimizer.Problem{
		Nodes:    []string{"S1", "A", "S2", "B", "C"},
		IsSource: []bool{true, false, true, false, false},
		Edges:    []optimizer.Edge{{From: 0, To: 1}, {From: 2, To: 3}, {From: 1, To: 4}, {From: 3, To: 4}},
		Sink:     "C", Threshold: 50,
	}
	p.Inputs = [][]int{nil, {0}, nil, {2}, {1, 3}}
	p.NumTiers = 1 + r.IntN(3)
	for w := range workers {
		p.Workers = append(p.Workers, optimizer.Worker{Name: fmt.Sprintf("w%d", w), Price: float64(1+r.IntN(20)) / 10, Tier: r.IntN(p.NumTiers)})
	}
	p.Variants = [][]string{{"default"}, {"a1", "a2"}, {"default"}, {"b1", "b2"}, {"default"}}
	p.Cap = make([]map[string][]float64, 5)
	for v := range 5 {
		p.Cap[v] = map[string][]float64{}
		if p.IsSource[v] {
			continue
		}
		for _, vr := range p.Variants[v] {
			caps := make([]float64, workers)
			for w := range caps {
				if r.IntN(5) > 0 {
					caps[w] = 1000. / float64(20+r.IntN(200))
				}
			}
			p.Cap[v][vr] = caps
		}
	}
	for _, e := range p.Edges {
		for _, uv := range p.Variants[e.From] {
			for _, vv := range p.Variants[e.To] {
				p.SetMessageSize(e.From, e.To, uv, vv, float64(1+r.IntN(500)))
			}
		}
	}
	p.Link = make([][]float64, workers)
	for a := range workers {
		p.Link[a] = make([]float64, workers)
		for b := range workers {
			if a != b && r.IntN(3) > 0 {
				p.Link[a][b] = float64(r.IntN(10)) / 10
			}
		}
	}
	p.SrcLink = make([][]float64, 5)
	for _, s := range []int{0, 2} {
		p.SrcLink[s] = make([]float64, workers)
		for w := range workers {
			p.SrcLink[s][w] = float64(r.IntN(10)) / 10
		}
	}
	p.Accuracy = optimizer.AccuracyProfile{Operators: []string{"A", "B"}}
	for _, a := range []string{"a1", "a2"} {
		for _, b := range []string{"b1", "b2"} {
			p.Accuracy.EndToEnd = append(p.Accuracy.EndToEnd, optimizer.EndToEndEntry{Variants: []string{a, b}, Accuracy: float64(40 + r.IntN(20))})
		}
	}
	rate := float64(5 + r.IntN(20))
	if err := p.Finish(map[string]float64{"S1": rate, "S2": rate}, nil); err != nil {
		panic(err)
	}
	return p
}

// checkPlan verifies what every emitted plan must satisfy: each stage's rate met within capacities, on
// disjoint workers, with no backward traffic, at the accuracy target.
func checkPlan(t *testing.T, p *optimizer.Problem, s *optimizer.Solution) {
	t.Helper()
	if s.Accuracy < p.Threshold {
		t.Errorf("accuracy %v below %v", s.Accuracy, p.Threshold)
	}
	shares := s.Shares(p)
	used := map[int]bool{}
	for v := range p.Nodes {
		if p.IsSource[v] {
			continue
		}
		sum := 0.0
		for i, w := range s.Workers[v] {
			if used[w] {
				t.Errorf("worker %d used twice", w)
			}
			used[w] = true
			c := p.Cap[v][s.Models[v]][w]
			if shares[v][i] > c*(1+1e-12) || c <= 0 {
				t.Errorf("stage %s worker %d share %v over capacity %v", p.Nodes[v], w, shares[v][i], c)
			}
			sum += shares[v][i]
		}
		if math.Abs(sum-p.Rate[v]) > 1e-9*p.Rate[v] {
			t.Errorf("stage %s serves %v, needs %v", p.Nodes[v], sum, p.Rate[v])
		}
	}
	if c := p.CommunicationCost(&s.Assignment, shares, optimizer.BackwardReject); math.IsInf(c, 1) {
		t.Error("plan has backward traffic")
	}
}

func TestPropertiesRandomSmall(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cfg := optimizer.DefaultConfig()
	feasible := 0
	for i := range 150 {
		p := randomProblem(r, 4+r.IntN(4))
		brute, berr := p.BruteForce(true)
		exact, eerr := p.Exact(optimizer.ExactOptions{})
		if (berr == nil) != (eerr == nil) {
			t.Fatalf("instance %d: brute force err %v, exact err %v", i, berr, eerr)
		}
		heur, herr := p.Heuristic(cfg)
		if berr != nil {
			if herr == nil {
				t.Fatalf("instance %d: heuristic found a plan brute force did not: %v", i, heur)
			}
			continue
		}
		feasible++
		checkPlan(t, p, exact)
		if math.Abs(exact.Total-brute.Total) > 1e-9*brute.Total || exact.Gap() != 0 {
			t.Errorf("instance %d: exact %v, brute force %v", i, exact, brute.Total)
		}
		if herr == nil {
			checkPlan(t, p, heur)
			if exact.Total > heur.Total*(1+1e-12) {
				t.Errorf("instance %d: exact %v worse than heuristic %v", i, exact.Total, heur.Total)
			}
			// Seeded and with a time limit (which turns on the LP-guided first phase).
			seeded, err := p.Exact(optimizer.ExactOptions{Incumbent: heur, TimeLimit: time.Minute})
			if err != nil || math.Abs(seeded.Total-exact.Total) > 1e-9*exact.Total {
				t.Errorf("instance %d: seeded exact %v (%v), unseeded %v", i, seeded, err, exact.Total)
			}
		}
	}
	if feasible < 50 {
		t.Errorf("only %d of 150 random instances feasible: the generator no longer exercises the solvers", feasible)
	}
}

// The same-tier strategy puts every stage on one tier, at or above its inputs' tiers.
func TestSameTierRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cfg := optimizer.DefaultConfig()
	cfg.Strategy = "same-tier"
	found := 0
	for range 80 {
		p := randomProblem(r, 5+r.IntN(4))
		s, err := p.Heuristic(cfg)
		if err != nil {
			continue
		}
		found++
		checkPlan(t, p, s)
		tier := map[int]int{}
		for _, v := range []int{1, 3, 4} {
			tier[v] = p.Workers[s.Workers[v][0]].Tier
			for _, w := range s.Workers[v] {
				if p.Workers[w].Tier != tier[v] {
					t.Fatalf("stage %s spans tiers", p.Nodes[v])
				}
			}
		}
		if tier[4] < tier[1] || tier[4] < tier[3] {
			t.Errorf("join stage below its inputs: %v", tier)
		}
	}
	if found < 10 {
		t.Errorf("same-tier found plans on only %d of 80 instances", found)
	}
}
