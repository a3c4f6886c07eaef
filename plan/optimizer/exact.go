package optimizer

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ExactOptions bounds the exact solver's effort; when a limit is hit the best plan found is returned with
// the lower bound proven so far.
type ExactOptions struct {
	TimeLimit time.Duration // 0 = no limit
	Incumbent *Solution     // optional starting plan (usually the heuristic's); never returned worse
	// Ctx, when set, ends the search early: at its deadline (if sooner than TimeLimit) or when it is
	// cancelled (Ctrl-C). Either way the best plan so far is returned with the bound proven so far.
	Ctx context.Context
	now func() time.Time
	// recordLP, when set, sees every LP the search solves (the benchmark of our simplex against CLP).
	recordLP func(c []float64, rows []lpRow)
}

// Exact finds the cheapest plan of the §5 cost model over every variant combination meeting the accuracy
// target, every worker subset and every split (the optimum of the bilinear split problem lies on a vertex:
// every worker at capacity but one), with no backward traffic. It is a branch and bound over stages in
// topological order, on classes of interchangeable workers, bounded by per-stage integer covers.
func (p *Problem) Exact(opt ExactOptions) (*Solution, error) {
	if opt.now == nil {
		opt.now = time.Now
	}
	start := opt.now()
	// hard is when the whole search must end: every loop below, every LP (every few pivots) and the
	// branching poll it, so the result comes within a few milliseconds of it.
	var hard time.Time
	if opt.TimeLimit > 0 {
		hard = start.Add(opt.TimeLimit)
	}
	if opt.Ctx != nil {
		if d, ok := opt.Ctx.Deadline(); ok && (hard.IsZero() || d.Before(hard)) {
			hard = d
		}
	}
	combos := p.Combos(p.Threshold)
	if len(combos) == 0 {
		return nil, p.accuracyInfeasible(p.Threshold)
	}
	order, err := p.TopoOrder()
	if err != nil {
		return nil, err
	}
	s := &exactSearch{p: p, classes: p.Classes(), order: order, best: math.Inf(1), openLB: math.Inf(1), start: start, opt: opt,
		ctx: opt.Ctx, deadline: hard}
	if len(s.classes) > capCoverClasses {
		s.coverNodes = boundCoverNodes
	}
	if opt.Incumbent != nil {
		s.best, s.bestSol = opt.Incumbent.Total, opt.Incumbent
	}
	// Visit combinations by their root bound, cheapest first.
	type rooted struct {
		c  Combo
		lb float64
	}
	// A combination the time limit leaves unbounded keeps the trivial bound 0 (costs are ≥ 0).
	// Two passes, so that a short limit still leaves every combination a bound: first the stages' own
	// integer covers (cheap), then the LP.
	roots := make([]rooted, len(combos))
	for i, c := range combos {
		roots[i] = rooted{c, 0}
		if s.expired() {
			s.timeout = true
			continue
		}
		s.setCombo(c)
		roots[i].lb = s.restLB(0)
	}
	for i, c := range combos {
		if s.timeout || s.expired() {
			s.timeout = true
			break
		}
		if math.IsInf(roots[i].lb, 1) {
			continue
		}
		s.setCombo(c)
		roots[i].lb = math.Max(roots[i].lb, s.lpBound(0))
	}
	sort.SliceStable(roots, func(i, j int) bool { return roots[i].lb < roots[j].lb })
	// Bounds of what the time limit stopped before it was split into regions (see phase 2); a root the
	// limit cut short keeps what it had (0 if nothing), still a bound.
	unsplit := math.Inf(1)
	// Phase 1 (a tenth of the time, only with a time limit): dives that try the classes the root LP
	// favours first, to find a good incumbent. If they finish in time the search is complete (the
	// pruning is the same); otherwise their bounds are discarded and phase 2 searches again.
	finished := false
	if !hard.IsZero() && !s.timeout {
		s.deadline = start.Add(hard.Sub(start) / 10)
		s.guided = true
		for _, r := range roots {
			if math.IsInf(r.lb, 1) || s.timeUp() || r.lb >= s.best*(1-relTol) {
				continue
			}
			s.setCombo(r.c)
			s.lpBound(0) // sets lpShare for this combination
			s.dfs(0, 0)
		}
		finished = !s.timeout
		s.timeout, s.guided = false, false
	}
	// Phase 2: the complete branch and bound over boxes = (combination, tier window) pairs. Every plan
	// lies in the window of its per-stage least tiers (see windowBound), so searching every window of every
	// combination is complete. branch visits the boxes, and the regions it splits them into, best first, so
	// the proven bound rises as the cheap ones close; each box's LP is solved when it is first visited.
	s.deadline = hard
	var regions regionHeap
	for ci, r := range roots {
		if math.IsInf(r.lb, 1) || finished {
			continue
		}
		if s.expired() {
			s.timeout = true
			unsplit = math.Min(unsplit, r.lb)
			continue
		}
		s.setCombo(r.c)
		if debugNoWindows {
			regions = append(regions, s.boxRegion(&box{combo: ci}, r.lb))
			continue
		}
		s.windows(0, func(lo, hi []int) {
			// The stages' own integer covers in the window (cached) bound the box until its LP is solved;
			// a box never visited before the time limit reports this bound.
			lb := math.Max(r.lb, s.restLBIn(0, lo, hi))
			if math.IsInf(lb, 1) {
				return
			}
			b := &box{combo: ci, lo: append([]int(nil), lo...), hi: append([]int(nil), hi...)}
			regions = append(regions, s.boxRegion(b, lb))
		})
		if s.timeout {
			// The enumeration of windows may have stopped early: the combination's root bound covers the
			// windows it did not reach.
			unsplit = math.Min(unsplit, r.lb)
		}
	}
	s.openLB = unsplit
	combosByRoot := make([]Combo, len(roots))
	for i, r := range roots {
		combosByRoot[i] = r.c
	}
	s.branch(regions, combosByRoot)
	if s.bestSol == nil {
		if s.timeout {
			return nil, fmt.Errorf("no plan found within the time limit (lower bound %g); raise --time-limit: %w", s.openLB, ErrTimeLimit)
		}
		return nil, p.explainInfeasible(combos)
	}
	sol := *s.bestSol
	sol.LowerBound = math.Min(s.openLB, sol.Total)
	sol.SearchedNodes = s.nodes
	// The plan may be the seed's, but the bound is the exact solver's.
	sol.SeedKept = s.bestSol == opt.Incumbent
	sol.Solver = "exact"

	return &sol, nil
}

// Gap is the proven relative optimality gap (incumbent − lower bound) / incumbent.
func (s *Solution) Gap() float64 {
	if s.Total <= 0 {
		return 0
	}
	return math.Max(0, (s.Total-s.LowerBound)/s.Total)
}

type exactSearch struct {
	p        *Problem
	classes  []Class
	order    []int
	opt      ExactOptions
	ctx      context.Context // nil: never cancelled
	start    time.Time
	deadline time.Time // zero: no limit (phase 1 sets its own, earlier one)
	guided   bool      // phase 1: order classes by the root LP
	nodes    int

	// current combination
	combo Combo
	cap   [][]float64 // cap[v][class]

	// branch state
	avail  []int
	counts [][]int     // per node, per class; nil = unplaced
	share  [][]float64 // per node, per class: aggregate share
	hiTier []int       // per placed node: max tier used

	msg     []float64          // msg[u·n+v] for the current combination
	cbuf    [][]int            // per stage: counts of its live placement
	sbuf    [][]float64        // per stage: shares of its live placement
	lpShare map[[2]int]float64 // root LP share of (stage, class) for the current combination
	fillBuf []fillPiece        // fillBoundSorted's buffer

	best    float64
	bestSol *Solution
	openLB  float64
	memo    map[string]float64
	timeout bool

	wlo, whi []int // per node: the tier window of the box being searched (nil: none)

	cuts     []coverCut // valid in the current box (or combination, outside phase 2)
	priceAdj []float64  // per class, added to the price by the cover search (Lagrangian covers); nil: none
	nlo, nhi [][]int    // per stage, per class: worker count bounds of the region being searched; nil: none

	// coverNodes caps each bounding cover enumeration (minCoverIn, lagrangeCover); beyond it the least
	// open bound is used, still a lower bound. Classes of one host (distinct fleets) make the exact
	// enumeration exponential in near-ties; the cap keeps a bound's cost to milliseconds.
	coverNodes int
	bounding   bool // the cover being enumerated is a bound (minCoverIn, lagrangeCover), not the search
}

// boundCoverNodes is coverNodes for fleets of more than capCoverClasses classes (replicated clusters have
// a few worker types; a profiled fleet has one class per host).
const (
	boundCoverNodes = 20000
	capCoverClasses = 16
)

// countRange is how many class-c workers stage v may use: what is available, within the count bounds of
// the region being searched (see branch.go).
func (s *exactSearch) countRange(v, c int) (lo, hi int) {
	if s.nlo == nil {
		return 0, s.avail[c]
	}
	return s.nlo[v][c], min(s.avail[c], s.nhi[v][c])
}

// price is what the cover search charges for one worker of class c.
func (s *exactSearch) price(c int) float64 {
	if s.priceAdj != nil {
		return s.classes[c].Price + s.priceAdj[c]
	}
	return s.classes[c].Price
}

const relTol = 1e-9

// maxMemo caps the cover-bound cache (each entry is a few hundred bytes).
const maxMemo = 1 << 18

func (s *exactSearch) timeUp() bool {
	if s.timeout {
		return true
	}
	if s.nodes%256 == 0 && s.expired() {
		s.timeout = true
	}
	return s.timeout
}

// expired reports whether the current deadline has passed or the search was cancelled; it reads the
// clock, so hot loops call timeUp, which asks only every 256 nodes.
func (s *exactSearch) expired() bool {
	if s.ctx != nil && s.ctx.Err() != nil {
		return true
	}
	if s.deadline.IsZero() {
		return false
	}
	now := time.Now
	if s.opt.now != nil {
		now = s.opt.now
	}
	return now().After(s.deadline)
}

func (s *exactSearch) setCombo(c Combo) {
	p := s.p
	s.combo = c
	s.cap = make([][]float64, len(p.Nodes))
	for v := range p.Nodes {
		if p.IsSource[v] {
			continue
		}
		s.cap[v] = make([]float64, len(s.classes))
		caps := p.Cap[v][c.Models[v]]
		for ci, cl := range s.classes {
			if caps != nil {
				s.cap[v][ci] = caps[cl.Members[0]]
			}
		}
	}
	s.avail = make([]int, len(s.classes))
	for ci, cl := range s.classes {
		s.avail[ci] = len(cl.Members)
	}
	s.counts = make([][]int, len(p.Nodes))
	s.share = make([][]float64, len(p.Nodes))
	s.hiTier = make([]int, len(p.Nodes))
	s.memo = map[string]float64{}
	s.lpShare = nil
	s.cuts = nil
	s.cbuf, s.sbuf = make([][]int, len(p.Nodes)), make([][]float64, len(p.Nodes))
	for v := range p.Nodes {
		s.cbuf[v], s.sbuf[v] = make([]int, len(s.classes)), make([]float64, len(s.classes))
	}
	s.msg = make([]float64, len(p.Nodes)*len(p.Nodes))
	for _, e := range p.Edges {
		s.msg[e.From*len(p.Nodes)+e.To], _ = p.MessageSize(e.From, e.To, c.Models[e.From], c.Models[e.To])
	}
}

// unitComm is the per-req/s communication cost of serving v on class c given the placed inputs;
// +Inf where it would create backward traffic. Unplaced worker inputs contribute their lower bound 0.
func (s *exactSearch) unitComm(v, c int) float64 {
	p := s.p
	cl := s.classes[c]
	cost := 0.0
	for _, u := range p.Inputs[v] {
		msg := s.msg[u*len(p.Nodes)+v]
		if p.IsSource[u] {
			if cl.Tier > 0 {
				cost += p.SrcLink[u][cl.Members[0]] * msg * gb
			}
			continue
		}
		if s.counts[u] == nil {
			continue
		}
		if cl.Tier < s.hiTier[u] {
			return math.Inf(1)
		}
		for a, sa := range s.share[u] {
			if sa > 0 && s.classes[a].Tier < cl.Tier {
				cost += p.Link[s.classes[a].Members[0]][cl.Members[0]] * sa / p.Rate[u] * msg * gb
			}
		}
	}
	return cost
}

// tierFloor is the lowest tier v may use given its placed ancestors.
func (s *exactSearch) tierFloor(v int) int {
	f := 0
	for _, u := range s.p.Inputs[v] {
		if s.p.IsSource[u] {
			continue
		}
		if s.counts[u] != nil {
			f = max(f, s.hiTier[u])
		} else {
			f = max(f, s.tierFloor(u))
		}
	}
	return f
}

// cover enumerates the vertex placements of v (class counts, one partial class) with cost < budget(),
// cheapest classes first, calling leaf for each; it returns the smallest bound it left unexplored because
// of the time limit (+Inf if none).
func (s *exactSearch) cover(v int, unit []float64, leaf func(counts []int, partial int, shares []float64, cost float64), budget func() float64) float64 {
	T := s.p.Rate[v]
	var idx []int
	for c := range s.classes {
		lo, hi := s.countRange(v, c)
		if hi > 0 && s.cap[v][c] > 0 && !math.IsInf(unit[c], 1) {
			idx = append(idx, c)
		} else if lo > 0 {
			return math.Inf(1) // the region forces workers v cannot use: no placement
		}
	}
	effv := make([]float64, len(s.classes))
	for c := range s.classes {
		if s.cap[v][c] > 0 {
			effv[c] = s.price(c)/s.cap[v][c] + unit[c]
		}
	}
	eff := func(c int) float64 { return effv[c] }
	sort.SliceStable(idx, func(i, j int) bool { return eff(idx[i]) < eff(idx[j]) })
	if s.lpShare != nil {
		// Classes the root LP uses for v first (largest share first), then the rest by unit cost.
		sort.SliceStable(idx, func(i, j int) bool {
			return s.lpShare[[2]int{v, idx[i]}] > s.lpShare[[2]int{v, idx[j]}]+1e-9
		})
	}
	byEff := s.lpShare == nil // idx is in unit-cost order: fillBoundSorted applies
	counts := make([]int, len(s.classes))
	open := math.Inf(1)
	// A worker set is a vertex iff Σcap − T < the largest cap in it (that worker can be the partial one);
	// Σcap − maxCap never decreases as workers are added, which bounds the counts.
	var rec func(i int, covered, price, maxCap float64)
	capped := s.bounding && s.coverNodes > 0
	left := s.coverNodes // nodes a bounding enumeration may still visit
	rec = func(i int, covered, price, maxCap float64) {
		s.nodes++
		var lb float64
		if byEff {
			lb = price + s.fillBoundSorted(v, idx, i, counts, unit, effv, T)
		} else {
			lb = price + s.fillBound(v, idx, i, counts, unit, effv, T)
		}
		if lb >= budget()*(1-relTol) {
			return
		}
		if capped {
			if left == 0 {
				open = math.Min(open, lb)
				return
			}
			left--
		}
		if s.timeUp() {
			open = math.Min(open, lb)
			return
		}
		if i == len(idx) {
			if covered >= T {
				s.emitVertices(v, idx, counts, covered, price, unit, leaf, budget)
			}
			return
		}
		c := idx[i]
		cp := s.cap[v][c]
		var limit float64
		if cp >= maxCap {
			limit = (T-covered)/cp + 1
		} else {
			limit = (T - covered + maxCap) / cp
		}
		hi := int(math.Ceil(limit)) - 1 // largest n with covered + n·cap − max(maxCap, cap) < T
		nlo, nhi := s.countRange(v, c)
		hi = min(nhi, max(hi, 0))
		for n := hi; n >= nlo; n-- {
			counts[c] = n
			m := maxCap
			if n > 0 {
				m = math.Max(m, cp)
			}
			rec(i+1, covered+float64(n)*cp, price+float64(n)*s.price(c), m)
		}
		counts[c] = 0
	}
	rec(0, 0, 0, 0)
	return open
}

// fillBound is the cheapest way to serve T given the classes decided so far (idx[:i], already paid
// for: each req/s costs only its communication) and the undecided ones (idx[i:], fractional, price/cap
// plus communication per req/s). It bounds every vertex below this point of the cover search.
func (s *exactSearch) fillBound(v int, idx []int, i int, counts []int, unit []float64, eff []float64, T float64) float64 {
	type piece struct{ cost, amount float64 }
	var buf [32]piece
	pieces := buf[:0]
	for _, c := range idx[:i] {
		if counts[c] > 0 {
			pieces = append(pieces, piece{unit[c], float64(counts[c]) * s.cap[v][c]})
		}
	}
	for _, c := range idx[i:] {
		_, hi := s.countRange(v, c)
		pieces = append(pieces, piece{eff[c], float64(hi) * s.cap[v][c]})
	}
	// Insertion sort: the list is short and mostly sorted.
	for a := 1; a < len(pieces); a++ {
		for b := a; b > 0 && pieces[b].cost < pieces[b-1].cost; b-- {
			pieces[b], pieces[b-1] = pieces[b-1], pieces[b]
		}
	}
	need, lb := T, 0.0
	for _, pc := range pieces {
		if need <= 0 {
			break
		}
		take := math.Min(need, pc.amount)
		lb += take * pc.cost
		need -= take
	}
	if need > 1e-9*T {
		return math.Inf(1)
	}
	return lb
}

// fillBoundSorted is fillBound when idx is sorted by eff (cover without the LP's order): the undecided
// pieces are then already in cost order, so only the decided ones (few: the classes with a count) are
// sorted, and the greedy fill merges the two and stops as soon as T is served — on fleets of hundreds of
// distinct hosts, where this bound runs at every node of the cover enumerations the MILP's cover rows
// come from, that is the difference between O(classes) with allocation and a few steps per node.
// fillPiece is a amount of req/s at a cost per req/s (fillBoundSorted).
type fillPiece struct{ cost, amount float64 }

func (s *exactSearch) fillBoundSorted(v int, idx []int, i int, counts []int, unit []float64, eff []float64, T float64) float64 {
	type piece = fillPiece
	decided := s.fillBuf[:0]
	for _, c := range idx[:i] {
		if counts[c] > 0 {
			decided = append(decided, piece{unit[c], float64(counts[c]) * s.cap[v][c]})
		}
	}
	s.fillBuf = decided // kept for the next call: no allocation per node
	for a := 1; a < len(decided); a++ {
		for b := a; b > 0 && decided[b].cost < decided[b-1].cost; b-- {
			decided[b], decided[b-1] = decided[b-1], decided[b]
		}
	}
	need, lb := T, 0.0
	k := i // next undecided class, in eff order
	for need > 0 {
		var pc piece
		switch {
		case len(decided) > 0 && (k == len(idx) || decided[0].cost <= eff[idx[k]]):
			pc, decided = decided[0], decided[1:]
		case k < len(idx):
			c := idx[k]
			_, hi := s.countRange(v, c)
			pc = piece{eff[c], float64(hi) * s.cap[v][c]}
			k++
		default:
			if need > 1e-9*T {
				return math.Inf(1)
			}
			return lb
		}
		take := math.Min(need, pc.amount)
		lb += take * pc.cost
		need -= take
	}
	return lb
}

func (s *exactSearch) emitVertices(v int, used []int, counts []int, covered, price float64, unit []float64,
	leaf func([]int, int, []float64, float64), budget func() float64) {
	T := s.p.Rate[v]
	for _, q := range used {
		if counts[q] == 0 || covered-s.cap[v][q] >= T {
			continue
		}
		cost := price
		for _, c := range used {
			sh := float64(counts[c]) * s.cap[v][c]
			if c == q {
				sh -= covered - T
			}
			cost += sh * unit[c]
		}
		if cost >= budget()*(1-relTol) {
			continue
		}
		// Per-stage buffers: only one placement of v is live at a time.
		shares, cnt := s.sbuf[v], s.cbuf[v]
		copy(cnt, counts)
		for c := range shares {
			shares[c] = 0
		}
		for _, c := range used {
			shares[c] = float64(counts[c]) * s.cap[v][c]
			if c == q {
				shares[c] -= covered - T
			}
		}
		leaf(cnt, q, shares, cost)
	}
}

// minCover is the cheapest placement of v alone on the available classes, with communication from
// unplaced inputs bounded by 0 (memoised on availability).
func (s *exactSearch) minCover(v int) float64 { return s.minCoverIn(v, 0, math.MaxInt) }

// minCoverIn is minCover with v confined to tiers lo..hi.
func (s *exactSearch) minCoverIn(v, lo, hi int) float64 {
	floor := max(s.tierFloor(v), lo)
	var key strings.Builder
	key.WriteString(strconv.Itoa(v))
	key.WriteByte('/')
	key.WriteString(strconv.Itoa(floor))
	key.WriteByte('-')
	top := 0
	for _, cl := range s.classes {
		top = max(top, cl.Tier)
	}
	key.WriteString(strconv.Itoa(min(hi, top)))
	for _, a := range s.avail {
		key.WriteByte(',')
		key.WriteString(strconv.Itoa(a))
	}
	// The communication from placed inputs depends on their shares, not only on what is left.
	for _, u := range s.p.Inputs[v] {
		if s.share[u] != nil {
			key.WriteByte('|')
			for _, x := range s.share[u] {
				key.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
				key.WriteByte(',')
			}
		}
	}
	if lb, ok := s.memo[key.String()]; ok && !debugNoMemo {
		return lb
	}
	unit := make([]float64, len(s.classes))
	for c := range s.classes {
		if s.classes[c].Tier < floor || s.classes[c].Tier > hi {
			unit[c] = math.Inf(1)
		} else {
			unit[c] = s.unitComm(v, c)
		}
	}
	// The cache is keyed on availability only, so the cover ignores the region's count bounds (a weaker,
	// still valid bound inside a region).
	nlo, nhi := s.nlo, s.nhi
	s.nlo, s.nhi = nil, nil
	defer func() { s.nlo, s.nhi = nlo, nhi }()
	best := math.Inf(1)
	saved := s.timeout
	s.timeout = false
	s.bounding = true
	open := s.cover(v, unit, func(_ []int, _ int, _ []float64, cost float64) { best = math.Min(best, cost) },
		func() float64 { return best })
	s.timeout = saved || s.timeout
	s.bounding = false
	best = math.Min(best, open)
	if len(s.memo) >= maxMemo {
		s.memo = map[string]float64{} // bound memory on long searches; entries are only a cache
	}
	s.memo[key.String()] = best
	return best
}

// restLB bounds the cost of the nodes order[d:] (each placed alone on what is left, in the current box).
func (s *exactSearch) restLB(d int) float64 { return s.restLBIn(d, s.wlo, s.whi) }

// restLBIn is restLB with stage v confined to tiers lo[v]..hi[v] (nil: unconfined).
func (s *exactSearch) restLBIn(d int, lo, hi []int) float64 {
	lb := 0.0
	for _, v := range s.order[d:] {
		if s.p.IsSource[v] {
			continue
		}
		if lo != nil {
			lb += s.minCoverIn(v, lo[v], hi[v])
		} else {
			lb += s.minCover(v)
		}
		if math.IsInf(lb, 1) {
			return lb
		}
	}
	return lb
}

func (s *exactSearch) dfs(d int, costSoFar float64) {
	p := s.p
	for d < len(s.order) && p.IsSource[s.order[d]] {
		d++
	}
	if d == len(s.order) {
		s.complete(costSoFar)
		return
	}
	v := s.order[d]
	// Boxes are disjoint: a box holds the plans whose least tier per stage is exactly its lo.
	if s.wlo != nil && s.tierFloor(v) > s.wlo[v] {
		return
	}
	rest := s.restLB(d + 1)
	useLP := s.unplacedAfter(d) >= 2 && !debugNoLP
	if useLP {
		// Later stages share the remaining workers: the LP over them (v unplaced) is usually stronger.
		rest = math.Max(rest, s.boxBound(d+1))
	}
	if math.IsInf(rest, 1) {
		return
	}
	// The LP bound covers this whole subtree; it is worth its cost only while ≥ 2 stages are unplaced.
	here := costSoFar
	if useLP {
		here = math.Max(here, costSoFar+s.boxBound(d))
		if here >= s.best*(1-relTol) {
			return
		}
	}
	unit := make([]float64, len(s.classes))
	floor, ceil := s.tierFloor(v), math.MaxInt
	if s.wlo != nil {
		floor, ceil = max(floor, s.wlo[v]), s.whi[v]
	}
	for c := range s.classes {
		if s.classes[c].Tier < floor || s.classes[c].Tier > ceil {
			unit[c] = math.Inf(1)
		} else {
			unit[c] = s.unitComm(v, c)
		}
	}
	budget := func() float64 { return s.best - costSoFar - rest }
	open := s.cover(v, unit, func(counts []int, q int, shares []float64, cost float64) {
		if s.wlo != nil && s.leastTier(counts) != s.wlo[v] {
			return // this plan belongs to another box
		}
		if s.timeUp() {
			s.openLB = math.Min(s.openLB, math.Max(here, costSoFar+cost+rest))
			return
		}
		s.place(v, counts, shares)
		s.dfs(d+1, costSoFar+cost)
		s.unplace(v, counts)
	}, budget)
	if !math.IsInf(open, 1) {
		s.openLB = math.Min(s.openLB, math.Max(here, costSoFar+open+rest))
	}
}

// leastTier is the lowest tier of a placement.
func (s *exactSearch) leastTier(counts []int) int {
	t := math.MaxInt
	for c, n := range counts {
		if n > 0 {
			t = min(t, s.classes[c].Tier)
		}
	}
	return t
}

// boxBound is the LP bound on order[d:] inside the current box (the plain LP outside phase 2).
func (s *exactSearch) boxBound(d int) float64 {
	if s.wlo != nil {
		return s.lpBoundIn(d, s.wlo, s.whi)
	}
	return s.lpBound(d)
}

// unplacedAfter counts the non-source stages after position d of the order.
func (s *exactSearch) unplacedAfter(d int) int {
	n := 0
	for _, v := range s.order[d+1:] {
		if !s.p.IsSource[v] {
			n++
		}
	}
	return n
}

func (s *exactSearch) place(v int, counts []int, shares []float64) {
	s.counts[v], s.share[v] = counts, shares
	s.hiTier[v] = 0
	for c, n := range counts {
		s.avail[c] -= n
		if n > 0 {
			s.hiTier[v] = max(s.hiTier[v], s.classes[c].Tier)
		}
	}
}

func (s *exactSearch) unplace(v int, counts []int) {
	for c, n := range counts {
		s.avail[c] += n
	}
	s.counts[v], s.share[v] = nil, nil
}

// complete turns the class-level placement into concrete workers, evaluates it with the §5.4 evaluator
// and keeps it if it beats the incumbent.
func (s *exactSearch) complete(aggCost float64) {
	if aggCost >= s.best*(1-relTol) {
		return
	}
	p := s.p
	next := make([]int, len(s.classes)) // next free member per class
	a := Assignment{Models: s.combo.Models, Workers: make([][]int, len(p.Nodes))}
	for _, v := range s.order {
		if p.IsSource[v] {
			continue
		}
		var full []int
		partial := -1
		covered := 0.0
		for c, n := range s.counts[v] {
			covered += float64(n) * s.cap[v][c]
		}
		for c, n := range s.counts[v] {
			members := s.classes[c].Members[next[c] : next[c]+n]
			next[c] += n
			for i, w := range members {
				if partial < 0 && i == n-1 && s.share[v][c] < float64(n)*s.cap[v][c] {
					partial = w
					continue
				}
				full = append(full, w)
			}
		}
		sort.Ints(full)
		if partial >= 0 {
			full = append(full, partial)
		}
		a.Workers[v] = full
	}
	compute, comm := p.Evaluate(&a, s.order, BackwardReject)
	total := compute + comm
	if total < s.best*(1-relTol) {
		s.best = total
		s.bestSol = &Solution{Assignment: a, Order: append([]int(nil), s.order...), Compute: compute, Comm: comm,
			Total: total, Accuracy: s.combo.Accuracy, Solver: "exact"}
	}
}

// String describes a solution briefly (for errors and logs).
func (s *Solution) String() string {
	return fmt.Sprintf("total %.6f (compute %.6f, comm %.6f), accuracy %g, gap %.3g%%", s.Total, s.Compute, s.Comm, s.Accuracy, 100*s.Gap())
}

// Switches for tests that cross-check the bounds against each other.
var debugNoLP, debugNoMemo, debugNoWindows, debugNoCuts, debugAlwaysBranch bool
