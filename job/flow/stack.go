package flow

import (
	"fmt"

	"jellybean/collective"
)

// Stack makes one tensor [n, d1, d2, ...] of n per-item tensors of one dtype and rank. Items of
// different shapes are zero-padded at the end of each dimension to the largest (audio clips of different
// lengths, text lines of different widths, texts of different byte lengths). name names the result.
func Stack(name string, ts []collective.Tensor) (collective.Tensor, error) {
	return stackInto(nil, name, ts)
}

// stackInto is Stack writing into buf when it is large enough (a buffer the caller reuses from one
// micro-batch to the next; the result's Data aliases it), else into a new buffer.
func stackInto(buf []byte, name string, ts []collective.Tensor) (collective.Tensor, error) {
	out := collective.Tensor{Name: name}
	if len(ts) == 0 {
		return out, fmt.Errorf("stacking %q: no tensors", name)
	}
	dt, rank := ts[0].DType, len(ts[0].Shape)
	shape := make([]int64, rank)
	same := true
	for i, t := range ts {
		if t.DType != dt || len(t.Shape) != rank {
			return out, fmt.Errorf("stacking %q: tensor %d is %s rank %d, tensor 0 is %s rank %d", name, i, t.DType, len(t.Shape), dt, rank)
		}
		for d, v := range t.Shape {
			same = same && v == ts[0].Shape[d]
			shape[d] = max(shape[d], v)
		}
	}
	out.DType = dt
	out.Shape = append([]int64{int64(len(ts))}, shape...)
	es := dt.Size()
	per := es
	for _, v := range shape {
		per *= int(v)
	}
	if need := per * len(ts); cap(buf) >= need {
		out.Data = buf[:need]
		if !same {
			clear(out.Data) // padding is zeros
		}
	} else {
		out.Data = make([]byte, need)
	}
	for i, t := range ts {
		dst := out.Data[i*per : (i+1)*per]
		if same {
			if len(t.Data) != per {
				return out, fmt.Errorf("stacking %q: tensor %d has %d bytes for shape %v", name, i, len(t.Data), t.Shape)
			}
			copy(dst, t.Data)
			continue
		}
		if err := padCopy(dst, shape, t.Data, t.Shape, es); err != nil {
			return out, fmt.Errorf("stacking %q: tensor %d: %w", name, i, err)
		}
	}
	return out, nil
}

// padCopy copies src (shape srcShape) into the zeroed dst (shape dstShape, each dimension at least as
// large), row-major.
func padCopy(dst []byte, dstShape []int64, src []byte, srcShape []int64, es int) error {
	n := es
	for _, v := range srcShape {
		n *= int(v)
	}
	if len(src) != n {
		return fmt.Errorf("%d bytes for shape %v", len(src), srcShape)
	}
	if len(srcShape) <= 1 {
		copy(dst, src) // a scalar, or a vector padded at its end
		return nil
	}
	var rec func(d int, doff, soff int)
	dstride := make([]int, len(dstShape))
	sstride := make([]int, len(srcShape))
	ds, ss := es, es
	for d := len(dstShape) - 1; d >= 0; d-- {
		dstride[d], sstride[d] = ds, ss
		ds *= int(dstShape[d])
		ss *= int(srcShape[d])
	}
	rec = func(d int, doff, soff int) {
		if d == len(srcShape)-1 {
			copy(dst[doff:doff+int(srcShape[d])*es], src[soff:soff+int(srcShape[d])*es])
			return
		}
		for k := 0; k < int(srcShape[d]); k++ {
			rec(d+1, doff+k*dstride[d], soff+k*sstride[d])
		}
	}
	rec(0, 0, 0)
	return nil
}

// Unstack splits a tensor [n, ...] into n per-item tensors named name (copies: the source may be a
// runtime's buffer that is about to be released).
func Unstack(name string, t collective.Tensor, n int) ([]collective.Tensor, error) {
	if len(t.Shape) == 0 || t.Shape[0] != int64(n) {
		return nil, fmt.Errorf("%q has shape %v, want %d items first", name, t.Shape, n)
	}
	per := 0
	if n > 0 {
		per = len(t.Data) / n
	}
	out := make([]collective.Tensor, n)
	data := append([]byte(nil), t.Data...)
	// The items share one copy of the shape (read-only, capacity-limited so an append cannot write into it).
	shape := append([]int64(nil), t.Shape[1:]...)
	shape = shape[:len(shape):len(shape)]
	for i := range out {
		out[i] = collective.Tensor{Name: name, DType: t.DType, Shape: shape, Data: data[i*per : (i+1)*per : (i+1)*per]}
	}
	return out, nil
}

// stacker stacks one model input, reusing its buffer from one run to the next: the stacked batch only
// lives until the run returns (ONNX Runtime reads it in place), so a model step needs one buffer per input,
// not one per micro-batch.
type stacker struct{ buf []byte }

func (s *stacker) stack(name string, ts []collective.Tensor) (collective.Tensor, error) {
	t, err := stackInto(s.buf, name, ts)
	if err == nil && cap(t.Data) > cap(s.buf) {
		s.buf = t.Data[:0]
	}
	return t, err
}
