package optimizer

import (
	"math"
	"sort"
)

// BruteForce is the reference for tests: every variant combination meeting the target, every disjoint
// worker subset per stage (in topological order) and — with anyPartial — every choice of the one worker
// below capacity; without it the split is the original brute force's worker-index order. Exponential:
// use on ≤ ~9 workers. Selection: strictly cheaper, or allclose and more accurate (like the original).
func (p *Problem) BruteForce(anyPartial bool) (*Solution, error) {
	order, err := p.TopoOrder()
	if err != nil {
		return nil, err
	}
	var best *Solution
	combos := p.Combos(p.Threshold)
	for _, c := range combos {
		a := Assignment{Models: c.Models, Workers: make([][]int, len(p.Nodes))}
		used := make([]bool, len(p.Workers))
		var rec func(d int)
		rec = func(d int) {
			if d == len(order) {
				compute, comm := p.Evaluate(&a, order, BackwardReject)
				total := compute + comm
				if math.IsInf(total, 1) {
					return
				}
				if best == nil || total < best.Total || (allclose(total, best.Total) && c.Accuracy > best.Accuracy) {
					w := make([][]int, len(a.Workers))
					for i := range w {
						w[i] = append([]int(nil), a.Workers[i]...)
					}
					best = &Solution{Assignment: Assignment{Models: c.Models, Workers: w}, Order: order,
						Compute: compute, Comm: comm, Total: total, Accuracy: c.Accuracy, Solver: "brute-force"}
				}
				return
			}
			v := order[d]
			if p.IsSource[v] {
				rec(d + 1)
				return
			}
			var free []int
			for w := range p.Workers {
				if !used[w] && p.CanRun(v, c.Models[v], w) {
					free = append(free, w)
				}
			}
			caps := p.Cap[v][c.Models[v]]
			T := p.Rate[v]
			for mask := 1; mask < 1<<len(free); mask++ {
				var set []int
				total := 0.0
				for i, w := range free {
					if mask&(1<<i) != 0 {
						set = append(set, w)
						total += caps[w]
					}
				}
				if total < T {
					continue
				}
				for k, q := range set {
					if !anyPartial && k != len(set)-1 {
						continue
					}
					if total-caps[q] >= T {
						continue // q would get nothing: a dominated placement
					}
					list := make([]int, 0, len(set))
					for _, w := range set {
						if w != q {
							list = append(list, w)
						}
					}
					sort.Ints(list)
					a.Workers[v] = append(list, q)
					for _, w := range set {
						used[w] = true
					}
					rec(d + 1)
					for _, w := range set {
						used[w] = false
					}
				}
			}
			a.Workers[v] = nil
		}
		rec(0)
	}
	if best == nil {
		return nil, p.explainInfeasible(combos)
	}
	return best, nil
}
