package pipeline

import (
	"encoding/binary"
	"fmt"
	"jellybean/job/flow"
	"strings"
	"time"

	"jellybean/collective"
)

// Item is one item (or sub-item) inside a rank: the workflow's item (id, fan-out position, start time,
// tensors; see flow.Item) plus this rank's bookkeeping for the timing file.
type Item struct {
	flow.Item

	// Bookkeeping for the timing file (not sent).
	bytesIn    int           // raw bytes of the message that brought the item, per item
	start, end int64         // unix ns: when this rank's op processed the item's micro-batch
	model      time.Duration // the item's share of the batch's ONNX Runtime time
	batch      int           // micro-batch size
}

// Wire layout of a batch of items (a collective.Batch): tensor "t0" int64 [N]; for sub-items "sub" and
// "subn" int32 [N, depth] (their fan-out positions; all items of a message have one depth); then for each tensor name
// either one stacked tensor [N, shape...] when all items agree on the shape, or (ragged, e.g. audio of
// different lengths) the items' data concatenated as a 1-D tensor plus "<name>:shape" int64 [N, ndim].
const (
	t0Tensor    = "t0"
	subTensor   = "sub"
	subNTensor  = "subn"
	shapeSuffix = ":shape"
)

// Pack builds the wire batch of items; every item must have the same tensor names in the same order.
func Pack(items []Item) (collective.Batch, error) {
	var p packer
	return p.pack(items)
}

// packer packs batches into a scratch buffer it keeps from one batch to the next: a batch's data only
// has to live until it is encoded into a message (collective.AppendBatch copies it), so a sending rank
// needs one such buffer, not one per message.
type packer struct {
	scratch []byte
	used    int // bytes of scratch the batch being packed took
}

// take returns n bytes of scratch after those already taken, replacing scratch by a larger buffer when it
// is too small (slices of the old one, taken earlier for the same batch, stay valid).
func (p *packer) take(n int) []byte {
	if cap(p.scratch)-p.used < n {
		p.scratch = make([]byte, max(2*cap(p.scratch), n))
		p.used = 0
	}
	b := p.scratch[p.used : p.used+n : p.used+n]
	p.used += n
	return b
}

func (p *packer) pack(items []Item) (collective.Batch, error) {
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
	p.used = 0 // the previous batch has been encoded: its scratch is free
	if depth := len(items[0].Sub); depth > 0 {
		sub, subn := make([]int32, 0, n*depth), make([]int32, 0, n*depth)
		for _, it := range items {
			if len(it.Sub) != depth || len(it.SubN) != depth {
				return b, fmt.Errorf("pack: %s is at fan-out depth %d, %s at %d", it.Name(), len(it.Sub), items[0].Name(), depth)
			}
			sub, subn = append(sub, it.Sub...), append(subn, it.SubN...)
		}
		shape := []int64{int64(n), int64(depth)}
		b.Tensors = append(b.Tensors, collective.FromInt32s(subTensor, shape, sub), collective.FromInt32s(subNTensor, shape, subn))
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
		var data []byte
		if n == 1 {
			data = items[0].Tensors[k].Data // nothing to concatenate
		} else {
			data = p.take(size)[:0]
			for _, it := range items {
				data = append(data, it.Tensors[k].Data...)
			}
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
	// One backing array for every item's tensor list (at most one tensor per batch tensor each).
	lists := make([]collective.Tensor, n*len(b.Tensors))
	for i, id := range b.IDs {
		items[i].ID = id
		items[i].Tensors = lists[i*len(b.Tensors) : i*len(b.Tensors) : (i+1)*len(b.Tensors)]
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
	if err := unpackSub(items, byName); err != nil {
		return nil, err
	}
	for _, t := range b.Tensors {
		if t.Name == t0Tensor || t.Name == subTensor || t.Name == subNTensor || strings.HasSuffix(t.Name, shapeSuffix) {
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

// unpackSub restores the items' fan-out positions.
func unpackSub(items []Item, byName map[string]collective.Tensor) error {
	st, ok := byName[subTensor]
	nt, ok2 := byName[subNTensor]
	if !ok && !ok2 {
		return nil
	}
	n := int64(len(items))
	if !ok || !ok2 || len(st.Shape) != 2 || st.Shape[0] != n || !equalShape(st.Shape, nt.Shape) {
		return fmt.Errorf("batch: bad %q/%q tensors for %d items", subTensor, subNTensor, n)
	}
	depth := int(st.Shape[1])
	sub, err := int32s(st)
	if err != nil {
		return err
	}
	subn, err := int32s(nt)
	if err != nil {
		return err
	}
	for i := range items {
		items[i].Sub = sub[i*depth : (i+1)*depth : (i+1)*depth]
		items[i].SubN = subn[i*depth : (i+1)*depth : (i+1)*depth]
		for k := range depth {
			if items[i].SubN[k] < 0 || items[i].Sub[k] < 0 || (items[i].SubN[k] > 0 && items[i].Sub[k] >= items[i].SubN[k]) {
				return fmt.Errorf("batch: item %d: bad fan-out position %v of %v", items[i].ID, items[i].Sub, items[i].SubN)
			}
		}
	}
	return nil
}

func int32s(t collective.Tensor) ([]int32, error) {
	if v, err := collective.Int32s(t); err == nil {
		return append([]int32(nil), v...), nil
	}
	if t.DType != collective.Int32 || len(t.Data)%4 != 0 {
		return nil, fmt.Errorf("batch: tensor %q is not int32", t.Name)
	}
	v := make([]int32, len(t.Data)/4)
	for i := range v {
		v[i] = int32(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return v, nil
}
