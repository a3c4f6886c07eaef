package optimizer

import (
	"context"
	"math"
)

// SolveCBCWith runs the CBC baseline with the MILP strengthenings of mask.
func SolveCBCWith(ctx context.Context, p *Problem, mask int) (*Solution, float64, error) {
	return solveCBC(ctx, p, milpOptions{Strength: mask})
}

// StrongMILP is the formulation the exact solver hands to CBC.
var StrongMILP = milpStrength

// SolveCBCUnlimited runs CBC on the strengthened MILP of p with no limit of its own (as if it overran
// every one) and the heuristic's plan h as its start, stopped only by ctx: its process must then be
// interrupted or killed. It returns whether CBC answered with a plan, and the bound.
func SolveCBCUnlimited(ctx context.Context, p *Problem, h *Solution) (plan bool, bound float64, err error) {
	m := p.buildMILP(ctx, p.Combos(p.Threshold), milpStrength)
	x, lb, _, err := runCBCBounded(ctx, m, 0, math.Inf(1), p.milpPoint(m, &h.Assignment))
	return x != nil, lb, err
}

// SolveCBCPruned runs CBC on the strengthened MILP of the variant combinations whose LP is below
// pruneAbove, starting from h (nil: no start).
func SolveCBCPruned(ctx context.Context, p *Problem, h *Solution, pruneAbove float64) (*Solution, float64, error) {
	return solveCBC(ctx, p, milpOptions{Strength: milpStrength, Start: h, PruneAbove: pruneAbove})
}

// ComboLPs solves, in this process, the strengthened MILP's LP once per variant combination of p (that
// combination fixed), in the order of combinations starting at first and wrapping around (the first
// solved from scratch, the others from the previous basis), and returns them in p's order of
// combinations; secs > 0 is runLPs' time budget.
func ComboLPs(p *Problem, first int, secs float64) []float64 {
	m := p.buildMILP(context.Background(), p.Combos(p.Threshold), milpStrength)
	n := len(m.z)
	job := cbcJob{Obj: m.obj, ColLB: m.colLB, ColUB: m.colUB, RowLB: m.rowLB, RowUB: m.rowUB, Secs: secs}
	job.ColStart, job.Index, job.Value = m.CSC()
	for k := range n {
		job.RelaxZ = append(job.RelaxZ, m.z[(first+k)%n])
	}
	lps := runLPs(job)
	out := make([]float64, n)
	for k, lp := range lps {
		out[(first+k)%n] = lp
	}
	return out
}

// ComboLPsHiGHS is ComboLPs solved by HiGHS (runHiGHSLPs), each LP from scratch, in p's order.
func ComboLPsHiGHS(p *Problem, secs float64) []float64 {
	m := p.buildMILP(context.Background(), p.Combos(p.Threshold), milpStrength)
	return runHiGHSLPs(context.Background(), m, secs)
}

// KindsMILP is the formulation of the kinds solve (hosts counted per kind).
var KindsMILP = kindsOptions(milpStrength, false).Strength

// SolveKinds solves the MILP with hosts counted per kind in CBC, with no start, and returns its plan (nil
// if none) and bound.
func SolveKinds(ctx context.Context, p *Problem) (*Solution, float64, error) {
	return solveCBC(ctx, p, milpOptions{Strength: KindsMILP})
}

// Kinds is p's hosts grouped into kinds (kinds.go), each fastest first.
func (p *Problem) Kinds() [][]int { return p.kinds() }
