package optimizer

import (
	"fmt"
	"sort"
)

// Check validates cross-file consistency that the solvers rely on.
func (p *Problem) Check() error {
	if p.NodeIndex(p.Sink) < 0 {
		return fmt.Errorf("sink %q is not a node", p.Sink)
	}
	for v := range p.Nodes {
		if p.IsSource[v] {
			continue
		}
		if len(p.Variants[v]) == 0 {
			return fmt.Errorf("node %s has no execution profile", p.Nodes[v])
		}
		for _, u := range p.Inputs[v] {
			for _, vr := range p.Variants[v] {
				for _, ur := range p.Variants[u] {
					if _, ok := p.MessageSize(u, v, ur, vr); !ok {
						return fmt.Errorf("message_sizes: no size for edge %s→%s (variants %s, %s)", p.Nodes[u], p.Nodes[v], ur, vr)
					}
				}
			}
		}
	}
	for _, e := range p.Accuracy.EndToEnd {
		for j, op := range p.Accuracy.Operators {
			v := p.NodeIndex(op)
			if _, ok := p.Cap[v][e.Variants[j]]; !ok {
				return fmt.Errorf("accuracy profile: variant %q of %s has no execution profile", e.Variants[j], op)
			}
		}
	}
	return nil
}

// PartitionTiers assigns tiers when no partition is given: workers joined by zero-cost links in both
// directions form one tier (connected components), and tiers are ordered by mean price, cheapest first
// (the original orders its communities the same way). It sets Worker.Tier and returns the tier count.
func PartitionTiers(p *Problem) int {
	n := len(p.Workers)
	comp := make([]int, n)
	for i := range comp {
		comp[i] = -1
	}
	var groups [][]int
	for s := range n {
		if comp[s] >= 0 {
			continue
		}
		id := len(groups)
		stack := []int{s}
		comp[s] = id
		var members []int
		for len(stack) > 0 {
			a := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			members = append(members, a)
			for b := range n {
				if comp[b] < 0 && p.Link[a][b] == 0 && p.Link[b][a] == 0 {
					comp[b] = id
					stack = append(stack, b)
				}
			}
		}
		groups = append(groups, members)
	}
	mean := func(g []int) float64 {
		s := 0.0
		for _, w := range g {
			s += p.Workers[w].Price
		}
		return s / float64(len(g))
	}
	sort.SliceStable(groups, func(i, j int) bool { return mean(groups[i]) < mean(groups[j]) })
	for t, g := range groups {
		for _, w := range g {
			p.Workers[w].Tier = t
		}
	}
	return len(groups)
}
