package flow

import (
	"fmt"
	"time"
)

// RunSequential runs a compiled graph (every node built) on a batch of dataset items in one goroutine,
// node after node in topological order: each node gets its inputs' outputs joined by item key. It is the
// plain single-process loop the pipelined runner is measured against, and a reference for tests. It
// returns the sink's items and the time spent in model runtimes.
func (g *Graph) RunSequential(items []*Item) ([]*Item, time.Duration, error) {
	order, err := g.Workflow.TopoOrder()
	if err != nil {
		return nil, 0, err
	}
	var model time.Duration
	for _, i := range order {
		n := g.Nodes[i]
		var in []*Item
		if len(n.Spec.Inputs) == 0 {
			for _, it := range items {
				c := *it
				c.Tensors = nil
				in = append(in, &c)
			}
		} else {
			in, err = joinByKey(g, n)
			if err != nil {
				return nil, model, err
			}
		}
		res, d, err := n.Process(in)
		model += d
		if err != nil {
			return nil, model, err
		}
		if err := n.Finish(); err != nil {
			return nil, model, err
		}
		n.lastOut = res
	}
	return g.Nodes[g.Workflow.Sink()].lastOut, model, nil
}

// joinByKey merges the outputs of a node's inputs item by item (an input's tensors are shared, not
// copied: each input's items are consumed once per run).
func joinByKey(g *Graph, n *Node) ([]*Item, error) {
	var merged []*Item
	byKey := map[string]*Item{}
	for k, name := range n.Spec.Inputs {
		up := g.Nodes[g.Workflow.Index(name)]
		for _, it := range up.lastOut {
			key := it.Key()
			m := byKey[key]
			if m == nil {
				if k > 0 {
					return nil, fmt.Errorf("node %q: %s comes from %q but not from %q", n.Spec.Name, it.Name(), name, n.Spec.Inputs[0])
				}
				m = &Item{ID: it.ID, T0: it.T0, Sub: it.Sub, SubN: it.SubN}
				byKey[key] = m
				merged = append(merged, m)
			}
			m.Tensors = append(m.Tensors, it.Tensors...)
		}
	}
	return merged, nil
}
