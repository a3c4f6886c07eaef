package pipeline

import (
	"time"

	"jellybean/job/flow"
)

// stageOp turns a micro-batch of items into the items sent downstream, and reports the time spent inside
// a model runtime (the rest of the stage's time is the runner's overhead).
type stageOp interface {
	process(items []Item) ([]Item, time.Duration, error)
	finish() error // the input stream ended: anything still held is an error
	close()
}

// streamOp is a stageOp that can hand its results on in chunks as it makes them (a streaming fan-out).
type streamOp interface {
	streams() bool
	stream(items []Item, chunk int, emit func([]Item) error) (time.Duration, error)
}

// pendingOp is a stageOp that holds items between micro-batches (a fan-in's incomplete families).
type pendingOp interface {
	pending() (families, subItems int)
}

// nodeOp runs a compiled workflow node.
type nodeOp struct{ n *flow.Node }

func (o nodeOp) process(items []Item) ([]Item, time.Duration, error) {
	ptrs := make([]*flow.Item, len(items))
	bytesIn := 0
	for i := range items {
		ptrs[i] = &items[i].Item
		bytesIn += items[i].bytesIn
	}
	out, d, err := o.n.Process(ptrs)
	if err != nil {
		return nil, d, err
	}
	res := make([]Item, len(out))
	per := bytesIn / max(1, len(out))
	for i, it := range out {
		res[i] = Item{Item: *it, bytesIn: per}
	}
	return res, d, nil
}

func (o nodeOp) finish() error { return o.n.Finish() }
func (o nodeOp) close()        { o.n.Close() }

func (o nodeOp) streams() bool { return o.n.Streams() }

func (o nodeOp) stream(items []Item, chunk int, emit func([]Item) error) (time.Duration, error) {
	ptrs := make([]*flow.Item, len(items))
	for i := range items {
		ptrs[i] = &items[i].Item
	}
	// Each sub-item is charged its share of the bytes that brought its parent.
	bytesIn := make(map[int64]int, len(items))
	for _, it := range items {
		bytesIn[it.ID] = it.bytesIn
	}
	return o.n.Stream(ptrs, chunk, func(out []*flow.Item) error {
		res := make([]Item, len(out))
		for i, it := range out {
			res[i] = Item{Item: *it}
			if k := len(it.SubN); k > 0 && it.SubN[k-1] > 0 {
				res[i].bytesIn = bytesIn[it.ID] / int(it.SubN[k-1])
			}
		}
		return emit(res)
	})
}

func (o nodeOp) pending() (int, int) { return o.n.Pending() }
