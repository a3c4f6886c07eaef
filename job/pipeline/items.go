package pipeline

import (
	"fmt"
	"strings"
	"time"

	"jellybean/collective"
)

// Item is one dataset item inside a rank: its id, when a source first read it (for end-to-end latency),
// and its per-item tensors (no batch dimension). Tensor data may alias a received message buffer.
type Item struct {
	ID      int64
	T0      int64 // unix nanoseconds at which a source read the item
	Tensors []collective.Tensor

	// Bookkeeping for the timing file (not sent).
	bytesIn    int           // raw bytes of the message that brought the item, per item
	start, end int64         // unix ns: when this rank's op processed the item's micro-batch
	model      time.Duration // the item's share of the batch's ONNX Runtime time
	batch      int           // micro-batch size
}

// Tensor returns the item's tensor with the given name.
func (it *Item) Tensor(name string) (collective.Tensor, bool) {
	for _, t := range it.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return collective.Tensor{}, false
}

// Text tensors (recognised question, answer) travel as uint8 tensors.
func textTensor(name, s string) collective.Tensor {
	return collective.Tensor{Name: name, DType: collective.Uint8, Shape: []int64{int64(len(s))}, Data: []byte(s)}
}

func (it *Item) text(name string) (string, error) {
	t, ok := it.Tensor(name)
	if !ok || t.DType != collective.Uint8 {
		return "", fmt.Errorf("item %d: no %s text tensor", it.ID, name)
	}
	return string(t.Data), nil
}

// Wire layout of a batch of items (a collective.Batch): tensor "t0" int64 [N], then for each tensor name
// either one stacked tensor [N, shape...] when all items agree on the shape, or (ragged, e.g. audio of
// different lengths) the items' data concatenated as a 1-D tensor plus "<name>:shape" int64 [N, ndim].
const (
	t0Tensor    = "t0"
	shapeSuffix = ":shape"
)

// Pack builds the wire batch of items; every item must have the same tensor names in the same order.
func Pack(items []Item) (collective.Batch, error) {
	n := len(items)
	b := collective.Batch{IDs: make([]int64, n)}
	t0 := make([]int64, n)
	for i, it := range items {
		b.IDs[i], t0[i] = it.ID, it.T0
	}
	b.Tensors = append(b.Tensors, collective.FromInt64s(t0Tensor, []int64{int64(n)}, t0))
	if n == 0 {
		return b, nil
	}
	for k, first := range items[0].Tensors {
		size, same := 0, true
		for _, it := range items {
			if len(it.Tensors) != len(items[0].Tensors) || it.Tensors[k].Name != first.Name || it.Tensors[k].DType != first.DType {
				return b, fmt.Errorf("pack: item %d does not have tensor %q at position %d like item %d", it.ID, first.Name, k, items[0].ID)
			}
			size += len(it.Tensors[k].Data)
			same = same && equalShape(it.Tensors[k].Shape, first.Shape)
		}
		data := make([]byte, 0, size)
		for _, it := range items {
			data = append(data, it.Tensors[k].Data...)
		}
		if same {
			shape := append([]int64{int64(n)}, first.Shape...)
			b.Tensors = append(b.Tensors, collective.Tensor{Name: first.Name, DType: first.DType, Shape: shape, Data: data})
			continue
		}
		ndim := len(first.Shape)
		shapes := make([]int64, 0, n*ndim)
		for _, it := range items {
			if len(it.Tensors[k].Shape) != ndim {
				return b, fmt.Errorf("pack: tensor %q has rank %d in item %d, %d in item %d", first.Name, len(it.Tensors[k].Shape), it.ID, ndim, items[0].ID)
			}
			shapes = append(shapes, it.Tensors[k].Shape...)
		}
		elems := int64(size / max(1, first.DType.Size()))
		b.Tensors = append(b.Tensors,
			collective.Tensor{Name: first.Name, DType: first.DType, Shape: []int64{elems}, Data: data},
			collective.FromInt64s(first.Name+shapeSuffix, []int64{int64(n), int64(ndim)}, shapes))
	}
	return b, nil
}

func equalShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Unpack splits a decoded wire batch into items; tensor data aliases the batch's buffers.
func Unpack(b collective.Batch) ([]Item, error) {
	n := len(b.IDs)
	items := make([]Item, n)
	for i, id := range b.IDs {
		items[i].ID = id
	}
	byName := map[string]collective.Tensor{}
	for _, t := range b.Tensors {
		byName[t.Name] = t
	}
	t0t, ok := byName[t0Tensor]
	if !ok {
		return nil, fmt.Errorf("batch without %q tensor", t0Tensor)
	}
	t0, err := collective.Int64s(t0t)
	if err != nil || len(t0) != n {
		return nil, fmt.Errorf("batch: bad %q tensor (%d values for %d items): %v", t0Tensor, len(t0), n, err)
	}
	for i := range items {
		items[i].T0 = t0[i]
	}
	for _, t := range b.Tensors {
		if t.Name == t0Tensor || strings.HasSuffix(t.Name, shapeSuffix) {
			continue
		}
		if st, ragged := byName[t.Name+shapeSuffix]; ragged {
			if err := splitRagged(items, t, st); err != nil {
				return nil, err
			}
			continue
		}
		if len(t.Shape) == 0 || t.Shape[0] != int64(n) {
			return nil, fmt.Errorf("batch: tensor %q has shape %v, want %d items first", t.Name, t.Shape, n)
		}
		per := 0
		if n > 0 {
			per = len(t.Data) / n
		}
		for i := range items {
			items[i].Tensors = append(items[i].Tensors, collective.Tensor{Name: t.Name, DType: t.DType,
				Shape: t.Shape[1:], Data: t.Data[i*per : (i+1)*per : (i+1)*per]})
		}
	}
	return items, nil
}

func splitRagged(items []Item, t, st collective.Tensor) error {
	shapes, err := collective.Int64s(st)
	if err != nil || len(st.Shape) != 2 || st.Shape[0] != int64(len(items)) {
		return fmt.Errorf("batch: bad shape table for ragged tensor %q: %v", t.Name, err)
	}
	ndim := int(st.Shape[1])
	esize := t.DType.Size()
	off := 0
	for i := range items {
		shape := shapes[i*ndim : (i+1)*ndim : (i+1)*ndim]
		elems := int64(1)
		for _, d := range shape {
			if d < 0 || d > 1<<31 {
				return fmt.Errorf("batch: ragged tensor %q item %d: bad dimension %d", t.Name, items[i].ID, d)
			}
			elems *= d
		}
		end := off + int(elems)*esize
		if elems > int64(len(t.Data)) || end > len(t.Data) {
			return fmt.Errorf("batch: ragged tensor %q: item %d's shape %v runs past the data (%d bytes)", t.Name, items[i].ID, shape, len(t.Data))
		}
		items[i].Tensors = append(items[i].Tensors, collective.Tensor{Name: t.Name, DType: t.DType, Shape: shape, Data: t.Data[off:end:end]})
		off = end
	}
	if off != len(t.Data) {
		return fmt.Errorf("batch: ragged tensor %q has %d bytes left over", t.Name, len(t.Data)-off)
	}
	return nil
}
