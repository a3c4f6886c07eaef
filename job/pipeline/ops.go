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
