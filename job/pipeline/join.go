package pipeline

import (
	"fmt"
	"sort"
)

// joiner matches the halves of an item that arrive from the stage's input branches (for vqa: image
// features and the recognised question), by item id. An item is ready once every branch delivered it.
type joiner struct {
	branches int
	pending  map[int64]*partial
}

type partial struct {
	got  []bool
	item Item
}

func newJoiner(branches int) *joiner {
	return &joiner{branches: branches, pending: map[int64]*partial{}}
}

// add records branch's half of an item; it returns the merged item (tensors of all branches, in branch
// order of arrival; T0 the earliest) once complete.
func (j *joiner) add(branch int, it Item) (Item, bool, error) {
	if branch < 0 || branch >= j.branches {
		return Item{}, false, fmt.Errorf("join: branch %d out of range", branch)
	}
	p := j.pending[it.ID]
	if p == nil {
		p = &partial{got: make([]bool, j.branches), item: Item{ID: it.ID, T0: it.T0}}
		j.pending[it.ID] = p
	}
	if p.got[branch] {
		return Item{}, false, fmt.Errorf("join: item %d arrived twice from the same input", it.ID)
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
	delete(j.pending, it.ID)
	return p.item, true, nil
}

// incomplete lists (sorted, at most 10) the ids still waiting for a branch, for the end-of-stream check.
func (j *joiner) incomplete() []int64 {
	ids := make([]int64, 0, len(j.pending))
	for id := range j.pending {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(a, b int) bool { return ids[a] < ids[b] })
	if len(ids) > 10 {
		ids = ids[:10]
	}
	return ids
}
