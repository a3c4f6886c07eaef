package optimizer

import (
	"math"
	"math/bits"
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
// stages and variants they can serve, and a capacity profile of the same shape as the kind's first host
// within kindSpread — each kind then sorted fastest first (by their summed capacities). The MILP charges
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
	out := groupHosts(len(p.Workers), same)
	for _, kind := range out {
		sort.SliceStable(kind, func(i, j int) bool { return p.speedSum(kind[i]) > p.speedSum(kind[j]) })
	}
	return out
}

// groupHosts puts hosts 0..n−1 in groups, each host in the first group whose first host it is the same
// as (same), else in a group of its own.
func groupHosts(n int, same func(first, w int) bool) [][]int {
	var out [][]int
	for w := range n {
		placed := false
		for k, g := range out {
			if same(g[0], w) {
				out[k] = append(g, w)
				placed = true
				break
			}
		}
		if !placed {
			out = append(out, []int{w})
		}
	}
	return out
}

// speedSum is host w's capacities summed over every stage and variant: the order of a kind's hosts,
// fastest first.
func (p *Problem) speedSum(w int) float64 {
	t := 0.0
	for v := range p.Nodes {
		for _, r := range p.Variants[v] { // in order: a sum in map order could differ in the last bit
			if caps := p.Cap[v][r]; caps != nil {
				t += caps[w]
			}
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

// kindSpread is the most a host's profile may differ in shape from that of the host that founded its
// kind (profileSpread; two members may then differ by up to its square): the speed rows hold for any
// kind, but they are tight only where a host's speed is one number, so two machine types at one price
// whose profiles differ more are kept apart.
const kindSpread = 1.1

// addSpeedRows adds, per kind, that its stages together use no more speed than their hosts have:
// Σ_{v∈W,r} t(v,k,r)/cap(v,r) ≤ S(Σ_{v∈W,r} y(v,k,r)), cap the first member's, S(n) the sum of the n
// fastest speeds (speedsOf), for W all the kind's stages and every set of two or more of them
// (speedSets) — without them stages could count on the same fastest hosts (144 distinct hosts / 3 tiers /
// 57: the kinds optimum 361.89 with the row over all stages only, 363.01 — the best plan's cost — with
// every set). A host serves one stage, at most its speed times the first member's capacity there, so
// the rows hold for every plan.
func (m *milpModel) addSpeedRows(p *Problem, kinds [][]int) {
	type columns struct {
		t, y []int
		tv   []float64
	}
	for _, kind := range kinds {
		rep := kind[0]
		if len(kind) < 2 {
			continue
		}
		byStage := map[int]*columns{}
		var stages []int
		n := 0
		for key, t := range m.t {
			if key[1] != rep {
				continue
			}
			c := byStage[key[0]]
			if c == nil {
				c = &columns{}
				byStage[key[0]] = c
				stages = append(stages, key[0])
			}
			c.t, c.y = append(c.t, t), append(c.y, m.y[key])
			c.tv = append(c.tv, 1/p.Cap[key[0]][m.variants[key[0]][key[2]]][rep])
			n++
		}
		if n < 2 {
			continue // one column: its chord rows say it all
		}
		sort.Ints(stages) // a deterministic model (map order is not)
		speed := p.speedsOf(kind)
		sort.Sort(sort.Reverse(sort.Float64Slice(speed)))
		for _, set := range speedSets(len(stages)) {
			var ti, yi []int
			var tv []float64
			for i, v := range stages {
				if set&(1<<i) != 0 {
					ti, tv, yi = append(ti, byStage[v].t...), append(tv, byStage[v].tv...), append(yi, byStage[v].y...)
				}
			}
			sort.Sort(byIndex{ti, tv})
			sort.Ints(yi)
			sk := 0.0
			for k, s := range speed {
				idx, val := append([]int(nil), ti...), append([]float64(nil), tv...)
				for _, y := range yi {
					idx, val = append(idx, y), append(val, -s)
				}
				m.row(math.Inf(-1), sk-s*float64(k), idx, val)
				sk += s
			}
		}
	}
}

// speedSets are the sets of a kind's n stages (bit i: stage i) that get speed rows: all of them, and
// every set of two or more up to maxSpeedSetStages stages; above that (the sets grow as 2^n) the pairs.
func speedSets(n int) []uint64 {
	all := uint64(1)<<n - 1
	sets := []uint64{all}
	for set := uint64(1); n <= maxSpeedSetStages && set < all; set++ {
		if bits.OnesCount64(set) >= 2 {
			sets = append(sets, set)
		}
	}
	if n > maxSpeedSetStages {
		for i := range n {
			for j := i + 1; j < n; j++ {
				sets = append(sets, 1<<i|1<<j)
			}
		}
	}
	return sets
}

// maxSpeedSetStages: the most stages of a kind for which every set of them gets speed rows (57 sets).
const maxSpeedSetStages = 6

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
//     fewer stages short of their rates, or as many short by less;
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
				for _, h := range g[min(next, len(g)):min(next+u.n, len(g))] {
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
			for _, h := range g[min(next, len(g)):min(next+u.n, len(g))] {
				label[h] = u.v
				carried[u.v] += capOf(u.v, h)
			}
			next += u.n
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
					// Fewer stages short first (each will cost a host), then less missing.
					var before, after shortfall
					var ca, cb float64
					if a >= 0 {
						ca = carried[a] - capOf(a, hi) + capOf(a, hj)
						before, after = before.add(short(a, carried[a])), after.add(short(a, ca))
					}
					if b >= 0 {
						cb = carried[b] - capOf(b, hj) + capOf(b, hi)
						before, after = before.add(short(b, carried[b])), after.add(short(b, cb))
					}
					if after.less(before) {
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

// shortfall is what stages miss of their rates: how many miss some, and the sum of the fractions.
type shortfall struct {
	stages int
	sum    float64
}

func (s shortfall) add(frac float64) shortfall {
	if frac > 0 {
		s.stages++
		s.sum += frac
	}
	return s
}

func (s shortfall) less(o shortfall) bool {
	return s.stages < o.stages || s.stages == o.stages && s.sum < o.sum-1e-12
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
