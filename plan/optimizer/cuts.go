package optimizer

import "math"

// Cover cuts make the LP see that stages compete for whole workers.
//
// The LP relaxation shares each class's workers fractionally between stages, and bounds each stage's cost
// by its own integer cover computed as if every free worker were its alone. On the 3-tier instances that is
// what leaves the gap: the stages that want the cheap tier-0 workers (image features, object detection)
// and the one that would like a few of them to round up its GPUs (the recogniser) each get their
// integer cover from the same workers.
//
// A cover cut prices the workers instead. For any prices lam ≥ 0 (per worker of each class), every
// placement of stage v in the box satisfies
//
//	cost(v) + Σ_c lam[c]·n(v,c) ≥ rhs(lam) = the least value of that left side over v's placements,
//
// where n(v,c) is its number of class-c workers; rhs is computed exactly by the cover search with the
// prices raised by lam. The cut holds in every subtree of the box too: placing stages only removes
// workers, narrows tiers and adds communication cost (≥ 0) from placed inputs. Choosing lam as the LP's
// dual prices of the class capacities and repeating (Kelley's cutting planes) drives the LP towards the
// Lagrangian (Dantzig–Wolfe) bound in which each stage's placement is integral and only the sharing of
// the classes between stages is relaxed.
type coverCut struct {
	v   int
	lam []float64
	rhs float64
}

// maxCutRounds bounds the cutting-plane rounds at one box root; each round solves one LP and one
// Lagrangian cover per stage.
const maxCutRounds = 2

// strengthen adds cover cuts for the unplaced stages order[d:] in the box lo..hi (nil: unconfined) to
// s.cuts for up to rounds rounds, or until no cut is violated, and returns the best bound seen (every
// round's LP is a valid bound).
func (s *exactSearch) strengthen(d int, lo, hi []int, rounds int) float64 {
	best := math.Inf(-1)
	for r := 0; ; r++ {
		rel := s.relaxation(d, lo, hi)
		best = math.Max(best, rel.bound)
		if math.IsInf(rel.bound, 0) || r == rounds || s.timeUp() || debugNoCuts {
			return best
		}
		added := false
		for _, v := range rel.nodes {
			rhs := s.lagrangeCover(v, lo, hi, rel.lam)
			lhs := rel.z[v]
			for c, n := range rel.n[v] {
				lhs += rel.lam[c] * n
			}
			if rhs > lhs+1e-7*(1+math.Abs(lhs)) {
				s.cuts = append(s.cuts, coverCut{v: v, lam: rel.lam, rhs: rhs})
				added = true
			}
		}
		if !added {
			return best
		}
	}
}

// lagrangeCover is the least cost(v) + Σ_c lam[c]·n(v,c) over v's placements on the available workers,
// confined to tiers lo[v]..hi[v] (nil: unconfined), communication from unplaced inputs bounded by 0.
// When the time limit cuts the search short it returns the least bound left open, still a lower bound.
func (s *exactSearch) lagrangeCover(v int, lo, hi []int, lam []float64) float64 {
	floor, ceil := s.tierFloor(v), math.MaxInt
	if lo != nil {
		floor, ceil = max(floor, lo[v]), hi[v]
	}
	unit := make([]float64, len(s.classes))
	for c := range s.classes {
		if s.classes[c].Tier < floor || s.classes[c].Tier > ceil {
			unit[c] = math.Inf(1)
		} else {
			unit[c] = s.unitComm(v, c)
		}
	}
	// Cuts must hold in the whole box, so the region's count bounds are ignored here.
	nlo, nhi := s.nlo, s.nhi
	s.priceAdj, s.nlo, s.nhi, s.bounding = lam, nil, nil, true
	defer func() { s.priceAdj, s.nlo, s.nhi, s.bounding = nil, nlo, nhi, false }()
	best := math.Inf(1)
	open := s.cover(v, unit, func(_ []int, _ int, _ []float64, cost float64) { best = math.Min(best, cost) },
		func() float64 { return best })
	return math.Min(best, open)
}
