//go:build cbc

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
