//go:build cbc

package optimizer

import "context"

// SolveCBCWith runs the CBC baseline with the MILP strengthenings of mask.
func SolveCBCWith(ctx context.Context, p *Problem, mask int) (*Solution, float64, error) {
	return solveCBC(ctx, p, milpOptions{Strength: mask})
}

// StrongMILP is the formulation the exact solver hands to CBC.
var StrongMILP = milpStrength
