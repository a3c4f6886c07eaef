package optimizer

import "math"

// Assignment places every non-source node on an ordered list of workers; the order is the pour order of
// §5.3 (every worker runs at full capacity except the last, which takes the remainder).
type Assignment struct {
	Models  ModelAssignment
	Workers [][]int // per node; nil for sources
}

// Pour splits demand over workers with capacities caps, in list order: each takes
// demand − acc if acc + cap > demand, else cap (§5.3). Workers after the demand is met get 0.
func Pour(demand float64, caps []float64) []float64 {
	shares := make([]float64, len(caps))
	acc := 0.0
	for i, c := range caps {
		s := c
		if acc+c > demand {
			s = demand - acc
		}
		shares[i] = s
		acc += s
	}
	return shares
}

// Shares returns t(v,w) per node, parallel to a.Workers.
func (p *Problem) Shares(a *Assignment) [][]float64 {
	out := make([][]float64, len(p.Nodes))
	for v, ws := range a.Workers {
		if p.IsSource[v] {
			continue
		}
		caps := make([]float64, len(ws))
		for i, w := range ws {
			caps[i] = p.Cap[v][a.Models[v]][w]
		}
		out[v] = Pour(p.Rate[v], caps)
	}
	return out
}

// ComputeCost sums worker prices within each node, then the node subtotals in the given node order.
func (p *Problem) ComputeCost(a *Assignment, order []int) float64 {
	total := 0.0
	for _, v := range order {
		if p.IsSource[v] {
			continue
		}
		sub := 0.0
		for _, w := range a.Workers[v] {
			sub += p.Workers[w].Price
		}
		total += sub
	}
	return total
}

// Backward says how the evaluator treats a worker pair whose receiver is on a lower tier than its sender.
type Backward int

const (
	BackwardReject Backward = iota // the plan costs +inf (main.py, brute force --nobackward)
	BackwardFree                   // the pair is not charged (brute force without --nobackward)
)

// gbHour converts link cost × KB/s into $/hour, in the original's operation order (no fused multiply-add).
func gbHour(cost, kbps float64) float64 {
	return float64(cost*kbps) * 3600. / 1024. / 1024.
}

// CommunicationCost is the evaluator of §5.4: one running sum over the logical edges in p.Edges order.
// Same-tier pairs and tier-0 source ingress are free; backward pairs follow mode.
func (p *Problem) CommunicationCost(a *Assignment, shares [][]float64, mode Backward) float64 {
	return p.communication(a, shares, mode, nil)
}

// CommTerm is one charged term of the evaluator: edge u→v, sender worker (−1 for a source), receiver.
type CommTerm struct {
	Edge     Edge
	From, To int
	Cost     float64
}

// CommTerms lists the evaluator's charged terms in summation order (for reports and tests).
func (p *Problem) CommTerms(a *Assignment, shares [][]float64) []CommTerm {
	var terms []CommTerm
	p.communication(a, shares, BackwardReject, func(t CommTerm) { terms = append(terms, t) })
	return terms
}

func (p *Problem) communication(a *Assignment, shares [][]float64, mode Backward, record func(CommTerm)) float64 {
	comm := 0.0
	for _, e := range p.Edges {
		u, v := e.From, e.To
		msg, _ := p.MessageSize(u, v, a.Models[u], a.Models[v])
		if p.IsSource[u] {
			bw := float64(p.Rate[v] * msg)
			for i, w := range a.Workers[v] {
				rx := float64(shares[v][i]*bw) / p.Rate[v]
				if p.Workers[w].Tier > 0 {
					term := gbHour(p.SrcLink[u][w], rx)
					comm += term
					if record != nil {
						record(CommTerm{e, -1, w, term})
					}
				}
			}
			continue
		}
		tu, tv := sum(shares[u]), sum(shares[v])
		bw := float64(tv * msg)
		for i, wa := range a.Workers[u] {
			tx := float64(shares[u][i]*bw) / tu
			for j, wb := range a.Workers[v] {
				rx := float64(shares[v][j]*bw) / tv
				link := float64(tx * (rx / bw))
				ta, tb := p.Workers[wa].Tier, p.Workers[wb].Tier
				switch {
				case tb > ta:
					term := gbHour(p.Link[wa][wb], link)
					comm += term
					if record != nil {
						record(CommTerm{e, wa, wb, term})
					}
				case tb < ta && mode == BackwardReject:
					return math.Inf(1)
				}
			}
		}
	}
	return comm
}

func sum(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s
}

// Evaluate returns compute and communication cost of a, nodes summed in order.
func (p *Problem) Evaluate(a *Assignment, order []int, mode Backward) (compute, comm float64) {
	return p.ComputeCost(a, order), p.CommunicationCost(a, p.Shares(a), mode)
}
