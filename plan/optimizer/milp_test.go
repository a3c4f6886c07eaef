package optimizer_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"jellybean/plan/optimizer"
)

// Every plan is a point of the MILP — plain and strengthened, whose cover and symmetry rows must hold for
// every integer solution — with an objective at most its evaluated cost (the MILP is a relaxation). This
// is the start CBC is given, and the test the formulation's validity rests on: a row that cut off a real
// plan would show here as a violation.
func TestMILPPointOfEveryPlan(t *testing.T) {
	in := loadMedium(t, true)
	r := rand.New(rand.NewPCG(5, 6))
	checked := 0
	solvers := []string{"heuristic", "exact"}
	if testing.Short() {
		solvers = solvers[:1] // the exact search on 18 distinct hosts takes seconds
	}
	for i := range 8 {
		spec := optimizer.ScaleSpec{Copies: 1 + r.IntN(2), Jitter: 0.05, Seed: uint64(i + 1)}
		if i%2 == 1 {
			spec.Copies, spec.Tiers, spec.LinkScale, spec.FiveStages = 2, 3, in.Config.CommCostScalingFactor, true
		}
		p, err := optimizer.Scale(in.Problem, spec)
		if err != nil {
			t.Fatal(err)
		}
		p.Threshold = float64(55 + r.IntN(4))
		plans := []*optimizer.Solution{}
		for _, solver := range solvers {
			s, err := optimizer.Solve(p, in.Config, solver, 5*time.Second)
			if err != nil {
				t.Fatalf("instance %d: %s: %v", i, solver, err)
			}
			plans = append(plans, s)
		}
		for k, s := range plans {
			for _, mask := range []int{0, optimizer.MILPStrength} {
				obj, worst, ok := p.MILPPoint(&s.Assignment, mask)
				if !ok {
					t.Errorf("instance %d plan %d mask %d: not a point of the MILP", i, k, mask)
					continue
				}
				if worst > 1e-6 {
					t.Errorf("instance %d plan %d mask %d: violates the MILP by %g", i, k, mask, worst)
				}
				if obj > s.Total*(1+1e-9) {
					t.Errorf("instance %d plan %d mask %d: MILP objective %v above the evaluated cost %v", i, k, mask, obj, s.Total)
				}
				checked++
			}
		}
	}
	if checked < 2*len(solvers)*8 {
		t.Errorf("only %d points checked", checked)
	}
}
