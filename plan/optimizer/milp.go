package optimizer

import (
	"context"
	"fmt"
	"math"
	"sort"
)

// The plain mixed-integer model of the whole problem, for a general MILP solver (the CBC baseline,
// milp_cbc.go). It is a relaxation of the §5.4 cost in one respect only, so the solver's bound is a valid
// lower bound and its plan, re-evaluated with Evaluate, a valid upper bound:
//
//   - z(c) ∈ {0,1}: variant combination c is chosen (Σ_c z = 1, over the combinations meeting the target).
//   - y(v,w,r) ∈ {0,1}: worker w serves stage v with variant r (paid in full), allowed only while a chosen
//     combination uses r for v (y ≤ Σ_{c uses r} z(c)); t(v,w,r) ≥ 0 its share, t ≤ cap·y;
//     Σ_{w,r} t(v,w,r) = T(v); Σ_{v,r} y(v,w,r) ≤ 1.
//   - s(v,i) ∈ {0,1}: v uses a worker of tier i (y ≤ s(v,tier w)); no backward traffic:
//     s(u,i) + s(v,j) ≤ 1 for every edge u→v between stages and j < i.
//   - Source traffic is linear in the shares: Ls(u,w)·msg(r)·t(v,w,r) for tier(w) > 0.
//   - Stage-to-stage traffic is a flow g(e,i,j,ru,rv) ≥ 0 between tiers i ≤ j and variants, with the
//     marginals of the shares (Σ_{j,rv} g = X(u,i,ru)·T(v)/T(u), Σ_{i,ru} g = X(v,j,rv), X = a tier's
//     summed shares for a variant; only the chosen variants' X are non-zero, so only their flow is), charged
//     at the cheapest link between the two tiers × that pair's message size. The evaluator's proportional
//     mixing is one such flow, so this is a relaxation; it is exact when one end of the edge sits in a
//     single tier and links depend on tiers only (as in every instance we generate).
//
// That is the plain model, the `--solver cbc` baseline. The exact solver hands CBC a strengthened one
// (milpStrength): rows and binaries that every integer solution satisfies, so the model is still the same
// relaxation, but its LP is much closer to the integer optimum (a worker cannot carry more than the
// stage's rate; a stage's price is at least its cheapest integer cover; the tier windows of the exact
// search as least-tier binaries). Which rows are in is measured in README.md. With milpKinds the hosts of
// a kind (kinds.go) share their columns, y counting them: a relaxation still, for the bound.

// milpModel is a MILP in row form: minimise obj·x subject to rowLB ≤ A x ≤ rowUB, colLB ≤ x ≤ colUB.
type milpModel struct {
	obj, colLB, colUB []float64
	integer           []bool
	rows              []milpRow
	rowLB, rowUB      []float64

	combos   []Combo
	strength int
	z        []int               // per combination: its column
	variants [][]string          // per node: the variants some combination uses
	y, t     map[[3]int]int      // (stage, worker — with milpKinds its kind's first member —, variant index) → column
	s, l     map[[2]int]int      // (stage, tier) → column of "uses tier" and (milpLo) "least tier"
	g        map[int][][][][]int // edge index → flow columns [tier from][tier to][variant from][variant to]
	order    [][2]int            // (milpOrder) host pairs (a, b): b is used only if a is
	// coverLB (milpCovers) is a lower bound on the optimum without any solve: the least, over the
	// combinations, of the sum of the stages' integer covers (stage-to-stage traffic counted 0). It
	// stands in when CBC is stopped before it reports a bound of its own.
	coverLB float64
	stages  []int
	groups  [][]int // the hosts each y column counts (first member: the column's key)
	rep     []int   // per host: the first member of its group
}

type milpRow struct {
	idx []int
	val []float64
}

func (m *milpModel) col(obj, lb, ub float64, integer bool) int {
	m.obj = append(m.obj, obj)
	m.colLB, m.colUB = append(m.colLB, lb), append(m.colUB, ub)
	m.integer = append(m.integer, integer)
	return len(m.obj) - 1
}

func (m *milpModel) row(lb, ub float64, idx []int, val []float64) {
	m.rows = append(m.rows, milpRow{idx, val})
	m.rowLB, m.rowUB = append(m.rowLB, lb), append(m.rowUB, ub)
}

// CSC returns the matrix in compressed sparse column form (column starts, row indices, values).
func (m *milpModel) CSC() (start []int, index []int, value []float64) {
	n := len(m.obj)
	count := make([]int, n+1)
	for _, r := range m.rows {
		for _, j := range r.idx {
			count[j+1]++
		}
	}
	for j := range n {
		count[j+1] += count[j]
	}
	start = append([]int(nil), count...)
	index = make([]int, count[n])
	value = make([]float64, count[n])
	next := append([]int(nil), count[:n]...)
	for i, r := range m.rows {
		for k, j := range r.idx {
			index[next[j]], value[next[j]] = i, r.val[k]
			next[j]++
		}
	}
	return start, index, value
}

// milpStrength is the formulation the exact solver hands to CBC: every strengthening below (each valid
// for every integer solution of the plain model).
var milpStrength = milpTightM | milpKnapsack | milpAggY | milpLo | milpTierCap | milpCovers | milpOrder

const (
	milpTightM   = 1 << iota // t ≤ min(cap, T)·y
	milpKnapsack             // Σ_w min(cap,T)·y(v,w,r) ≥ T·Σ z(c uses r): a binaries-only row for cover cuts
	milpAggY                 // Σ_r y(v,w,r) ≤ s(v, tier w) instead of one row per variant
	milpLo                   // least-tier binaries l(v,i): s(v,j) ≤ Σ_{i≤j} l(v,i), s(u,j) ≤ Σ_{i≥j} l(v,i) for u→v
	milpTierCap              // X(v,i) ≤ T(v)·s(v,i)
	milpCovers               // a stage's cost ≥ its integer cover (per variant; per least tier with milpLo)
	milpOrder                // a host is used only if every faster host of its kind is (symmetry)
	milpKinds                // hosts differing only in speed counted together (a relaxation: kinds.go)
)

// buildMILP formulates p over the combinations combos (see above).
// ctx bounds the time spent on the cover rows (a cover cut short gives a weaker, still valid row).
func (p *Problem) buildMILP(ctx context.Context, combos []Combo, strength int) *milpModel {
	m := &milpModel{y: map[[3]int]int{}, t: map[[3]int]int{}, g: map[int][][][][]int{}, combos: combos, strength: strength}
	nt := p.NumTiers
	// groups: the hosts modelled together, each by its first member's columns (one host each, or with
	// milpKinds the hosts of a kind, counted).
	var groups [][]int
	if strength&milpKinds != 0 {
		groups = p.kinds()
	} else {
		for w := range p.Workers {
			groups = append(groups, []int{w})
		}
	}
	m.groups = groups
	m.rep = make([]int, len(p.Workers))
	sizeOf := map[int]int{}
	for _, g := range groups {
		sizeOf[g[0]] = len(g)
		for _, w := range g {
			m.rep[w] = g[0]
		}
	}
	var zAll []int
	var ones []float64
	for range combos {
		j := m.col(0, 0, 1, true)
		m.z = append(m.z, j)
		zAll, ones = append(zAll, j), append(ones, 1)
	}
	m.row(1, 1, zAll, ones)
	// Variants per node, and for each the combinations using it.
	m.variants = make([][]string, len(p.Nodes))
	uses := make([]map[string][]int, len(p.Nodes))
	for v := range p.Nodes {
		uses[v] = map[string][]int{}
		for ci, c := range combos {
			r := c.Models[v]
			if _, ok := uses[v][r]; !ok {
				m.variants[v] = append(m.variants[v], r)
			}
			uses[v][r] = append(uses[v][r], m.z[ci])
		}
	}
	sCol, lCol := map[[2]int]int{}, map[[2]int]int{}
	m.s, m.l = sCol, lCol
	stageCost := map[int][3][]int{}
	stageCostVal := map[int][]float64{}
	perWorker := make([][]int, len(p.Workers))
	for v := range p.Nodes {
		if p.IsSource[v] {
			continue
		}
		m.stages = append(m.stages, v)
		for i := range nt {
			sCol[[2]int{v, i}] = m.col(0, 0, 1, true)
		}
		var tIdx []int
		var tOnes []float64
		var costIdx []int // v's cost terms (y with price, t with source traffic), per variant
		var costVal []float64
		var costVar []int
		yOf := map[int][]int{}     // worker → its y columns for v
		tierT := make([][]int, nt) // tier → v's t columns there
		for ri, r := range m.variants[v] {
			zs := uses[v][r]
			var kIdx []int
			var kVal []float64
			for _, members := range groups {
				w := members[0]
				cp := p.Cap[v][r][w]
				if cp <= 0 {
					continue
				}
				unit := 0.0
				for _, u := range p.Inputs[v] {
					if p.IsSource[u] && p.Workers[w].Tier > 0 {
						msg, _ := p.MessageSize(u, v, m.variants[u][0], r)
						unit += p.SrcLink[u][w] * msg * gb
					}
				}
				// A kind's hosts, fastest first: k of them carry at most the k first capacities.
				caps := make([]float64, len(members))
				for k, h := range members {
					caps[k] = p.Cap[v][r][h]
					if strength&milpTightM != 0 {
						caps[k] = math.Min(caps[k], p.Rate[v])
					}
				}
				sort.Sort(sort.Reverse(sort.Float64Slice(caps)))
				bigM := caps[0]
				size := float64(len(members))
				y := m.col(p.Workers[w].Price, 0, size, true)
				t := m.col(unit, 0, bigM*size, false)
				m.y[[3]int{v, w, ri}], m.t[[3]int{v, w, ri}] = y, t
				// t ≤ F(y), F(k) the sum of the k first capacities: concave, so the least of its
				// chords through consecutive integers (one row for a single host: t ≤ cap·y).
				fk := 0.0
				for k, c := range caps {
					m.row(math.Inf(-1), fk-c*float64(k), []int{t, y}, []float64{1, -c})
					fk += c
				}
				if strength&milpAggY == 0 {
					m.row(math.Inf(-1), 0, []int{y, sCol[[2]int{v, p.Workers[w].Tier}]}, []float64{1, -size}) // y ≤ |kind|·s(v,tier)
				}
				yOf[w] = append(yOf[w], y)
				costIdx, costVal, costVar = append(costIdx, y, t), append(costVal, p.Workers[w].Price, unit), append(costVar, ri, ri)
				tierT[p.Workers[w].Tier] = append(tierT[p.Workers[w].Tier], t)
				kIdx, kVal = append(kIdx, y), append(kVal, bigM)
				if len(zs) < len(combos) {
					idx, val := []int{y}, []float64{1}
					for _, zc := range zs {
						idx, val = append(idx, zc), append(val, -size)
					}
					m.row(math.Inf(-1), 0, idx, val) // y ≤ |kind|·Σ z over the combinations using r
				}
				perWorker[w] = append(perWorker[w], y)
				tIdx, tOnes = append(tIdx, t), append(tOnes, 1)
			}
			if strength&milpKnapsack != 0 {
				lo := p.Rate[v]
				if len(zs) < len(combos) {
					for _, zc := range zs {
						kIdx, kVal = append(kIdx, zc), append(kVal, -p.Rate[v])
					}
					lo = 0
				}
				m.row(lo, math.Inf(1), kIdx, kVal)
			}
		}
		if strength&milpAggY != 0 {
			for w, ys := range yOf {
				idx, val := append([]int(nil), ys...), make([]float64, len(ys)+1)
				for k := range ys {
					val[k] = 1
				}
				idx, val[len(ys)] = append(idx, sCol[[2]int{v, p.Workers[w].Tier}]), -float64(sizeOf[w])
				m.row(math.Inf(-1), 0, idx, val)
			}
		}
		if strength&milpTierCap != 0 {
			for i, ts := range tierT {
				idx, val := append([]int(nil), ts...), make([]float64, len(ts)+1)
				for k := range ts {
					val[k] = 1
				}
				idx, val[len(ts)] = append(idx, sCol[[2]int{v, i}]), -p.Rate[v]
				m.row(math.Inf(-1), 0, idx, val)
			}
		}
		m.row(p.Rate[v], p.Rate[v], tIdx, tOnes)
		if strength&milpCovers != 0 {
			stageCost[v] = [3][]int{costIdx, costVar, nil}
			stageCostVal[v] = costVal
		}
	}
	for w, ys := range perWorker {
		if len(ys) > 1 {
			o := make([]float64, len(ys))
			for k := range o {
				o[k] = 1
			}
			m.row(math.Inf(-1), float64(sizeOf[w]), ys, o)
		}
	}
	if strength&milpKinds != 0 {
		m.addSpeedRows(p, groups)
	}
	if strength&milpOrder != 0 && strength&milpKinds == 0 {
		m.addOrderRows(p, perWorker)
	}
	if strength&milpLo != 0 {
		// l(v,i): i is v's least tier. Σ_i l = 1; l(v,i) ≤ s(v,i); s(v,j) ≤ Σ_{i≤j} l(v,i).
		for _, v := range m.stages {
			var idx []int
			var val []float64
			for i := range nt {
				l := m.col(0, 0, 1, true)
				lCol[[2]int{v, i}] = l
				idx, val = append(idx, l), append(val, 1)
				m.row(math.Inf(-1), 0, []int{l, sCol[[2]int{v, i}]}, []float64{1, -1})
			}
			m.row(1, 1, idx, val)
			for j := range nt {
				idx, val := []int{sCol[[2]int{v, j}]}, []float64{1}
				for i := 0; i <= j; i++ {
					idx, val = append(idx, lCol[[2]int{v, i}]), append(val, -1)
				}
				m.row(math.Inf(-1), 0, idx, val)
			}
		}
	}
	if strength&milpCovers != 0 {
		m.addCoverRows(ctx, p, uses, stageCost, stageCostVal, lCol)
	}
	// Cheapest link from tier i to tier j (the evaluator charges only i < j).
	link := make([][]float64, nt)
	for i := range nt {
		link[i] = make([]float64, nt)
		for j := range nt {
			link[i][j] = math.Inf(1)
		}
	}
	for a := range p.Workers {
		for b := range p.Workers {
			ta, tb := p.Workers[a].Tier, p.Workers[b].Tier
			if ta < tb {
				link[ta][tb] = math.Min(link[ta][tb], p.Link[a][b])
			}
		}
	}
	for ei, e := range p.Edges {
		u, v := e.From, e.To
		if p.IsSource[u] {
			continue
		}
		for i := range nt {
			for j := range i {
				m.row(math.Inf(-1), 1, []int{sCol[[2]int{u, i}], sCol[[2]int{v, j}]}, []float64{1, 1})
			}
		}
		if strength&milpLo != 0 {
			// Every tier u uses is at most v's least tier: s(u,j) ≤ Σ_{i≥j} l(v,i).
			for j := 1; j < nt; j++ {
				idx, val := []int{sCol[[2]int{u, j}]}, []float64{1}
				for i := j; i < nt; i++ {
					idx, val = append(idx, lCol[[2]int{v, i}]), append(val, -1)
				}
				m.row(math.Inf(-1), 0, idx, val)
			}
		}
		nu, nv := len(m.variants[u]), len(m.variants[v])
		// g[i][j][ru][rv]
		g := make([][][][]int, nt)
		for i := range nt {
			g[i] = make([][][]int, nt)
			for j := i; j < nt; j++ {
				g[i][j] = make([][]int, nu)
				for ru := range nu {
					g[i][j][ru] = make([]int, nv)
					for rv := range nv {
						cost := 0.0
						if j > i && !math.IsInf(link[i][j], 1) {
							msg, _ := p.MessageSize(u, v, m.variants[u][ru], m.variants[v][rv])
							cost = link[i][j] * msg * gb
						}
						g[i][j][ru][rv] = m.col(cost, 0, math.Inf(1), false)
					}
				}
			}
		}
		m.g[ei] = g
		ratio := p.Rate[v] / p.Rate[u]
		for i := range nt {
			for ru := range nu {
				// Σ_{j≥i, rv} g(i,j,ru,rv) − ratio·X(u,i,ru) = 0
				var idx []int
				var val []float64
				for j := i; j < nt; j++ {
					for rv := range nv {
						idx, val = append(idx, g[i][j][ru][rv]), append(val, 1)
					}
				}
				for w := range p.Workers {
					if t, ok := m.t[[3]int{u, w, ru}]; ok && p.Workers[w].Tier == i {
						idx, val = append(idx, t), append(val, -ratio)
					}
				}
				m.row(0, 0, idx, val)
			}
			for rv := range nv {
				// Σ_{k≤i, ru} g(k,i,ru,rv) − X(v,i,rv) = 0
				var idx []int
				var val []float64
				for k := 0; k <= i; k++ {
					for ru := range nu {
						idx, val = append(idx, g[k][i][ru][rv]), append(val, 1)
					}
				}
				for w := range p.Workers {
					if t, ok := m.t[[3]int{v, w, rv}]; ok && p.Workers[w].Tier == i {
						idx, val = append(idx, t), append(val, -1)
					}
				}
				m.row(0, 0, idx, val)
			}
		}
	}
	return m
}

// milpPlan turns a MILP solution x into the chosen combination and an assignment: each stage's chosen
// workers, fullest first so that the pouring rule of §5.3 leaves the least-used one partial (with
// milpKinds, the hosts kindHosts hands out, all counted full: polish then picks the partial one). It fails
// when the rounded choice cannot carry a stage's rate (the solver's tolerances).
func (p *Problem) milpPlan(m *milpModel, x []float64) (Combo, Assignment, error) {
	ci := 0
	for k, j := range m.z {
		if x[j] > x[m.z[ci]] {
			ci = k
		}
	}
	c := m.combos[ci]
	a := Assignment{Models: c.Models, Workers: make([][]int, len(p.Nodes))}
	var hosts map[[2]int][]int // with milpKinds: the hosts of each stage and kind (kindHosts)
	if m.strength&milpKinds != 0 {
		hosts = p.kindHosts(m, x, c)
	}
	for _, v := range m.stages {
		ri := -1
		for k, r := range m.variants[v] {
			if r == c.Models[v] {
				ri = k
			}
		}
		caps := p.Cap[v][c.Models[v]]
		type pick struct {
			w    int
			fill float64
		}
		var picks []pick
		total := 0.0
		for _, g := range m.groups {
			if hosts != nil {
				for _, w := range hosts[[2]int{v, g[0]}] {
					picks = append(picks, pick{w, 1})
					total += caps[w]
				}
				continue
			}
			key := [3]int{v, g[0], ri}
			if y, ok := m.y[key]; ok && x[y] >= 0.5 {
				picks = append(picks, pick{g[0], x[m.t[key]] / caps[g[0]]})
				total += caps[g[0]]
			}
		}
		if total < p.Rate[v] {
			return c, a, fmt.Errorf("milp: stage %s: chosen workers carry %g of %g req/s", p.Nodes[v], total, p.Rate[v])
		}
		sort.SliceStable(picks, func(i, j int) bool {
			if picks[i].fill != picks[j].fill {
				return picks[i].fill > picks[j].fill
			}
			return picks[i].w < picks[j].w
		})
		for _, pk := range picks {
			a.Workers[v] = append(a.Workers[v], pk.w)
		}
	}
	return c, a, nil
}

// polish improves a plan without changing its worker sets: the pouring rule runs every worker of a stage
// at capacity but the last, so which worker is last decides the shares. For each stage in turn it tries
// every worker as the partial one (Evaluate decides), keeping the cheapest; stages are revisited until
// nothing improves or ctxDone reports the time is up.
func (p *Problem) polish(a Assignment, order []int, ctxDone func() bool) (Assignment, float64, float64) {
	compute, comm := p.Evaluate(&a, order, BackwardReject)
	best := compute + comm
	for improved := true; improved; {
		improved = false
		for _, v := range order {
			ws := a.Workers[v]
			if len(ws) < 2 {
				continue
			}
			orig := append([]int(nil), ws...)
			bestOrder := orig
			for q := range orig {
				if ctxDone() {
					a.Workers[v] = bestOrder
					return a, compute, comm
				}
				cand := make([]int, 0, len(orig))
				cand = append(cand, orig[:q]...)
				cand = append(cand, orig[q+1:]...)
				cand = append(cand, orig[q])
				a.Workers[v] = cand
				c1, c2 := p.Evaluate(&a, order, BackwardReject)
				if c1+c2 < best*(1-1e-12) {
					best, compute, comm, bestOrder = c1+c2, c1, c2, cand
					improved = true
				}
			}
			a.Workers[v] = bestOrder
		}
	}
	return a, compute, comm
}

// addCoverRows adds, for every stage, "its compute and source-traffic cost is at least its cheapest
// integer cover": per variant r, cost_r ≥ C(v,r)·Σ z(c uses r); with the least-tier binaries l, also
// Σ_r cost_r ≥ Σ_i C_i(v)·l(v,i), C_i the cheapest cover within tiers i.. over the variants. Both hold
// for every integer solution, and the LP alone does not see them (it fills a stage fractionally).
func (m *milpModel) addCoverRows(ctx context.Context, p *Problem, uses []map[string][]int, cost map[int][3][]int, costVal map[int][]float64, lCol map[[2]int]int) {
	order, err := p.TopoOrder()
	if err != nil {
		return
	}
	s := &exactSearch{p: p, classes: p.Classes(), order: order, ctx: ctx}
	if len(s.classes) > capCoverClasses {
		s.coverNodes = boundCoverNodes
	}
	top := 0
	for _, w := range p.Workers {
		top = max(top, w.Tier)
	}
	comboLB := make([]float64, len(m.combos))
	defer func() {
		m.coverLB = math.Inf(1)
		for _, lb := range comboLB {
			m.coverLB = math.Min(m.coverLB, lb)
		}
	}()
	for _, v := range m.stages {
		idx, vars, val := cost[v][0], cost[v][1], costVal[v]
		win := make([]float64, top+1)
		for i := range win {
			win[i] = math.Inf(1)
		}
		for ri, r := range m.variants[v] {
			zs := uses[v][r]
			ci := -1
			for k, c := range m.combos {
				if c.Models[v] == r {
					ci = k
					break
				}
			}
			s.setCombo(m.combos[ci])
			c := s.minCover(v)
			for k, cb := range m.combos {
				if cb.Models[v] == r && c > 0 {
					comboLB[k] += c // +Inf: no cover, the combination is infeasible
				}
			}
			for i := range win {
				win[i] = math.Min(win[i], s.minCoverIn(v, i, top))
			}
			if math.IsInf(c, 1) || c <= 0 {
				continue
			}
			var ri2 []int
			var rv []float64
			for k, j := range idx {
				if vars[k] == ri {
					ri2, rv = append(ri2, j), append(rv, val[k])
				}
			}
			for _, zc := range zs {
				ri2, rv = append(ri2, zc), append(rv, -c)
			}
			m.row(0, math.Inf(1), ri2, rv)
		}
		if len(lCol) == 0 {
			continue
		}
		ri2, rv := append([]int(nil), idx...), append([]float64(nil), val...)
		for i, c := range win {
			if math.IsInf(c, 1) {
				// No cover with least tier i: l(v,i) = 0.
				m.colUB[lCol[[2]int{v, i}]] = 0
				continue
			}
			ri2, rv = append(ri2, lCol[[2]int{v, i}]), append(rv, -c)
		}
		m.row(0, math.Inf(1), ri2, rv)
	}
}

// addOrderRows breaks the symmetry of hosts of one kind (same price, tier and links; on a profiled fleet,
// the replicas of a machine type, a few percent apart in speed): if host a is at least as fast as host b
// on every stage and variant, a MILP solution using b but not a stays feasible at the same objective
// with a in b's place (its shares fit, its price, traffic and tier are the same). So some optimum uses a
// whenever it uses b: used(b) ≤ used(a), chained along each kind sorted by speed. This leaves the MILP's
// optimum unchanged and removes the near-ties that make its branch and bound enumerate every subset.
func (m *milpModel) addOrderRows(p *Problem, perWorker [][]int) {
	sameKind := func(a, b int) bool {
		wa, wb := p.Workers[a], p.Workers[b]
		if wa.Price != wb.Price || wa.Tier != wb.Tier {
			return false
		}
		for _, sl := range p.SrcLink {
			if sl != nil && sl[a] != sl[b] {
				return false
			}
		}
		for x := range p.Workers {
			if x != a && x != b && (p.Link[a][x] != p.Link[b][x] || p.Link[x][a] != p.Link[x][b]) {
				return false
			}
		}
		return true
	}
	// dominates: a serves everything b serves, at least as fast.
	dominates := func(a, b int) bool {
		for v := range p.Nodes {
			for _, caps := range p.Cap[v] {
				if caps[b] > 0 && caps[a] < caps[b] {
					return false
				}
			}
		}
		return true
	}
	for _, kind := range groupHosts(len(p.Workers), sameKind) {
		sort.SliceStable(kind, func(i, j int) bool { return p.speedSum(kind[i]) > p.speedSum(kind[j]) })
		for i := 1; i < len(kind); i++ {
			a, b := kind[i-1], kind[i]
			if len(perWorker[a]) == 0 || len(perWorker[b]) == 0 || !dominates(a, b) {
				continue
			}
			m.order = append(m.order, [2]int{a, b})
			idx := append(append([]int(nil), perWorker[b]...), perWorker[a]...)
			val := make([]float64, len(idx))
			for k := range idx {
				val[k] = 1
				if k >= len(perWorker[b]) {
					val[k] = -1
				}
			}
			m.row(math.Inf(-1), 0, idx, val)
		}
	}
}

// milpPoint is the plan a as a point of m (every column: the combination, the workers and their shares,
// the tiers used and least tiers, and the evaluator's proportional flow on every stage-to-stage edge), for
// CBC as a starting solution. Its objective is at most a's evaluated cost (the MILP is a relaxation).
// It returns nil when a is no point of m: a worker on two stages, a combination or variant m does not
// have, backward traffic, or (with milpOrder) a slower host of a kind used where a faster one is free —
// there the plan is first moved, in the MILP only, onto the faster hosts of its kind (same shares, so the
// same objective).
func (p *Problem) milpPoint(m *milpModel, a *Assignment) []float64 {
	x := make([]float64, len(m.obj))
	ci := -1
	for k, c := range m.combos {
		same := true
		for v, r := range c.Models {
			if !p.IsSource[v] && a.Models[v] != r {
				same = false
				break
			}
		}
		if same {
			ci = k
			break
		}
	}
	if ci < 0 {
		return nil
	}
	x[m.z[ci]] = 1
	shares := p.Shares(a)
	owner := make([]int, len(p.Workers))
	for w := range owner {
		owner[w] = -1
	}
	// tierX[v][i]: v's shares on tier i (its chosen variant only).
	tierX := make([][]float64, len(p.Nodes))
	rOf := make([]int, len(p.Nodes))
	for _, v := range m.stages {
		rOf[v] = -1
		for k, r := range m.variants[v] {
			if r == a.Models[v] {
				rOf[v] = k
			}
		}
		if rOf[v] < 0 || len(a.Workers[v]) == 0 {
			return nil
		}
		tierX[v] = make([]float64, p.NumTiers)
		least := p.NumTiers
		for q, w := range a.Workers[v] {
			key := [3]int{v, m.rep[w], rOf[v]} // with milpKinds, its kind's columns count it
			y, ok := m.y[key]
			if !ok || owner[w] >= 0 {
				return nil
			}
			owner[w] = v
			x[y]++
			x[m.t[key]] += shares[v][q]
			tier := p.Workers[w].Tier
			x[m.s[[2]int{v, tier}]] = 1
			tierX[v][tier] += shares[v][q]
			least = min(least, tier)
		}
		if l, ok := m.l[[2]int{v, least}]; ok {
			x[l] = 1
		}
	}
	for ei, e := range p.Edges {
		u, v := e.From, e.To
		if p.IsSource[u] {
			continue
		}
		g := m.g[ei]
		for i := range p.NumTiers {
			for j := range p.NumTiers {
				f := tierX[u][i] * tierX[v][j] / p.Rate[u]
				if f <= 0 {
					continue
				}
				if j < i {
					return nil // backward traffic
				}
				x[g[i][j][rOf[u]][rOf[v]]] = f
			}
		}
	}
	if m.strength&milpOrder != 0 && m.strength&milpKinds == 0 {
		m.orderPoint(x)
	}
	return x
}

// orderPoint moves a point of the MILP onto the faster hosts of each kind until the symmetry rows hold:
// where b is used and a (at least as fast on everything, same price, tier and links) is not, b's columns
// go to a with the same shares — a point of the same objective (see addOrderRows).
func (m *milpModel) orderPoint(x []float64) {
	for moved := true; moved; {
		moved = false
		for _, ab := range m.order {
			a, b := ab[0], ab[1]
			usedA, usedB := false, false
			for k, col := range m.y {
				if x[col] > 0.5 {
					usedA = usedA || k[1] == a
					usedB = usedB || k[1] == b
				}
			}
			if !usedB || usedA {
				continue
			}
			for k, col := range m.y {
				if k[1] != b || x[col] < 0.5 {
					continue
				}
				ka := [3]int{k[0], a, k[2]}
				x[m.y[ka]], x[m.t[ka]] = 1, x[m.t[k]]
				x[col], x[m.t[k]] = 0, 0
			}
			moved = true
		}
	}
}
