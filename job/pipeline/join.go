package pipeline

import (
	"fmt"
	"jellybean/job/flow"
	"sort"
)

// joiner matches the parts of an item that arrive from the stage's input branches, by item (or
// sub-item) key. An item is ready once every branch delivered it.
type joiner struct {
	branches int
	pending  map[string]*partial
}

type partial struct {
	got  []bool
	item Item
}

func newJoiner(branches int) *joiner {
	return &joiner{branches: branches, pending: map[string]*partial{}}
}

// add records branch's half of an item; it returns the merged item (tensors of all branches, in branch
// order of arrival; T0 the earliest) once complete.
func (j *joiner) add(branch int, it Item) (Item, bool, error) {
	if branch < 0 || branch >= j.branches {
		return Item{}, false, fmt.Errorf("join: branch %d out of range", branch)
	}
	key := it.Key()
	p := j.pending[key]
	if p == nil {
		p = &partial{got: make([]bool, j.branches), item: Item{Item: flow.Item{ID: it.ID, T0: it.T0, Sub: it.Sub, SubN: it.SubN}}}
		j.pending[key] = p
	}
	if p.got[branch] {
		return Item{}, false, fmt.Errorf("join: %s arrived twice from the same input", it.Name())
	}
	p.got[branch] = true
	if it.T0 != 0 && (p.item.T0 == 0 || it.T0 < p.item.T0) {
		p.item.T0 = it.T0
	}
	p.item.Tensors = append(p.item.Tensors, it.Tensors...)
	for _, g := range p.got {
		if !g {
			return Item{}, false, nil
		}
	}
	delete(j.pending, key)
	return p.item, true, nil
}

// incomplete lists (sorted, at most 10) the ids still waiting for a branch, for the end-of-stream check.
func (j *joiner) incomplete() []string {
	ids := make([]string, 0, len(j.pending))
	for id := range j.pending {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if len(ids) > 10 {
		ids = ids[:10]
	}
	return ids
}
