package optimizer

import (
	"context"
	"math"
)

// improveLocal is a first-improvement local search from plan a, each candidate priced by the evaluator
// (so every accepted step is a real saving under §5.4): for every stage in turn it tries dropping a
// worker the stage can do without, replacing each of its workers by a free one (a worker no stage uses),
// and exchanging one with a worker of another stage, each only where every stage's rate stays covered
// by its workers' capacities. It repeats until a whole pass finds nothing or ctx ends,
// then lets polish choose each stage's partial worker. It returns the plan and its compute and
// communication cost; a itself is not changed.
//
// Why: on fleets of hundreds of distinct hosts one CBC solve runs and the second core idles, and in
// 10 s CBC's own search sometimes ends where it started, at the heuristic's plan (297 hosts / 3 tiers /
// 57: 745.81 in one run of four, 741.5–744.0 in the others, 741.85 by the plain MILP). Run beside CBC,
// this search looks for cheaper plans near the start; the better of the two plans is kept.
func (p *Problem) improveLocal(ctx context.Context, a Assignment, order []int) (Assignment, float64, float64) {
	cur := Assignment{Models: a.Models, Workers: make([][]int, len(a.Workers))}
	stageOf := make([]int, len(p.Workers))
	for w := range stageOf {
		stageOf[w] = -1
	}
	for v, ws := range a.Workers {
		cur.Workers[v] = append([]int(nil), ws...)
		for _, w := range ws {
			stageOf[w] = v
		}
	}
	eval := func() float64 {
		c1, c2 := p.Evaluate(&cur, order, BackwardReject)
		return c1 + c2
	}
	best := eval()
	done := func() bool { return ctx.Err() != nil }
	for improved := true; improved && !done(); {
		improved = false
		for _, v := range order {
			if p.IsSource[v] || done() {
				continue
			}
			caps := p.Cap[v][cur.Models[v]]
			covered := func(ws []int) float64 { return capacityOf(caps, ws) }
			// Drop a worker the others can do without.
			for i := 0; i < len(cur.Workers[v]) && !done(); i++ {
				ws := cur.Workers[v]
				w := ws[i]
				if covered(ws)-caps[w] < p.Rate[v]*(1+1e-12) {
					continue
				}
				cur.Workers[v] = append(append([]int(nil), ws[:i]...), ws[i+1:]...)
				if c := eval(); c < best*(1-1e-12) {
					best, stageOf[w], improved = c, -1, true
					i--
					continue
				}
				cur.Workers[v] = ws
			}
			// Replace a worker by a free one.
			for i := 0; i < len(cur.Workers[v]) && !done(); i++ {
				ws := cur.Workers[v]
				w := ws[i]
				rest := covered(ws) - caps[w]
				for u := range p.Workers {
					if stageOf[u] >= 0 || caps[u] <= 0 || rest+caps[u] < p.Rate[v]*(1+1e-12) {
						continue
					}
					ws[i] = u
					if c := eval(); c < best*(1-1e-12) {
						best, stageOf[w], stageOf[u], improved = c, -1, v, true
						w = u
						rest = covered(ws) - caps[w]
						continue
					}
					ws[i] = w
				}
			}
			// Exchange a worker with one of another stage.
			for i := 0; i < len(cur.Workers[v]) && !done(); i++ {
				w := cur.Workers[v][i]
				for _, v2 := range order {
					if v2 == v || p.IsSource[v2] {
						continue
					}
					caps2 := p.Cap[v2][cur.Models[v2]]
					if caps2[w] <= 0 {
						continue
					}
					for j := 0; j < len(cur.Workers[v2]); j++ {
						u := cur.Workers[v2][j]
						if caps[u] <= 0 || covered(cur.Workers[v])-caps[w]+caps[u] < p.Rate[v]*(1+1e-12) {
							continue
						}
						if capacityOf(caps2, cur.Workers[v2])-caps2[u]+caps2[w] < p.Rate[v2]*(1+1e-12) {
							continue
						}
						cur.Workers[v][i], cur.Workers[v2][j] = u, w
						if c := eval(); c < best*(1-1e-12) {
							best, stageOf[w], stageOf[u], improved = c, v2, v, true
							w = u
							continue
						}
						cur.Workers[v][i], cur.Workers[v2][j] = w, u
					}
				}
			}
		}
	}
	if math.IsInf(best, 1) {
		c1, c2 := p.Evaluate(&cur, order, BackwardReject)
		return cur, c1, c2
	}
	return p.polish(cur, order, done)
}

// capacityOf is the summed capacity of the workers ws (caps: one stage variant's, per worker).
func capacityOf(caps []float64, ws []int) float64 {
	s := 0.0
	for _, w := range ws {
		s += caps[w]
	}
	return s
}
