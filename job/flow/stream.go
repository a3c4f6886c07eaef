package flow

import (
	"fmt"
	"time"

	"jellybean/plan/workflow"
)

// Streamer is implemented by fan-out steps that can hand on one item's sub-items a few at a time instead
// of returning them all at once: a page of thousands of lines then never sits in memory as thousands of
// crops. Stream calls emit for each sub-item of it in order (every one carrying the family's final size
// in SubN, so a streaming step must know the count before its first emit); an item with no sub-items
// emits its placeholder (it.Child(0, 0)). emit blocks while the rank's queues are full (backpressure),
// and Stream returns emit's error unchanged.
type Streamer interface {
	Stream(it *Item, emit func(*Item) error) error
}

// Streams reports whether the node hands its output on in chunks (Stream): its last step is a fan-out
// that implements Streamer, with no model or fan-in in the node. Such a node holds at most one chunk of
// sub-items, whatever the fan-out's size.
func (n *Node) Streams() bool {
	if !n.built || n.pending != nil || len(n.steps) == 0 {
		return false
	}
	last := n.steps[len(n.steps)-1].s
	if _, ok := last.(Timed); ok {
		return false
	}
	_, ok := last.(Streamer)
	return ok
}

// Stream runs the node on a micro-batch like Process, but hands the sub-items of its streaming fan-out
// to emit in chunks of at most chunk items (each chunk's tensors already reduced to the emitted ones), in
// order, as they are made. Only for nodes that Streams.
func (n *Node) Stream(items []*Item, chunk int, emit func([]*Item) error) (time.Duration, error) {
	if !n.Streams() {
		return 0, fmt.Errorf("node %q does not stream its fan-out", n.Spec.Name)
	}
	chunk = max(chunk, 1)
	last := n.steps[len(n.steps)-1]
	var model time.Duration
	// As in Process, placeholders of empty families skip the steps and leave after the other items.
	var holders []*Item
	split := func(in []*Item) []*Item {
		work := in[:0:0]
		for _, it := range in {
			if it.Placeholder() {
				holders = append(holders, it)
			} else {
				work = append(work, it)
			}
		}
		return work
	}
	work := split(items)
	for _, s := range n.steps[:len(n.steps)-1] {
		if len(work) == 0 {
			break
		}
		out, err := s.s.Process(work)
		if t, ok := s.s.(Timed); ok {
			model += t.TakeModelTime()
		}
		if err != nil {
			return model, fmt.Errorf("node %q %s: %w", n.Spec.Name, s.where, err)
		}
		work = split(out)
	}
	buf := make([]*Item, 0, chunk)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if err := n.keepEmitted(buf); err != nil {
			return err
		}
		err := emit(buf)
		buf = make([]*Item, 0, chunk) // emit owns the chunk now
		return err
	}
	streamer := last.s.(Streamer)
	for _, it := range work {
		err := streamer.Stream(it, func(c *Item) error {
			if c.Placeholder() {
				holders = append(holders, c) // an empty family: sent after the others, as Process does
				return nil
			}
			buf = append(buf, c)
			if len(buf) < chunk {
				return nil
			}
			return flush()
		})
		if err != nil {
			return model, fmt.Errorf("node %q %s: %w", n.Spec.Name, last.where, err)
		}
	}
	for _, it := range holders {
		buf = append(buf, it)
		if len(buf) == chunk {
			if err := flush(); err != nil {
				return model, err
			}
		}
	}
	return model, flush()
}

// keepEmitted reduces each item's tensors to the node's emitted ones (sinks keep all).
func (n *Node) keepEmitted(items []*Item) error {
	if n.Spec.Kind == workflow.KindSink {
		return nil
	}
	for _, it := range items {
		kept := it.Tensors[:0:0]
		for _, name := range n.emit {
			if t, ok := it.Tensor(name); ok {
				kept = append(kept, t)
			} else if !it.Placeholder() {
				return fmt.Errorf("node %q: %s lacks tensor %q named in emit", n.Spec.Name, it.Name(), name)
			}
		}
		it.Tensors = kept
		it.Record = nil
	}
	return nil
}

// Pending reports what a fan-in node holds between micro-batches: incomplete families and their
// sub-items received so far (0, 0 for other nodes).
func (n *Node) Pending() (families, subItems int) {
	if n.pending == nil {
		return 0, 0
	}
	return n.pending.len(), n.pending.held
}
