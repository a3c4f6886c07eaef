package optimizer

import "math"

// lpBound is a lower bound on the cost of placing the unplaced stages order[d:] given the placed ones:
// the LP relaxation in which stage v takes a fractional share x(v,c) of each worker class c on n(v,c)
// fractional workers (n ≥ x/cap, paying the price per worker and the known linear communication cost
// from placed inputs per req/s), classes' worker counts are shared by all stages (Σ_v n(v,c) ≤ avail),
// and the traffic between two unplaced stages is any flow f(ca,cb) with the right marginals (the
// proportional mixing of §5.4 is one such flow) on non-backward class pairs. Each stage's cost z(v) is
// also at least its integer cover and satisfies the cover cuts of s.cuts (see coverCut).
func (s *exactSearch) lpBound(d int) float64 { return s.lpBoundIn(d, nil, nil) }

// lpBoundIn is lpBound with stage v confined to tiers lo[v]..hi[v] (nil: unconfined).
func (s *exactSearch) lpBoundIn(d int, lo, hi []int) float64 {
	return s.relaxation(d, lo, hi).bound
}

// maxPairClasses is the most classes for which the relaxation's flows run between class pairs; with more
// they run from a class to a tier (see relaxation).
const maxPairClasses = 12

// relaxed is one solved relaxation: its bound and what the cover cuts need to strengthen it.
type relaxed struct {
	bound float64
	nodes []int             // the unplaced stages
	z     map[int]float64   // stage cost z(v) at the optimum
	n     map[int][]float64 // n(v,c) at the optimum (per class)
	lam   []float64         // per class: the dual price of one worker (≥ 0)
}

// relaxation builds and solves the LP of lpBoundIn. bound is +Inf when the box holds no plan and −Inf
// when the LP gives no conclusion (never a false proof).
func (s *exactSearch) relaxation(d int, lo, hi []int) relaxed {
	p := s.p
	out := relaxed{}
	for _, v := range s.order[d:] {
		if !p.IsSource[v] {
			out.nodes = append(out.nodes, v)
		}
	}
	nodes := out.nodes
	if len(nodes) == 0 {
		return out
	}
	nc := len(s.classes)
	xIdx := make(map[[2]int]int)
	var cost []float64
	unit := map[[2]int]float64{}
	for _, v := range nodes {
		floor := s.tierFloorPlaced(v)
		for c := range nc {
			if s.cap[v][c] <= 0 || s.avail[c] == 0 || s.classes[c].Tier < floor {
				continue
			}
			if lo != nil && (s.classes[c].Tier < lo[v] || s.classes[c].Tier > hi[v]) {
				continue
			}
			u := s.unitComm(v, c)
			if math.IsInf(u, 1) {
				continue
			}
			xIdx[[2]int{v, c}] = len(cost)
			unit[[2]int{v, c}] = u
			cost = append(cost, 0)
		}
	}
	// n(v,c): fractional worker counts, one per x variable. Without cuts, count bounds or a box they would
	// equal x/cap at the optimum, so the smaller LP uses x/cap in their place (the depth-first search's
	// nodes outside boxes solve many of these).
	withCounts := lo != nil || s.nlo != nil || len(s.cuts) > 0
	nIdx := make(map[[2]int]int, len(xIdx))
	for _, v := range nodes {
		for c := range nc {
			if _, ok := xIdx[[2]int{v, c}]; ok && withCounts {
				nIdx[[2]int{v, c}] = len(cost)
				cost = append(cost, 0)
			}
		}
	}
	// addCount adds coef·n(v,c) to a row.
	addCount := func(r *lpRow, k [2]int, coef float64) {
		if withCounts {
			r.coef[nIdx[k]] += coef
		} else {
			r.coef[xIdx[k]] += coef / s.cap[k[0]][k[1]]
		}
	}
	// Flows between two unplaced stages go from a sender class to a receiver class. With many classes
	// (a fleet of distinct hosts: one class per host) the class pairs would be far too many, so the flow
	// goes to a receiver tier instead, at the cheapest link from the sender class into that tier: still a
	// relaxation (every class-pair flow maps onto one at no greater cost), exact when links depend only on
	// the tiers, and its size grows with classes × tiers.
	byTier := nc > maxPairClasses
	type fvar struct{ e, ca, cb, idx int } // cb: a receiver class, or with byTier the receiver tier
	var fs []fvar
	unplaced := map[int]bool{}
	for _, v := range nodes {
		unplaced[v] = true
	}
	for ei, e := range p.Edges {
		if !unplaced[e.From] || !unplaced[e.To] {
			continue
		}
		msg, _ := p.MessageSize(e.From, e.To, s.combo.Models[e.From], s.combo.Models[e.To])
		for ca := range nc {
			if _, ok := xIdx[[2]int{e.From, ca}]; !ok {
				continue
			}
			ta := s.classes[ca].Tier
			if byTier {
				cheapest := make(map[int]float64)
				for cb := range nc {
					if _, ok := xIdx[[2]int{e.To, cb}]; !ok {
						continue
					}
					tb := s.classes[cb].Tier
					if tb < ta {
						continue
					}
					l := 0.0
					if tb > ta {
						l = p.Link[s.classes[ca].Members[0]][s.classes[cb].Members[0]] * msg * gb
					}
					if old, ok := cheapest[tb]; !ok || l < old {
						cheapest[tb] = l
					}
				}
				for tb := range p.NumTiers {
					if l, ok := cheapest[tb]; ok {
						fs = append(fs, fvar{ei, ca, tb, len(cost)})
						cost = append(cost, l)
					}
				}
				continue
			}
			for cb := range nc {
				if _, ok := xIdx[[2]int{e.To, cb}]; !ok {
					continue
				}
				tb := s.classes[cb].Tier
				if tb < ta {
					continue
				}
				l := 0.0
				if tb > ta {
					l = p.Link[s.classes[ca].Members[0]][s.classes[cb].Members[0]] * msg * gb
				}
				fs = append(fs, fvar{ei, ca, cb, len(cost)})
				cost = append(cost, l)
			}
		}
	}
	// Count the rows before building any (each is as wide as the LP): rate, two cost rows and a box row
	// per stage, a count row and two count bounds per x, the cover cuts, one per class, the flow marginals.
	// Refuse an LP the dense simplex would not manage (the other bounds still hold).
	perStage := map[int]int{}
	for k := range xIdx {
		perStage[k[0]]++
	}
	estRows := 4*len(nodes) + 3*len(xIdx) + len(s.cuts) + nc
	for _, e := range p.Edges {
		if unplaced[e.From] && unplaced[e.To] {
			estRows += perStage[e.From] + perStage[e.To]
		}
	}
	if lpTooLarge(len(cost)+len(nodes), estRows) {
		out.bound = math.Inf(-1)
		return out
	}
	// z(v) ≥ Σ_c price·n(v,c) + x(v,c)·unit(v,c), z(v) ≥ minCover(v) and the cover cuts: each stage's
	// own cost is at least its integer cover (workers are paid in full), which n and x alone do not see.
	zIdx := map[int]int{}
	for _, v := range nodes {
		zIdx[v] = len(cost)
		cost = append(cost, 1)
	}
	nv := len(cost)
	var rows []lpRow
	newRow := func(sn sense, rhs float64) *lpRow {
		rows = append(rows, lpRow{coef: make([]float64, nv), sense: sn, rhs: rhs})
		return &rows[len(rows)-1]
	}
	for _, v := range nodes {
		r := newRow(eq, p.Rate[v])
		any := false
		for c := range nc {
			if j, ok := xIdx[[2]int{v, c}]; ok {
				r.coef[j] = 1
				any = true
			}
		}
		if !any {
			if lo != nil {
				out.bound = math.Inf(1) // nothing in v's tier window can serve it: the window holds no plan
			} else {
				out.bound = math.Inf(-1)
			}
			return out
		}
	}
	for _, v := range nodes {
		r := newRow(ge, 0)
		r.coef[zIdx[v]] = 1
		for c := range nc {
			k := [2]int{v, c}
			if j, ok := xIdx[k]; ok {
				r.coef[j] = -unit[k]
				addCount(r, k, -s.classes[c].Price)
			}
		}
		mc := s.minCover(v)
		if lo != nil {
			mc = s.minCoverIn(v, lo[v], hi[v])
		}
		if math.IsInf(mc, 1) {
			out.bound = mc
			return out
		}
		r2 := newRow(ge, math.Max(0, mc))
		r2.coef[zIdx[v]] = 1
	}
	for _, cut := range s.cuts {
		if !unplaced[cut.v] {
			continue
		}
		r := newRow(ge, cut.rhs)
		r.coef[zIdx[cut.v]] = 1
		for c := range nc {
			if _, ok := xIdx[[2]int{cut.v, c}]; ok {
				addCount(r, [2]int{cut.v, c}, cut.lam[c])
			}
		}
	}
	// Rows in a fixed order (not map order): the LP's optimum, and so the branching, is deterministic.
	for _, v := range nodes {
		for c := range nc {
			k := [2]int{v, c}
			if j, ok := xIdx[k]; ok && withCounts {
				r := newRow(ge, 0)
				r.coef[nIdx[k]] = 1
				r.coef[j] = -1 / s.cap[v][c]
			}
		}
	}
	if s.nlo != nil {
		// The region's worker count bounds (branch.go).
		for _, v := range nodes {
			for c := range nc {
				j, ok := nIdx[[2]int{v, c}]
				if !ok {
					continue
				}
				if lo := s.nlo[v][c]; lo > 0 {
					r := newRow(ge, float64(lo))
					r.coef[j] = 1
				}
				if hi := s.nhi[v][c]; hi < s.avail[c] {
					r := newRow(le, float64(hi))
					r.coef[j] = 1
				}
			}
		}
		for _, v := range nodes {
			for c := range nc {
				if _, ok := nIdx[[2]int{v, c}]; !ok && s.nlo[v][c] > 0 {
					out.bound = math.Inf(1) // the region forces workers v cannot use
					return out
				}
			}
		}
	}
	if lo != nil {
		// A box holds the plans whose least tier of v is lo[v]: v uses a worker of that tier.
		for _, v := range nodes {
			r := newRow(ge, 1)
			for c := range nc {
				if j, ok := nIdx[[2]int{v, c}]; ok && s.classes[c].Tier == lo[v] {
					r.coef[j] = 1
				}
			}
		}
	}
	capRow := make([]int, nc)
	for c := range nc {
		capRow[c] = len(rows)
		r := newRow(le, float64(s.avail[c]))
		for _, v := range nodes {
			if _, ok := xIdx[[2]int{v, c}]; ok {
				addCount(r, [2]int{v, c}, 1)
			}
		}
	}
	// Flow marginals: what each sender class emits (its share × the rate ratio) and what each receiver
	// class (or tier) takes in.
	sendOf, recvOf := map[[2]int][]int{}, map[[2]int][]int{}
	for _, f := range fs {
		sendOf[[2]int{f.e, f.ca}] = append(sendOf[[2]int{f.e, f.ca}], f.idx)
		recvOf[[2]int{f.e, f.cb}] = append(recvOf[[2]int{f.e, f.cb}], f.idx)
	}
	for ei, e := range p.Edges {
		if !unplaced[e.From] || !unplaced[e.To] {
			continue
		}
		ratio := p.Rate[e.To] / p.Rate[e.From]
		for ca := range nc {
			j, ok := xIdx[[2]int{e.From, ca}]
			if !ok {
				continue
			}
			r := newRow(eq, 0)
			r.coef[j] = -ratio
			for _, fi := range sendOf[[2]int{ei, ca}] {
				r.coef[fi] = 1
			}
		}
		if byTier {
			for tb := range p.NumTiers {
				r := newRow(eq, 0)
				any := false
				for cb := range nc {
					if j, ok := xIdx[[2]int{e.To, cb}]; ok && s.classes[cb].Tier == tb {
						r.coef[j] = -1
						any = true
					}
				}
				for _, fi := range recvOf[[2]int{ei, tb}] {
					r.coef[fi] = 1
					any = true
				}
				if !any {
					rows = rows[:len(rows)-1]
				}
			}
			continue
		}
		for cb := range nc {
			j, ok := xIdx[[2]int{e.To, cb}]
			if !ok {
				continue
			}
			r := newRow(eq, 0)
			r.coef[j] = -1
			for _, fi := range recvOf[[2]int{ei, cb}] {
				r.coef[fi] = 1
			}
		}
	}
	if s.opt.recordLP != nil {
		s.opt.recordLP(cost, rows)
	}
	obj, x, y, st := solveLPDuals(cost, rows, s.expired, s.deadline)
	if st == lpInfeasible && lo != nil {
		out.bound = math.Inf(1) // no plan in this tier window
		return out
	}
	if st != lpOptimal {
		out.bound = math.Inf(-1) // infeasible or numerical trouble: no bound, never a false proof
		return out
	}
	if d == 0 && lo == nil && s.guided {
		// Remember the root LP's shares: the cover search tries the classes it favours first.
		s.lpShare = map[[2]int]float64{}
		for k, j := range xIdx {
			s.lpShare[k] = x[j]
		}
	}
	out.bound = obj - 1e-9*math.Abs(obj)
	out.z, out.n = map[int]float64{}, map[int][]float64{}
	for _, v := range nodes {
		out.z[v] = x[zIdx[v]]
		out.n[v] = make([]float64, nc)
		for c := range nc {
			k := [2]int{v, c}
			if j, ok := nIdx[k]; ok {
				out.n[v][c] = x[j]
			} else if j, ok := xIdx[k]; ok {
				out.n[v][c] = x[j] / s.cap[v][c]
			}
		}
	}
	out.lam = make([]float64, nc)
	for c := range nc {
		out.lam[c] = math.Max(0, -y[capRow[c]])
	}
	return out
}

// tierFloorPlaced is the lowest tier v may use because of its placed inputs.
func (s *exactSearch) tierFloorPlaced(v int) int {
	f := 0
	for _, u := range s.p.Inputs[v] {
		if !s.p.IsSource[u] && s.counts[u] != nil {
			f = max(f, s.hiTier[u])
		}
	}
	return f
}

// windowBound strengthens lpBound with the no-backward rule, which the LP's flows alone ignore: if stage u
// feeds stage v, every tier u uses is ≤ every tier v uses, so a plan gives each stage a tier window
// [lo, hi] with hi(u) ≤ lo(v) on every edge. The windows of windows() contain every plan's (take lo = the
// plan's least tier per stage), so the least windowed LP (each stage's integer cover taken inside its
// window) bounds every plan. It returns the plain lpBound when that is larger or a window gives no bound.
func (s *exactSearch) windowBound(d int) float64 {
	plain := s.lpBound(d)
	if debugNoWindows {
		return plain
	}
	least := math.Inf(1)
	s.windows(d, func(lo, hi []int) {
		least = math.Min(least, s.lpBoundIn(d, lo, hi))
	})
	return math.Max(plain, least)
}

// windows calls fn with every maximal tier window of the unplaced stages order[d:]: lo non-decreasing along
// edges and at least the placed inputs' tiers, hi(u) = the least lo of u's unplaced consumers, else the top
// tier. A plan whose least tier per stage is lo uses only tiers inside the window of lo (its consumers'
// tiers are ≥ its own), so the windows cover every plan. fn must not keep lo or hi.
func (s *exactSearch) windows(d int, fn func(lo, hi []int)) {
	p := s.p
	var nodes []int
	unplaced := make([]bool, len(p.Nodes))
	for _, v := range s.order[d:] {
		if !p.IsSource[v] {
			nodes = append(nodes, v)
			unplaced[v] = true
		}
	}
	top := 0
	for _, cl := range s.classes {
		top = max(top, cl.Tier)
	}
	lo, hi := make([]int, len(p.Nodes)), make([]int, len(p.Nodes))
	var rec func(i int)
	rec = func(i int) {
		if i == len(nodes) {
			for _, u := range nodes {
				hi[u] = top
				for _, w := range p.Outputs[u] {
					if unplaced[w] {
						hi[u] = min(hi[u], lo[w])
					}
				}
			}
			fn(lo, hi)
			return
		}
		v := nodes[i]
		f := s.tierFloorPlaced(v)
		for _, u := range p.Inputs[v] {
			if unplaced[u] {
				f = max(f, lo[u])
			}
		}
		for t := f; t <= top; t++ {
			lo[v] = t
			rec(i + 1)
		}
	}
	rec(0)
}
