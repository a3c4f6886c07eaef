package profile

import (
	"jellybean/job/flow"
	"jellybean/job/profile/capacity"
)

// RatiosFile is the profile's table of rate ratios between nodes (Ratio), one row per edge and trace:
// from,to,variants,ratio with variants as "Node=variant;..." in node order.
const RatiosFile = "ratios.csv"

// appendRatios adds the rate ratio of every edge between processing nodes of the trace (sources
// included, the sink left out), counted on received (what each node received: the trace's own, or
// countReceived's over more items), unless an equal row is already there.
func appendRatios(rows []Ratio, tr *Trace, received map[int][]*flow.Item, variants map[string]string) []Ratio {
	w := tr.Graph.Workflow
	units := func(i int) int {
		if len(w.Nodes[i].FanIn) > 0 {
			return len(families(received[i]))
		}
		return len(received[i])
	}
	sink := w.Sink()
	for _, v := range tr.Order {
		if v == sink {
			continue
		}
		for _, in := range w.Nodes[v].Inputs {
			u := w.Index(in)
			nu, nv := units(u), units(v)
			if nu == 0 || nv == 0 {
				continue
			}
			r := Ratio{From: in, To: w.Nodes[v].Name, Variants: variants, Ratio: float64(nv) / float64(nu)}
			dup := false
			for _, o := range rows {
				if o.From == r.From && o.To == r.To && capacity.VariantsKey(o.Variants) == capacity.VariantsKey(r.Variants) {
					dup = true
				}
			}
			if !dup {
				rows = append(rows, r)
			}
		}
	}
	return rows
}
