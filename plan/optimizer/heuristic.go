package optimizer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
)

// ErrTimeLimit marks a solve that the time limit (or a cancellation, Ctrl-C) cut short.
var ErrTimeLimit = errors.New("time limit reached")

// Solution is a solved plan with its figures.
type Solution struct {
	Assignment
	Order         []int   // node order in which compute cost was summed (the assignment order)
	Compute       float64 // Σ prices
	Comm          float64 // §5.4 evaluator, backward traffic rejected
	Total         float64 // the selection value: compute + comm
	Accuracy      float64
	LowerBound    float64 // proven lower bound on the optimum (exact solver); 0 when unknown
	Solver        string
	SearchedNodes int
	SeedKept      bool // exact solver: no plan beat the heuristic's seed (within 1e-9)
}

// Shares returns t(v,w) for the solution, parallel to Workers.
func (s *Solution) Shares(p *Problem) [][]float64 { return p.Shares(&s.Assignment) }

// PrintedComm is the original's printed communication cost: total − compute.
func (s *Solution) PrintedComm() float64 { return s.Total - s.Compute }

// hState is one state of the multiple-tiers worker-assignment beam.
type hState struct {
	overall, compute float64
	tier             []int
	workers          [][]int
	shares           [][]float64
	used             []bool
	order            []int
}

func (s *hState) clone() *hState {
	n := &hState{overall: s.overall, compute: s.compute, tier: append([]int(nil), s.tier...),
		workers: append([][]int(nil), s.workers...), shares: append([][]float64(nil), s.shares...),
		used: append([]bool(nil), s.used...), order: append([]int(nil), s.order...)}
	return n
}

// AllTopoOrders lists the topological orders of the logical graph (sources included), depth first with
// the smallest ready node index first, at most limit of them (0 = all).
func (p *Problem) AllTopoOrders(limit int) [][]int {
	n := len(p.Nodes)
	indeg := make([]int, n)
	for v := range n {
		indeg[v] = len(p.Inputs[v])
	}
	var out [][]int
	cur := []int{}
	done := make([]bool, n)
	var rec func()
	rec = func() {
		if limit > 0 && len(out) >= limit {
			return
		}
		if len(cur) == n {
			out = append(out, append([]int(nil), cur...))
			return
		}
		for v := range n {
			if done[v] || indeg[v] != 0 {
				continue
			}
			done[v] = true
			cur = append(cur, v)
			for _, w := range p.Outputs[v] {
				indeg[w]--
			}
			rec()
			for _, w := range p.Outputs[v] {
				indeg[w]++
			}
			cur = cur[:len(cur)-1]
			done[v] = false
		}
	}
	rec()
	return out
}

const gb = 3600. / 1024. / 1024.

// estimate is the greedy's per-worker cost estimate of §5.6(b): price plus the cost of v's incoming
// traffic if w served `serve` req/s of v. Worker-input terms use txScale·tx(a) (1 for E_full and E_rem,
// cap/T for E_cap); tiers are ignored, every listed link is charged.
func (p *Problem) estimate(st *hState, m ModelAssignment, v, w int, srcRate, txScale float64, scaled bool) float64 {
	c := 0.0
	T := p.Rate[v]
	for _, u := range p.Inputs[v] {
		msg, _ := p.MessageSize(u, v, m[u], m[v])
		if p.IsSource[u] {
			c += float64(p.SrcLink[u][w]*float64(srcRate*msg)) * 3600. / 1024. / 1024.
			continue
		}
		bw := float64(T * msg)
		for i, a := range st.workers[u] {
			tx := float64(st.shares[u][i]*bw) / p.Rate[u]
			if scaled {
				tx = float64(tx*txScale) / T
			}
			c += float64(p.Link[a][w]*tx) * 3600. / 1024. / 1024.
		}
	}
	return p.Workers[w].Price + c
}

// nodeComm is the heuristic's running communication cost of v's incoming edges: the §5.4 formulas with
// no tier tests (every listed link is charged).
func (p *Problem) nodeComm(st *hState, m ModelAssignment, v int, ws []int, sh []float64) float64 {
	c := 0.0
	T := p.Rate[v]
	for _, u := range p.Inputs[v] {
		msg, _ := p.MessageSize(u, v, m[u], m[v])
		bw := float64(T * msg)
		if p.IsSource[u] {
			for i, w := range ws {
				rx := float64(sh[i]*bw) / T
				c += float64(p.SrcLink[u][w]*rx) * 3600. / 1024. / 1024.
			}
			continue
		}
		for i, a := range st.workers[u] {
			tx := float64(st.shares[u][i]*bw) / p.Rate[u]
			for j, b := range ws {
				rx := float64(sh[j]*bw) / T
				link := float64(tx * (rx / bw))
				c += float64(p.Link[a][b]*link) * 3600. / 1024. / 1024.
			}
		}
	}
	return c
}

type scored struct {
	w      int
	k1, k2 float64
}

func sortScored(xs []scored) {
	sort.SliceStable(xs, func(i, j int) bool {
		if xs[i].k1 != xs[j].k1 {
			return xs[i].k1 < xs[j].k1
		}
		return xs[i].k2 < xs[j].k2
	})
}

// greedyTiers places v on unassigned workers of tiers h..i by the multiple-tiers greedy; ok is false when
// the demand cannot be met.
func (p *Problem) greedyTiers(st *hState, m ModelAssignment, v, h, i int) (ws []int, sh []float64, ok bool) {
	T := p.Rate[v]
	caps := p.Cap[v][m[v]]
	var avail []int
	for w := range p.Workers {
		t := p.Workers[w].Tier
		if t >= h && t <= i && !st.used[w] && caps != nil && caps[w] > 0 {
			avail = append(avail, w)
		}
	}
	lowest := lowestTier(p, avail)
	var list []scored
	for _, w := range avail {
		if p.Workers[w].Tier == lowest && caps[w] >= T {
			list = append(list, scored{w, p.estimate(st, m, v, w, T, 1, false), caps[w]})
		}
	}
	if len(list) == 0 {
		for _, w := range avail {
			e := p.estimate(st, m, v, w, caps[w], caps[w], true)
			list = append(list, scored{w, e / caps[w], e})
		}
	}
	sortScored(list)
	acc := 0.0
	for acc < T && len(list) > 0 {
		w := list[0].w
		list = list[1:]
		s := caps[w]
		if acc+caps[w] > T {
			s = T - acc
		}
		ws, sh = append(ws, w), append(sh, s)
		acc += s
		if acc < T {
			rem := T - acc
			var rest []int
			for _, x := range list {
				rest = append(rest, x.w)
			}
			low := lowestTier(p, rest)
			var sat []scored
			for _, x := range list {
				if p.Workers[x.w].Tier == low && caps[x.w] > rem {
					sat = append(sat, scored{x.w, p.estimate(st, m, v, x.w, rem, 1, false), caps[x.w]})
				}
			}
			if len(sat) > 0 {
				sortScored(sat)
				list = sat
			}
		}
	}
	return ws, sh, acc >= T
}

func lowestTier(p *Problem, ws []int) int {
	if len(ws) == 0 {
		return 0
	}
	low := math.MaxInt
	for _, w := range ws {
		low = min(low, p.Workers[w].Tier)
	}
	return low
}

// MultipleTiers is the original's compute_worker_assignment_multiple_tiers with the greedy tier allocation
// (§5.6b): for every topological order (capped), a beam of best-k states; returns the merged best-k plans.
func (p *Problem) MultipleTiers(m ModelAssignment, maxOrders, bestK int) []*hState {
	states, _ := p.multipleTiers(context.Background(), m, maxOrders, bestK)
	return states
}

// multipleTiers is MultipleTiers polling ctx before each greedy placement; stopped is true (and the
// states incomplete) when ctx ended first.
func (p *Problem) multipleTiers(ctx context.Context, m ModelAssignment, maxOrders, bestK int) (global []*hState, stopped bool) {
	for _, order := range p.AllTopoOrders(maxOrders) {
		n := len(p.Nodes)
		init := &hState{tier: make([]int, n), workers: make([][]int, n), shares: make([][]float64, n), used: make([]bool, len(p.Workers))}
		beam := []*hState{init}
		for _, v := range order {
			var next []*hState
			for _, st := range beam {
				if p.IsSource[v] {
					c := st.clone()
					c.tier[v] = -1
					next = append(next, c)
					continue
				}
				if ctx.Err() != nil {
					return nil, true
				}
				h := 0
				for _, u := range p.Inputs[v] {
					h = max(h, st.tier[u])
				}
				for i := h; i < p.NumTiers; i++ {
					ws, sh, ok := p.greedyTiers(st, m, v, h, i)
					if !ok {
						continue
					}
					c := st.clone()
					vc := 0.0
					for _, w := range ws {
						vc += p.Workers[w].Price
					}
					comm := p.nodeComm(st, m, v, ws, sh)
					c.overall = st.overall + vc + comm
					c.compute = st.compute + vc
					c.tier[v] = 0
					for _, w := range ws {
						c.tier[v] = max(c.tier[v], p.Workers[w].Tier)
						c.used[w] = true
					}
					c.workers[v], c.shares[v] = ws, sh
					c.order = append(c.order, v)
					next = append(next, c)
				}
			}
			sortStates(next)
			if bestK > 0 && len(next) > bestK {
				next = next[:bestK]
			}
			beam = next
		}
		global = append(global, beam...)
		sortStates(global)
		if bestK > 0 && len(global) > bestK {
			global = global[:bestK]
		}
	}
	return global, false
}

func sortStates(s []*hState) {
	sort.SliceStable(s, func(i, j int) bool { return s[i].overall < s[j].overall })
}

// SameTier is the original's compute_worker_assignment_same_tier with greedy allocation: each node, in
// topological order, on the first tier ≥ its inputs' tiers where the greedy meets its rate.
func (p *Problem) SameTier(m ModelAssignment) *hState {
	order, _ := p.TopoOrder()
	n := len(p.Nodes)
	st := &hState{tier: make([]int, n), workers: make([][]int, n), shares: make([][]float64, n), used: make([]bool, len(p.Workers))}
	for _, v := range order {
		if p.IsSource[v] {
			st.tier[v] = -1
			continue
		}
		h := 0
		for _, u := range p.Inputs[v] {
			h = max(h, st.tier[u])
		}
		T := p.Rate[v]
		caps := p.Cap[v][m[v]]
		placed := false
		for i := h; i < p.NumTiers && !placed; i++ {
			var avail []int
			for w := range p.Workers {
				if p.Workers[w].Tier == i && !st.used[w] && caps != nil && caps[w] > 0 {
					avail = append(avail, w)
				}
			}
			priceList := func(ws []int, needCap float64, strict bool) []scored {
				var out []scored
				for _, w := range ws {
					if caps[w] > needCap || (!strict && caps[w] == needCap) {
						out = append(out, scored{w, p.Workers[w].Price, 0})
					}
				}
				return out
			}
			unitList := func(ws []int) []scored {
				var out []scored
				for _, w := range ws {
					out = append(out, scored{w, p.Workers[w].Price / caps[w], p.Workers[w].Price})
				}
				return out
			}
			list := priceList(avail, T, false)
			if len(list) == 0 {
				list = unitList(avail)
			}
			sortScored(list)
			var ws []int
			var sh []float64
			acc := 0.0
			for acc < T && len(list) > 0 {
				w := list[0].w
				list = list[1:]
				s := caps[w]
				if acc+caps[w] > T {
					s = T - acc
				}
				ws, sh = append(ws, w), append(sh, s)
				acc += s
				if acc < T {
					rest := make([]int, len(list))
					for k, x := range list {
						rest[k] = x.w
					}
					if sat := priceList(rest, T-acc, true); len(sat) > 0 {
						list = sat
					} else {
						list = unitList(rest)
					}
					sortScored(list)
				}
			}
			if acc >= T {
				for _, w := range ws {
					st.used[w] = true
					st.compute += p.Workers[w].Price
				}
				st.workers[v], st.shares[v], st.tier[v] = ws, sh, i
				st.order = append(st.order, v)
				placed = true
			}
		}
		if !placed {
			return nil
		}
	}
	return st
}

// Heuristic runs the original main.py: beam search over variants, worker assignment per model assignment,
// and selection by total cost (strictly lower, or allclose and strictly more accurate).
func (p *Problem) Heuristic(cfg Config) (*Solution, error) {
	return p.HeuristicContext(context.Background(), cfg)
}

// HeuristicContext is Heuristic stopped when ctx ends (its deadline or a cancellation). Then it returns
// the best plan of the model assignments it finished (nil if none) and an error wrapping ErrTimeLimit:
// that plan is valid but is not the original's result.
func (p *Problem) HeuristicContext(ctx context.Context, cfg Config) (*Solution, error) {
	combos, err := p.BeamSearch(p.Threshold, cfg.BeamBestK, cfg.SampleLimit)
	if err != nil {
		return nil, err
	}
	var best *Solution
	for ci, c := range combos {
		var states []*hState
		if ctx.Err() != nil {
			return best, fmt.Errorf("the heuristic did not finish within the time limit (%d of %d model assignments done): %w", ci, len(combos), ErrTimeLimit)
		}
		if cfg.Strategy == "same-tier" {
			if st := p.SameTier(c.Models); st != nil {
				states = []*hState{st}
			}
		} else {
			var stopped bool
			states, stopped = p.multipleTiers(ctx, c.Models, cfg.MaxAssignOrders, cfg.BestKAssignments)
			if stopped {
				return best, fmt.Errorf("the heuristic did not finish within the time limit (%d of %d model assignments done): %w", ci, len(combos), ErrTimeLimit)
			}
		}
		for _, st := range states {
			a := Assignment{Models: c.Models, Workers: st.workers}
			comm := p.CommunicationCost(&a, st.shares, BackwardReject)
			total := st.compute + comm
			if math.IsInf(total, 1) {
				continue
			}
			if best == nil || total < best.Total || (allclose(total, best.Total) && c.Accuracy > best.Accuracy) {
				best = &Solution{Assignment: a, Order: st.order, Compute: st.compute, Comm: comm, Total: total,
					Accuracy: c.Accuracy, Solver: "heuristic"}
			}
		}
	}
	if best == nil {
		return nil, p.explainInfeasible(combos)
	}
	return best, nil
}

// allclose is numpy.allclose for scalars: |a−b| ≤ 1e-8 + 1e-5·|b|.
func allclose(a, b float64) bool { return math.Abs(a-b) <= 1e-8+1e-5*math.Abs(b) }
