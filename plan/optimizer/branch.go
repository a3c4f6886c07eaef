package optimizer

import (
	"container/heap"
	"math"
)

// Branching on worker counts.
//
// The depth-first search places one stage at a time, so a bound can only see what the stages placed so
// far took. When stages compete for the same workers (image features and object detection for the cheap
// tier-0 CPUs, the recogniser and the detector for the tier-1 GPUs), every placement of the first stage
// looks affordable to the LP of the rest and the search drowns in them. branch instead splits a box on the
// number n(v,c) of class-c workers stage v uses, as a MIP solver would: the LP sees all stages at once,
// and a fractional count (half a GPU, a fraction of the tier-0 CPUs) is ruled out on both sides of the
// split. The depth-first search, confined to a region's count bounds, settles a region once it is small
// or its LP counts are integral (the LP's flows may underestimate the proportional mixing there); a large
// region with integral counts is split around that count vector instead. Regions partition their box, so
// the least bound of the open ones is a valid bound.

// box is one (variant combination, tier window) pair of phase 2: the plans of that combination whose least
// tier per stage is lo (see windows). Boxes partition the plans.
type box struct {
	combo  int   // index into the combinations being searched
	lo, hi []int // per node: the tier window (nil: none)
	cuts   []coverCut
	rooted bool // its first region has been bounded (and its cover cuts found)
}

// region is one node of the count branching: a box, bounds per stage and class on its worker counts, and
// the bound it inherited.
type region struct {
	lb       float64
	box      *box
	nlo, nhi [][]int
}

type regionHeap []*region

func (h regionHeap) Len() int           { return len(h) }
func (h regionHeap) Less(i, j int) bool { return h[i].lb < h[j].lb }
func (h regionHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *regionHeap) Push(x any)        { *h = append(*h, x.(*region)) }
func (h *regionHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	*h = old[:len(old)-1]
	return r
}

const (
	// branchSmall is the region size (Σ over stages and classes of hi − lo) below which the depth-first
	// search takes over without more splitting.
	branchSmall = 8
	// pointSplitSize: a region with integral LP counts larger than this is split around that count
	// vector rather than settled whole by the depth-first search.
	pointSplitSize = 400
	// branchMinStages: boxes of combinations with fewer stages are settled whole by the depth-first
	// search. With three stages its per-stage integer covers and the LP of the two unplaced ones prove
	// the 297-worker 2-tier instances optimal in 4–9 s; branching on their 33-worker classes does not
	// within 10 s (gap 0.02–0.14 %). With five stages it is the other way round (see README).
	branchMinStages = 4
)

// boxRegion is the whole of box b for the current combination: counts bounded by what is available.
func (s *exactSearch) boxRegion(b *box, lb float64) *region {
	nn, nc := len(s.p.Nodes), len(s.classes)
	r := &region{lb: lb, box: b, nlo: make([][]int, nn), nhi: make([][]int, nn)}
	for v := range nn {
		r.nlo[v], r.nhi[v] = make([]int, nc), make([]int, nc)
		for c := range nc {
			r.nhi[v][c] = s.avail[c]
		}
	}
	return r
}

// branch is phase 2: best first over the regions of all boxes (by bound, so the proven bound rises
// evenly), plunging into the child nearer the LP's value to find incumbents early. Bounds left open by
// the time limit go to s.openLB.
func (s *exactSearch) branch(regions regionHeap, combos []Combo) {
	h := &regions
	heap.Init(h)
	current := -1
	memos := map[int]map[string]float64{} // cover-bound caches of the combinations not being searched
	defer func() { s.nlo, s.nhi, s.wlo, s.whi, s.cuts = nil, nil, nil, nil, nil }()
	// Until a first plan is found, regions are searched depth first (a stack), which reaches one quickly;
	// then best first, plunging into the child nearer the LP's value.
	var stack []*region
	var next *region
	for h.Len() > 0 || next != nil || len(stack) > 0 {
		if len(stack) > 0 && !math.IsInf(s.best, 1) {
			for _, q := range stack {
				heap.Push(h, q)
			}
			stack = nil
		}
		r := next
		next = nil
		switch {
		case r != nil:
		case len(stack) > 0:
			r, stack = stack[len(stack)-1], stack[:len(stack)-1]
		default:
			r = heap.Pop(h).(*region)
		}
		if r.lb >= s.best*(1-relTol) {
			continue
		}
		if s.timeout || s.expired() {
			s.timeout = true
			s.openLB = math.Min(s.openLB, r.lb)
			continue
		}
		if r.box.combo != current {
			if current >= 0 {
				memos[current] = s.memo
				total := 0
				for _, m := range memos {
					total += len(m)
				}
				if total > 2*maxMemo {
					memos = map[int]map[string]float64{} // bound memory: the caches are only caches
				}
			}
			s.setCombo(combos[r.box.combo])
			current = r.box.combo
			if m, ok := memos[current]; ok && len(m) < maxMemo {
				s.memo = m
			}
			delete(memos, current)
		}
		s.nodes++
		s.wlo, s.whi, s.cuts = r.box.lo, r.box.hi, r.box.cuts
		s.nlo, s.nhi = r.nlo, r.nhi
		lb := r.lb
		if !r.box.rooted && r.box.lo != nil && !debugNoCuts {
			// The box's first region: cover cuts, kept for all of the box.
			s.cuts = nil
			lb = math.Max(lb, s.strengthen(0, s.wlo, s.whi, maxCutRounds))
			r.box.cuts = s.cuts
		}
		r.box.rooted = true
		rel := s.relaxation(0, s.wlo, s.whi)
		lb = math.Max(lb, rel.bound)
		if lb >= s.best*(1-relTol) {
			continue
		}
		if len(rel.nodes) < branchMinStages && !debugAlwaysBranch {
			s.settle(lb)
			continue
		}
		v, c, val, ok := s.branchVar(r, rel)
		if !ok && r.size() > pointSplitSize && rel.integral() {
			// Integral counts, but the LP's flows may underestimate the proportional mixing: settle that
			// count vector exactly, then search the rest of the region without it.
			point := r.pin(rel)
			s.nlo, s.nhi = point.nlo, point.nhi
			s.settle(lb)
			for _, q := range r.without(point, lb) {
				if math.IsInf(s.best, 1) {
					stack = append(stack, q)
				} else {
					heap.Push(h, q)
				}
			}
			continue
		}
		if !ok || r.size() <= branchSmall {
			s.settle(lb)
			continue
		}
		down, up := r.split(v, c, val, lb)
		if val-math.Floor(val) >= 0.5 {
			down, up = up, down
		}
		if math.IsInf(s.best, 1) {
			stack = append(stack, up, down)
		} else {
			next = down
			heap.Push(h, up)
		}
	}
}

// settle searches the current region (s.nlo, s.nhi) exactly with the depth-first search; open bounds it
// leaves are at least lb, the region's bound.
func (s *exactSearch) settle(lb float64) {
	outer := s.openLB
	s.openLB = math.Inf(1)
	s.dfs(0, 0)
	s.openLB = math.Min(outer, math.Max(s.openLB, lb))
}

// branchVar picks the count to split on: the fractional n(v,c) whose rounding moves the most money
// (price × distance to the nearest integer). ok is false when the LP's counts are all integral.
func (s *exactSearch) branchVar(r *region, rel relaxed) (v, c int, val float64, ok bool) {
	best := 1e-6
	for _, u := range rel.nodes {
		for k, x := range rel.n[u] {
			f := math.Min(x-math.Floor(x), math.Ceil(x)-x)
			if f <= 1e-6 || r.nlo[u][k] >= r.nhi[u][k] {
				continue
			}
			if score := f * s.classes[k].Price; score > best {
				best, v, c, val, ok = score, u, k, x, true
			}
		}
	}
	return v, c, val, ok
}

// integral reports whether the LP's worker counts are all whole numbers.
func (rel relaxed) integral() bool {
	if rel.n == nil {
		return false
	}
	for _, ns := range rel.n {
		for _, x := range ns {
			if math.Abs(x-math.Round(x)) > 1e-6 {
				return false
			}
		}
	}
	return true
}

// split returns the regions n(v,c) ≤ ⌊val⌋ and n(v,c) ≥ ⌈val⌉, both inheriting the bound lb.
func (r *region) split(v, c int, val, lb float64) (down, up *region) {
	down, up = r.clone(lb), r.clone(lb)
	down.nhi[v][c] = int(math.Floor(val))
	up.nlo[v][c] = int(math.Ceil(val))
	return down, up
}

// pin is the region holding only the LP's (integral) counts for the unplaced stages.
func (r *region) pin(rel relaxed) *region {
	q := r.clone(r.lb)
	for _, v := range rel.nodes {
		for c, x := range rel.n[v] {
			k := int(math.Round(x))
			q.nlo[v][c], q.nhi[v][c] = k, k
		}
	}
	return q
}

// without splits r minus the single count vector of point into disjoint regions: for each free count
// in turn (the ones before it pinned to the point's values), the part below and the part above.
func (r *region) without(point *region, lb float64) []*region {
	var out []*region
	cur := r.clone(lb)
	for v := range r.nlo {
		for c := range r.nlo[v] {
			k := point.nlo[v][c]
			if cur.nlo[v][c] == cur.nhi[v][c] {
				continue
			}
			if k > cur.nlo[v][c] {
				below := cur.clone(lb)
				below.nhi[v][c] = k - 1
				out = append(out, below)
			}
			if k < cur.nhi[v][c] {
				above := cur.clone(lb)
				above.nlo[v][c] = k + 1
				out = append(out, above)
			}
			cur.nlo[v][c], cur.nhi[v][c] = k, k
		}
	}
	return out
}

// size is the region's remaining freedom: Σ over stages and classes of hi − lo.
func (r *region) size() int {
	n := 0
	for v := range r.nlo {
		for c := range r.nlo[v] {
			n += r.nhi[v][c] - r.nlo[v][c]
		}
	}
	return n
}

// clone copies r with bound lb.
func (r *region) clone(lb float64) *region {
	q := &region{lb: lb, box: r.box, nlo: make([][]int, len(r.nlo)), nhi: make([][]int, len(r.nhi))}
	for u := range r.nlo {
		q.nlo[u] = append([]int(nil), r.nlo[u]...)
		q.nhi[u] = append([]int(nil), r.nhi[u]...)
	}
	return q
}
