package optimizer

import (
	"fmt"
	"math"
	"sort"
)

// beamCandidate is a partial model assignment with the accuracy still required of unassigned operators.
type beamCandidate struct {
	variant map[string]string
	req     map[string]float64
	cost    float64
}

// BeamSearch picks model assignments with the original's beam search over per-operator accuracy profiles
// (§5.6a): sink first, then the other operators in reversed topological order; candidates are ranked by
// Σ weight·cost then by the remaining requirements, and the best k kept. Without per-operator profiles it
// returns the end-to-end table's combinations that meet the threshold, in table order, capped at k.
func (p *Problem) BeamSearch(threshold float64, k, sampleLimit int) ([]Combo, error) {
	if len(p.Accuracy.PerOp) == 0 {
		c := p.Combos(threshold)
		if len(c) == 0 {
			return nil, p.accuracyInfeasible(threshold)
		}
		if k > 0 && len(c) > k {
			c = c[:k]
		}
		return c, nil
	}
	prof := map[string]*OperatorProfile{}
	for i := range p.Accuracy.PerOp {
		prof[p.Accuracy.PerOp[i].Name] = &p.Accuracy.PerOp[i]
	}
	order := []string{p.Sink}
	topo, err := p.TopoOrder()
	if err != nil {
		return nil, err
	}
	for i := len(topo) - 1; i >= 0; i-- {
		name := p.Nodes[topo[i]]
		if _, ok := prof[name]; ok && name != p.Sink {
			order = append(order, name)
		}
	}
	if _, ok := prof[p.Sink]; !ok {
		return nil, fmt.Errorf("accuracy profile: the sink %s has no per-operator profile", p.Sink)
	}
	beam := []beamCandidate{{variant: map[string]string{}, req: map[string]float64{p.Sink: threshold}}}
	for step, op := range order {
		o := prof[op]
		var next []beamCandidate
		for _, c := range beam {
			r, ok := c.req[op]
			if !ok {
				r = math.Inf(-1)
			}
			feasible := 0
			for _, vr := range o.Variants {
				samples := append([]Sample(nil), o.Samples[vr]...)
				best := math.Inf(-1)
				for _, s := range samples {
					best = math.Max(best, s.OutputAcc)
				}
				if best < r {
					continue
				}
				feasible++
				cost := c.cost + o.Weight*o.Cost[vr]
				if len(o.Inputs) == 0 {
					next = append(next, c.extend(op, vr, cost, nil, nil))
					continue
				}
				sort.SliceStable(samples, func(i, j int) bool { return sampleLess(samples[i], samples[j]) })
				taken := 0
				for _, s := range samples {
					if s.OutputAcc < r {
						continue
					}
					if sampleLimit > 0 && taken == sampleLimit {
						break
					}
					taken++
					next = append(next, c.extend(op, vr, cost, o.Inputs, s.InputsAcc))
				}
			}
			if feasible == 0 {
				return nil, fmt.Errorf("accuracy infeasible: operator %s must reach accuracy %g but its best variant reaches %g",
					op, r, bestOutput(o))
			}
		}
		rest := order[step+1:]
		sort.SliceStable(next, func(i, j int) bool {
			if next[i].cost != next[j].cost {
				return next[i].cost < next[j].cost
			}
			for _, op := range rest {
				a, b := reqOf(next[i], op), reqOf(next[j], op)
				if a != b {
					return a < b
				}
			}
			return false
		})
		if k > 0 && len(next) > k {
			next = next[:k]
		}
		beam = next
	}
	var out []Combo
	for _, c := range beam {
		m := make(ModelAssignment, len(p.Nodes))
		for v := range m {
			m[v] = "default"
			if vr, ok := c.variant[p.Nodes[v]]; ok {
				m[v] = vr
			}
		}
		acc, ok := p.AccuracyOf(m)
		if !ok {
			return nil, fmt.Errorf("accuracy profile: the end-to-end table has no row for %v", c.variant)
		}
		out = append(out, Combo{Models: m, Accuracy: acc})
	}
	return out, nil
}

func reqOf(c beamCandidate, op string) float64 {
	if r, ok := c.req[op]; ok {
		return r
	}
	return math.Inf(-1)
}

func (c beamCandidate) extend(op, vr string, cost float64, inputs []string, inAcc []float64) beamCandidate {
	n := beamCandidate{variant: map[string]string{}, req: map[string]float64{}, cost: cost}
	for k, v := range c.variant {
		n.variant[k] = v
	}
	n.variant[op] = vr
	for k, v := range c.req {
		if k != op {
			n.req[k] = v
		}
	}
	for i, in := range inputs {
		if cur, ok := n.req[in]; !ok || inAcc[i] > cur {
			n.req[in] = inAcc[i]
		}
	}
	return n
}

// sampleLess orders samples by (output accuracy, input accuracies) like Python tuples.
func sampleLess(a, b Sample) bool {
	if a.OutputAcc != b.OutputAcc {
		return a.OutputAcc < b.OutputAcc
	}
	for i := 0; i < len(a.InputsAcc) && i < len(b.InputsAcc); i++ {
		if a.InputsAcc[i] != b.InputsAcc[i] {
			return a.InputsAcc[i] < b.InputsAcc[i]
		}
	}
	return len(a.InputsAcc) < len(b.InputsAcc)
}

func bestOutput(o *OperatorProfile) float64 {
	best := math.Inf(-1)
	for _, ss := range o.Samples {
		for _, s := range ss {
			best = math.Max(best, s.OutputAcc)
		}
	}
	return best
}

// accuracyInfeasible explains that no variant combination reaches the threshold.
func (p *Problem) accuracyInfeasible(threshold float64) error {
	best := math.Inf(-1)
	for _, e := range p.Accuracy.EndToEnd {
		best = math.Max(best, e.Accuracy)
	}
	return &InfeasibleError{Stage: p.Sink, Requirement: fmt.Sprintf("end-to-end accuracy ≥ %g", threshold),
		Best: fmt.Sprintf("best achievable accuracy %g", best)}
}

// InfeasibleError says which stage cannot meet which requirement and the best value that is achievable.
type InfeasibleError struct {
	Stage, Requirement, Best string
}

func (e *InfeasibleError) Error() string {
	return fmt.Sprintf("infeasible: stage %s: %s cannot be met (%s)", e.Stage, e.Requirement, e.Best)
}
