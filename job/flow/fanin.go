package flow

import (
	"fmt"
	"sort"

	"jellybean/collective"
)

// families collects the sub-items of each parent until all have arrived (fan-in).
type families struct {
	byParent map[string]*family
	held     int // sub-items held in incomplete families
}

// MaxFamily is the most sub-items one family may have at a fan-in, which must hold a whole family before
// it can regroup it: a larger one is an error naming the item, never an attempt to buffer it. (A variable
// so that tests can lower it.)
var MaxFamily = 1 << 20

type family struct {
	parent   *Item // id, outer levels and earliest start time
	children []*Item
	want     int
}

func newFamilies() *families { return &families{byParent: map[string]*family{}} }

func (f *families) len() int { return len(f.byParent) }

func (f *families) example() string {
	keys := make([]string, 0, len(f.byParent))
	for k := range f.byParent {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fam := f.byParent[keys[0]]
	return fmt.Sprintf("%s has %d of %d sub-items", fam.parent.Name(), len(fam.children), fam.want)
}

// add takes sub-items and returns the parents whose families are complete, each carrying the listed
// tensors as lists in sub-item order.
func (f *families) add(items []*Item, lists []TensorSpec) ([]*Item, error) {
	var done []*Item
	for _, it := range items {
		d := len(it.Sub)
		if d == 0 {
			return nil, fmt.Errorf("%s is not a sub-item (no fan-out upstream)", it.Name())
		}
		parent := &Item{ID: it.ID, T0: it.T0, Sub: it.Sub[: d-1 : d-1], SubN: it.SubN[: d-1 : d-1]}
		key := parent.Key()
		fam := f.byParent[key]
		if fam == nil {
			if n := int(it.SubN[d-1]); n > MaxFamily {
				return nil, fmt.Errorf("%s belongs to a family of %d sub-items: a fan-in holds a whole family, and at most %d", it.Name(), n, MaxFamily)
			}
			fam = &family{parent: parent, want: int(it.SubN[d-1])}
			f.byParent[key] = fam
		}
		if int(it.SubN[d-1]) != fam.want {
			return nil, fmt.Errorf("%s says its family has %d members, an earlier one said %d", it.Name(), it.SubN[d-1], fam.want)
		}
		if it.T0 != 0 && it.T0 < fam.parent.T0 {
			fam.parent.T0 = it.T0
		}
		if !it.Placeholder() {
			fam.children = append(fam.children, it)
			f.held++
		}
		if len(fam.children) < fam.want {
			continue
		}
		delete(f.byParent, key)
		f.held -= len(fam.children)
		out, err := regroup(fam, lists)
		if err != nil {
			return nil, err
		}
		done = append(done, out)
	}
	return done, nil
}

func regroup(fam *family, lists []TensorSpec) (*Item, error) {
	sort.Slice(fam.children, func(a, b int) bool {
		ca, cb := fam.children[a].Sub, fam.children[b].Sub
		return ca[len(ca)-1] < cb[len(cb)-1]
	})
	p := fam.parent
	for k, c := range fam.children {
		if int(c.Sub[len(c.Sub)-1]) != k {
			return nil, fmt.Errorf("%s: sub-item %d missing or repeated", p.Name(), k)
		}
	}
	for _, spec := range lists {
		if len(fam.children) == 0 {
			// An empty family: an empty list of the tensor's type.
			rank, dt := max(spec.Rank, 0), spec.DType
			if dt == 0 {
				dt = collective.Uint8
			}
			p.Tensors = append(p.Tensors, collective.Tensor{Name: spec.Name, DType: dt, Shape: make([]int64, rank+1)})
			continue
		}
		ts := make([]collective.Tensor, len(fam.children))
		for k, c := range fam.children {
			t, err := c.Need(spec.Name)
			if err != nil {
				return nil, err
			}
			ts[k] = t
		}
		list, err := Stack(spec.Name, ts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Name(), err)
		}
		p.Tensors = append(p.Tensors, list)
	}
	return p, nil
}
