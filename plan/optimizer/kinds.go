package optimizer

import (
	"math"
	"math/bits"
	"slices"
	"sort"
)

// Kinds: on a profiled fleet the hosts of one machine type share a price, a tier and their source links
// and differ only in measured speed (a few percent). The MILP of milp.go sees each host as its own
// binary, and on 144–300 such hosts its bound stops short of the optimum whatever the time (BENCHMARKS.md,
// issue 12). Counted per kind instead — y(v,k,r) ∈ {0..|k|} hosts of kind k on stage v, carrying at most
// the sum of the y fastest hosts' capacities — the model has a few dozen integers in place of hundreds of
// near-copies. It is a relaxation (two stages may each count on a kind's fastest hosts), so its bound is
// valid; the speed rows below take back most of what it gives away.

// kinds groups the hosts that differ at most in capacity: same tier, price, source links and the same
// stages and variants they can serve, fastest first (by their summed capacities). The MILP charges
// stage-to-stage traffic by tier pairs only, so host-to-host links do not split kinds.
func (p *Problem) kinds() [][]int {
	same := func(a, b int) bool {
		wa, wb := p.Workers[a], p.Workers[b]
		if wa.Price != wb.Price || wa.Tier != wb.Tier {
			return false
		}
		for v := range p.Nodes {
			if p.IsSource[v] {
				if p.SrcLink[v] != nil && p.SrcLink[v][a] != p.SrcLink[v][b] {
					return false
				}
				continue
			}
			for _, caps := range p.Cap[v] {
				if (caps[a] > 0) != (caps[b] > 0) {
					return false
				}
			}
		}
		return p.profileSpread(a, b) <= kindSpread
	}
	var out [][]int
	for w := range p.Workers {
		placed := false
		for k, kind := range out {
			if same(kind[0], w) {
				out[k] = append(kind, w)
				placed = true
				break
			}
		}
		if !placed {
			out = append(out, []int{w})
		}
	}
	for _, kind := range out {
		sort.SliceStable(kind, func(i, j int) bool { return p.speedSum(kind[i]) > p.speedSum(kind[j]) })
	}
	return out
}

func (p *Problem) speedSum(w int) float64 {
	t := 0.0
	for v := range p.Nodes {
		for _, caps := range p.Cap[v] {
			t += caps[w]
		}
	}
	return t
}

// speedsOf returns each member's speed relative to the kind's first member: the most, over the stages
// and variants, of its capacity over the first member's. For a kind whose hosts' profiles are one
// profile scaled (uniformly faster or slower copies of a machine type) that is exactly the scale.
func (p *Problem) speedsOf(kind []int) []float64 {
	speed := make([]float64, len(kind))
	for v := range p.Nodes {
		for _, caps := range p.Cap[v] {
			if caps[kind[0]] <= 0 {
				continue
			}
			for k, w := range kind {
				speed[k] = math.Max(speed[k], caps[w]/caps[kind[0]])
			}
		}
	}
	return speed
}

// profileSpread is the largest over the least ratio of b's capacities to a's, over the stages and
// variants both serve: 1 when b's profile is a's scaled.
func (p *Problem) profileSpread(a, b int) float64 {
	lo, hi := math.Inf(1), 0.0
	for v := range p.Nodes {
		for _, caps := range p.Cap[v] {
			if caps[a] > 0 && caps[b] > 0 {
				r := caps[b] / caps[a]
				lo, hi = math.Min(lo, r), math.Max(hi, r)
			}
		}
	}
	if hi == 0 {
		return 1
	}
	return hi / lo
}

// kindSpread is the most a kind's profiles may differ from its first member's (profileSpread): the
// speed rows hold for any kind, but they are tight only where a host's speed is one number; two machine
// types at one price whose profiles differ more are kept apart.
const kindSpread = 1.1

// addSpeedRows adds, per kind, that its stages together use no more speed than their hosts have:
// Σ_{v∈W,r} t(v,k,r)/cap(v,r) ≤ S(Σ_{v∈W,r} y(v,k,r)), cap the first member's, S(n) the sum of the n
// fastest speeds (speedsOf), for W all the kind's stages and every set of two or more of them — without
// them each stage could count the same fastest hosts. A host serves one stage, at most its speed times
// the first member's capacity there, so the rows hold for every plan.
func (m *milpModel) addSpeedRows(p *Problem, kinds [][]int, perWorker [][]int) {
	for _, kind := range kinds {
		rep := kind[0]
		if len(kind) < 2 || len(perWorker[rep]) < 2 {
			continue
		}
		speed := p.speedsOf(kind)
		sort.Sort(sort.Reverse(sort.Float64Slice(speed)))
		var tIdx []int
		var tVal []float64
		for key, t := range m.t {
			if key[1] != rep {
				continue
			}
			v, r := key[0], m.variants[key[0]][key[2]]
			tIdx, tVal = append(tIdx, t), append(tVal, 1/p.Cap[v][r][rep])
		}
		sort.Sort(byIndex{tIdx, tVal}) // a deterministic model (map order is not)
		ys := perWorker[rep]
		m.speedRows(speed, tIdx, tVal, ys)
		// The same for every set of two or more of the kind's stages short of all: without them two
		// stages could count on fast hosts a third one's count leaves them (144 distinct hosts / 3
		// tiers / 57: the kinds optimum 361.89 without, 363.01 — the best plan's cost — with).
		var stages []int
		for key := range m.t {
			if key[1] == rep && !slices.Contains(stages, key[0]) {
				stages = append(stages, key[0])
			}
		}
		sort.Ints(stages)
		if len(stages) < 3 {
			continue
		}
		for mask := 1; mask < 1<<len(stages)-1; mask++ {
			if bits.OnesCount(uint(mask)) < 2 {
				continue
			}
			in := map[int]bool{}
			for i, v := range stages {
				if mask&(1<<i) != 0 {
					in[v] = true
				}
			}
			var ti, yi []int
			var tv []float64
			for key, t := range m.t {
				if key[1] == rep && in[key[0]] {
					ti, tv = append(ti, t), append(tv, 1/p.Cap[key[0]][m.variants[key[0]][key[2]]][rep])
					yi = append(yi, m.y[key])
				}
			}
			sort.Sort(byIndex{ti, tv})
			sort.Ints(yi)
			m.speedRows(speed, ti, tv, yi)
		}
	}
}

// speedRows: Σ tVal·t ≤ S(Σ y), S(n) the sum of the n first speeds (sorted fastest first), as chords.
func (m *milpModel) speedRows(speed []float64, tIdx []int, tVal []float64, ys []int) {
	sk := 0.0
	for k, s := range speed {
		idx, val := append([]int(nil), tIdx...), append([]float64(nil), tVal...)
		for _, y := range ys {
			idx, val = append(idx, y), append(val, -s)
		}
		m.row(math.Inf(-1), sk-s*float64(k), idx, val)
		sk += s
	}
}

type byIndex struct {
	idx []int
	val []float64
}

func (b byIndex) Len() int           { return len(b.idx) }
func (b byIndex) Less(i, j int) bool { return b.idx[i] < b.idx[j] }
func (b byIndex) Swap(i, j int) {
	b.idx[i], b.idx[j] = b.idx[j], b.idx[i]
	b.val[i], b.val[j] = b.val[j], b.val[i]
}

// kindHosts turns a solution x of a model with milpKinds into hosts: for each stage and kind (keyed by
// the kind's first member), which of the kind's hosts serve it (and which other free hosts fill a stage
// left short). x counts a kind's hosts per stage and gives each stage a share of the kind's capacity; the
// model let stages count on the same fast hosts (it is a relaxation), so the hosts are handed out in
// three steps:
//  1. per kind, its hosts fastest first, in blocks of the counted sizes, in the order of the stages that
//     leaves the least of their shares uncovered;
//  2. two hosts of a kind serving different stages (or one of them none) trade places while that leaves
//     less of the stages' rates uncovered;
//  3. a stage still short takes free hosts of the tiers it already uses (no traffic turns backward): the
//     cheapest that covers what is missing, else the cheapest per request; then every stage drops its
//     dearest hosts it can do without.
func (p *Problem) kindHosts(m *milpModel, x []float64, c Combo) map[[2]int][]int {
	ri := map[int]int{}
	for _, v := range m.stages {
		for k, r := range m.variants[v] {
			if r == c.Models[v] {
				ri[v] = k
			}
		}
	}
	capOf := func(v, w int) float64 { return p.Cap[v][c.Models[v]][w] }
	label := make([]int, len(p.Workers)) // the stage a host serves; −1: none
	for w := range label {
		label[w] = -1
	}
	carried := map[int]float64{} // per stage, its hosts' capacity
	var multi [][]int            // the kinds of more than one host
	for _, g := range m.groups {
		if len(g) > 1 {
			multi = append(multi, g)
			continue
		}
		for _, v := range m.stages {
			if y, ok := m.y[[3]int{v, g[0], ri[v]}]; ok && x[y] >= 0.5 {
				label[g[0]] = v
				carried[v] += capOf(v, g[0])
			}
		}
	}
	// Step 1.
	for _, g := range multi {
		type use struct {
			v, n int
			need float64 // its share, in requests per second
		}
		var uses []use
		for _, v := range m.stages {
			key := [3]int{v, g[0], ri[v]}
			if y, ok := m.y[key]; ok && x[y] >= 0.5 {
				uses = append(uses, use{v, min(int(math.Round(x[y])), len(g)), x[m.t[key]]})
			}
		}
		if len(uses) == 0 {
			continue
		}
		uncovered := func(perm []int) float64 {
			s, next := 0.0, 0
			for _, k := range perm {
				u, got := uses[k], 0.0
				for _, h := range g[next:min(next+u.n, len(g))] {
					got += capOf(u.v, h)
				}
				next += u.n
				s += math.Max(0, u.need-got) / p.Rate[u.v]
			}
			return s
		}
		var best []int
		least := math.Inf(1)
		forEachPermutation(len(uses), func(perm []int) bool {
			if s := uncovered(perm); s < least {
				best, least = append([]int(nil), perm...), s
			}
			return least > 0
		})
		next := 0
		for _, k := range best {
			u := uses[k]
			for _, h := range g[next:min(next+u.n, len(g))] {
				label[h] = u.v
				carried[u.v] += capOf(u.v, h)
			}
			next += u.n
		}
	}
	for _, g := range multi {
		for _, v := range m.stages {
			key := [3]int{v, g[0], ri[v]}
			if y, ok := m.y[key]; ok && x[y] > 1e-6 {
				got := 0.0
				for _, h := range g {
					if label[h] == v {
						got += capOf(v, h)
					}
				}
				tracef("kinds: %s ×%d on %s: %g hosts, share %g, %g carried", p.Workers[g[0]].Name, len(g), p.Nodes[v], x[y], x[m.t[key]], got)
			}
		}
	}
	// Step 2.
	short := func(v int, carry float64) float64 { return math.Max(0, p.Rate[v]-carry) / p.Rate[v] }
	for improved := true; improved; {
		improved = false
		for _, g := range multi {
			for i, hi := range g {
				for _, hj := range g[i+1:] {
					a, b := label[hi], label[hj]
					if a == b {
						continue
					}
					before, after := 0.0, 0.0
					var ca, cb float64
					if a >= 0 {
						ca = carried[a] - capOf(a, hi) + capOf(a, hj)
						before, after = before+short(a, carried[a]), after+short(a, ca)
					}
					if b >= 0 {
						cb = carried[b] - capOf(b, hj) + capOf(b, hi)
						before, after = before+short(b, carried[b]), after+short(b, cb)
					}
					if after < before-1e-12 {
						label[hi], label[hj] = b, a
						if a >= 0 {
							carried[a] = ca
						}
						if b >= 0 {
							carried[b] = cb
						}
						improved = true
					}
				}
			}
		}
	}
	// Step 3.
	for _, v := range m.stages {
		tiers := map[int]bool{}
		for w, l := range label {
			if l == v {
				tiers[p.Workers[w].Tier] = true
			}
		}
		for carried[v] < p.Rate[v] {
			missing := p.Rate[v] - carried[v]
			better := func(a, b int) bool { // a is a better pick than b
				if b < 0 {
					return true
				}
				ca, cb := capOf(v, a) >= missing, capOf(v, b) >= missing
				if ca != cb {
					return ca
				}
				if ca {
					return p.Workers[a].Price < p.Workers[b].Price
				}
				return p.Workers[a].Price/capOf(v, a) < p.Workers[b].Price/capOf(v, b)
			}
			pick := -1
			for h := range p.Workers {
				if label[h] < 0 && capOf(v, h) > 0 && tiers[p.Workers[h].Tier] && better(h, pick) {
					pick = h
				}
			}
			if pick < 0 {
				break // milpPlan reports the stage short
			}
			tracef("kinds: stage %s short by %g req/s: adds %s", p.Nodes[v], missing, p.Workers[pick].Name)
			label[pick] = v
			carried[v] += capOf(v, pick)
		}
	}
	for _, v := range m.stages {
		var mine []int
		for w, l := range label {
			if l == v {
				mine = append(mine, w)
			}
		}
		sort.SliceStable(mine, func(i, j int) bool { return p.Workers[mine[i]].Price > p.Workers[mine[j]].Price })
		kept := len(mine)
		for _, w := range mine {
			if kept > 1 && carried[v]-capOf(v, w) >= p.Rate[v] {
				label[w] = -1
				carried[v] -= capOf(v, w)
				kept--
			}
		}
	}
	out := map[[2]int][]int{}
	for w, v := range label {
		if v >= 0 {
			key := [2]int{v, m.rep[w]}
			out[key] = append(out[key], w)
		}
	}
	return out
}

// forEachPermutation calls fn with every permutation of 0..n−1 (Heap's algorithm; only the identity
// above 6, where there are too many) until fn returns false.
func forEachPermutation(n int, fn func([]int) bool) {
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	if n > 6 {
		fn(perm)
		return
	}
	var gen func(k int) bool
	gen = func(k int) bool {
		if k <= 1 {
			return fn(perm)
		}
		for i := range k - 1 {
			if !gen(k - 1) {
				return false
			}
			if k%2 == 0 {
				perm[i], perm[k-1] = perm[k-1], perm[i]
			} else {
				perm[0], perm[k-1] = perm[k-1], perm[0]
			}
		}
		return gen(k - 1)
	}
	gen(n)
}
