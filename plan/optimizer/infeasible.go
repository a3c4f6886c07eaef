package optimizer

import "fmt"

// explainInfeasible says why no plan exists for any of the combos: the first stage whose required rate
// exceeds the total capacity of the workers able to run it, with the best achievable capacity; else
// that the stages cannot all be served at once by disjoint workers (or without backward traffic).
func (p *Problem) explainInfeasible(combos []Combo) error {
	if len(combos) == 0 {
		return p.accuracyInfeasible(p.Threshold)
	}
	var first error
	for _, c := range combos {
		for v := range p.Nodes {
			if p.IsSource[v] {
				continue
			}
			total := 0.0
			for _, x := range p.Cap[v][c.Models[v]] {
				total += x
			}
			if total < p.Rate[v] {
				err := &InfeasibleError{Stage: p.Nodes[v],
					Requirement: fmt.Sprintf("rate %g req/s with variant %s", p.Rate[v], c.Models[v]),
					Best:        fmt.Sprintf("all workers able to run it sustain %g req/s", total)}
				if first == nil {
					first = err
				}
				break
			}
		}
	}
	if first != nil {
		return first
	}
	return &InfeasibleError{Stage: p.Sink, Requirement: "every stage's rate at once on disjoint workers without backward traffic",
		Best: fmt.Sprintf("each stage alone fits, but no joint placement was found for %d variant combination(s)", len(combos))}
}
