package profile

import (
	"fmt"
	"slices"

	"jellybean/job/flow"
)

// How many sub-items a fan-out makes of an item (text lines on a page) varies from item to item far
// more than what an op costs per item, so the rate ratios (ratios.csv) need more items than the timings:
// the 16-page OCR run averaged 130 line pieces per page where the first 3 pages, profiled, gave 115, and
// the plan's predicted maximum came out 12 % too high. Counting is cheap if only the nodes that change
// the number of items run, so countReceived runs those alone on the extra items.

// countReceived is what every node of the workflow but the sink receives when the items ids go through
// it with the variants, counting only: the nodes that change the number of items in tr (a trace of some
// of the items with the same variants: fan-outs, filters) run for real, with every node upstream of them;
// every other node hands on the items it receives unchanged, a fan-in as one parent per family. A
// filter that kept every traced item is taken to keep them all.
func countReceived(in Items, ids []int64, variants map[string]string, env flow.Env, tr *Trace) (map[int][]*flow.Item, error) {
	w := in.Workflow
	run := map[int]bool{}
	var mark func(i int)
	mark = func(i int) {
		if run[i] {
			return
		}
		run[i] = true
		for _, u := range w.Nodes[i].Inputs {
			mark(w.Index(u))
		}
	}
	for _, i := range tr.Order {
		if len(w.Nodes[i].FanIn) == 0 && !sameKeys(tr.Received[i], tr.Emitted[i]) {
			mark(i)
		}
	}
	received := map[int][]*flow.Item{}
	if len(run) == 0 { // no node changes the number of items: every node receives one per item
		for _, i := range tr.Order {
			received[i] = bare(ids)
		}
		return received, nil
	}
	var build []int
	for _, i := range tr.Order {
		if run[i] {
			build = append(build, i)
		}
	}
	counted := in
	counted.IDs = ids
	g, err := compileFor(counted, variants, env, build)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	emitted := map[int][]*flow.Item{}
	for _, i := range tr.Order {
		n := &w.Nodes[i]
		var items []*flow.Item
		if len(n.Inputs) == 0 {
			items = sourceItems(in.Manifest, ids)
		} else {
			var ups [][]*flow.Item
			for _, name := range n.Inputs {
				ups = append(ups, emitted[w.Index(name)])
			}
			if items, err = Join(ups); err != nil {
				return nil, fmt.Errorf("%s: node %q: %w", w.Path, n.Name, err)
			}
		}
		received[i] = items
		switch {
		case run[i]:
			out, err := processAll(g.Nodes[i], items, env.BatchSize)
			if err != nil {
				return nil, err
			}
			emitted[i] = out
		case len(n.FanIn) > 0:
			for _, fam := range families(items) {
				p := fam[0]
				emitted[i] = append(emitted[i], &flow.Item{ID: p.ID, Sub: p.Sub[:max(len(p.Sub)-1, 0)], SubN: p.SubN[:max(len(p.SubN)-1, 0)]})
			}
		default:
			emitted[i] = items
		}
	}
	return received, nil
}

// sameKeys reports whether a node emitted exactly the items it received (by key, in any order).
func sameKeys(received, emitted []*flow.Item) bool {
	if len(received) != len(emitted) {
		return false
	}
	keys := make([]string, len(received))
	for k, it := range received {
		keys[k] = it.Key()
	}
	slices.Sort(keys)
	for _, it := range emitted {
		if _, found := slices.BinarySearch(keys, it.Key()); !found {
			return false
		}
	}
	return true
}

func bare(ids []int64) []*flow.Item {
	items := make([]*flow.Item, len(ids))
	for k, id := range ids {
		items[k] = &flow.Item{ID: id}
	}
	return items
}
