package optimizer

import (
	"context"
	"fmt"
	"math"
)

// SetBoundSwitches lets the external tests cross-check the exact solver with bounds disabled.
func SetBoundSwitches(noLP, noMemo bool) { debugNoLP, debugNoMemo = noLP, noMemo }

// SetWindowBounds turns the tier-window strengthening of the LP bound on or off.
func SetWindowBounds(on bool) { debugNoWindows = !on }

// RootBounds returns, over the combinations meeting the target, the least root bound of each kind the
// exact solver uses: the plain LP, the tier-window LP, and the least box bound of phase 2.
func (p *Problem) RootBounds() (plain, windowed, box float64) {
	order, err := p.TopoOrder()
	if err != nil {
		panic(err)
	}
	s := &exactSearch{p: p, classes: p.Classes(), order: order}
	plain, windowed, box = math.Inf(1), math.Inf(1), math.Inf(1)
	for _, c := range p.Combos(p.Threshold) {
		s.setCombo(c)
		plain = math.Min(plain, math.Max(s.restLB(0), s.lpBound(0)))
		windowed = math.Min(windowed, math.Max(s.restLB(0), s.windowBound(0)))
		s.windows(0, func(lo, hi []int) {
			box = math.Min(box, math.Max(s.restLBIn(0, lo, hi), s.lpBoundIn(0, lo, hi)))
		})
	}
	return plain, windowed, box
}

// SetAlwaysBranch makes phase 2 branch on worker counts whatever the number of stages (tests run it on
// the three-stage random instances, which it otherwise settles with the depth-first search alone).
func SetAlwaysBranch(on bool) { debugAlwaysBranch = on }

// BoxBounds returns, over the combinations meeting the target and their tier windows, the least box
// bound without cover cuts (the windowed LP and integer covers) and with them.
func (p *Problem) BoxBounds() (plain, cut float64) {
	order, err := p.TopoOrder()
	if err != nil {
		panic(err)
	}
	s := &exactSearch{p: p, classes: p.Classes(), order: order}
	plain, cut = math.Inf(1), math.Inf(1)
	for _, c := range p.Combos(p.Threshold) {
		s.setCombo(c)
		s.windows(0, func(lo, hi []int) {
			base := math.Max(s.restLBIn(0, lo, hi), s.lpBoundIn(0, lo, hi))
			s.cuts = nil
			plain = math.Min(plain, base)
			cut = math.Min(cut, math.Max(base, s.strengthen(0, lo, hi, maxCutRounds)))
			s.cuts = nil
		})
	}
	return plain, cut
}

// MILPStrength is the formulation the exact solver hands to CBC.
var MILPStrength = milpStrength

// MILPPoint builds the MILP of p (strengthenings mask) and returns the plan a as a point of it — the
// start CBC is given — with its objective and the largest violation of a row or column bound there; ok
// is false when a is no point of the model.
func (p *Problem) MILPPoint(a *Assignment, mask int) (obj, worst float64, ok bool) {
	m := p.buildMILP(context.Background(), p.Combos(p.Threshold), mask)
	x := p.milpPoint(m, a)
	if x == nil {
		return 0, 0, false
	}
	for j, v := range x {
		obj += m.obj[j] * v
		worst = math.Max(worst, math.Max(m.colLB[j]-v, v-m.colUB[j]))
		if m.integer[j] {
			worst = math.Max(worst, math.Abs(v-math.Round(v)))
		}
	}
	for i, r := range m.rows {
		ax := 0.0
		for k, j := range r.idx {
			ax += r.val[k] * x[j]
		}
		worst = math.Max(worst, math.Max(m.rowLB[i]-ax, ax-m.rowUB[i]))
	}
	return obj, worst, true
}

// ImproveLocal runs the local search from s to its end and returns the plan as a solution.
func (p *Problem) ImproveLocal(s *Solution) *Solution {
	order := s.Order
	if order == nil {
		order, _ = p.TopoOrder()
	}
	a, compute, comm := p.improveLocal(context.Background(), s.Assignment, order)
	out := *s
	out.Assignment, out.Order, out.Compute, out.Comm, out.Total = a, order, compute, comm, compute+comm
	return &out
}

// SolveHiGHS solves the strengthened MILP of p (every variant combination) with HiGHS within secs (0: no
// limit of its own; ctx still bounds it) and returns the plan's total as the exact solver would take it
// (milpPlan, then polish; +Inf without a plan), HiGHS's bound and whether it finished.
func SolveHiGHS(ctx context.Context, p *Problem, secs float64) (total, bound float64, optimal bool, err error) {
	m := p.buildMILP(ctx, p.Combos(p.Threshold), milpStrength)
	x, lb, opt, err := runHiGHS(ctx, m, secs)
	if err != nil || x == nil {
		return math.Inf(1), lb, opt, err
	}
	_, a, err := p.milpPlan(m, x)
	if err != nil {
		return math.Inf(1), lb, opt, err
	}
	order, err := p.TopoOrder()
	if err != nil {
		return math.Inf(1), lb, opt, err
	}
	_, compute, comm := p.polish(a, order, func() bool { return false })
	return compute + comm, lb, opt, nil
}

// RoundKinds maps the plan a onto the model with hosts counted per kind (milpPoint) and rounds that
// point back to hosts as a kinds solve's plan is (milpPlan, kindHosts, then polish).
func (p *Problem) RoundKinds(a *Assignment) (*Solution, error) {
	m := p.buildMILP(context.Background(), p.Combos(p.Threshold), kindsOptions(milpStrength, false).Strength)
	x := p.milpPoint(m, a)
	if x == nil {
		return nil, fmt.Errorf("not a point of the kinds model")
	}
	return p.roundPoint(m, x)
}

// RoundKindCounts rounds a point of the kinds model given by hand — per (stage, a kind's first host):
// how many of the kind's hosts and what share of the stage's rate — back to hosts, as a kinds solve's
// plan is (milpPlan with kindHosts, then polish), in p's first variant combination.
func (p *Problem) RoundKindCounts(counts map[[2]int][2]float64) (*Solution, error) {
	m := p.buildMILP(context.Background(), p.Combos(p.Threshold), kindsOptions(milpStrength, false).Strength)
	x := make([]float64, len(m.obj))
	x[m.z[0]] = 1
	for key, ct := range counts {
		col := [3]int{key[0], key[1], 0}
		if _, ok := m.y[col]; !ok {
			return nil, fmt.Errorf("no column for stage %d, host %d", key[0], key[1])
		}
		x[m.y[col]], x[m.t[col]] = ct[0], ct[1]
	}
	return p.roundPoint(m, x)
}

// roundPoint is the plan of the point x of m as a solve would return it (milpPlan, then polish).
func (p *Problem) roundPoint(m *milpModel, x []float64) (*Solution, error) {
	c, b, err := p.milpPlan(m, x)
	if err != nil {
		return nil, err
	}
	order, err := p.TopoOrder()
	if err != nil {
		return nil, err
	}
	b, compute, comm := p.polish(b, order, func() bool { return false })
	return &Solution{Assignment: b, Order: order, Compute: compute, Comm: comm, Total: compute + comm, Accuracy: c.Accuracy}, nil
}
