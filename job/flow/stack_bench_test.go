package flow

import (
	"testing"

	"jellybean/collective"
)

// benchItems makes n items with one float32 tensor each: the same shape ([3, 64, 64]: an image) or, when
// ragged, lengths that differ item to item (audio clips of about a second).
func benchItems(n int, ragged bool) []*Item {
	items := make([]*Item, n)
	for i := range items {
		shape := []int64{3, 64, 64}
		if ragged {
			shape = []int64{int64(14000 + 500*i)}
		}
		elems := 1
		for _, d := range shape {
			elems *= int(d)
		}
		items[i] = &Item{ID: int64(i), Tensors: []collective.Tensor{
			collective.FromFloat32s("in", shape, make([]float32, elems))}}
	}
	return items
}

// benchModelIO is the Go side of one model run on a micro-batch: stack the items' input, then split an
// output of [n, 512] back into the items (what modelStep does around ONNX Runtime).
func benchModelIO(b *testing.B, ragged bool) {
	items := benchItems(8, ragged)
	out := collective.FromFloat32s("out", []int64{8, 512}, make([]float32, 8*512))
	var st stacker
	b.ReportAllocs()
	for b.Loop() {
		ts := make([]collective.Tensor, len(items))
		for i, it := range items {
			ts[i], _ = it.Tensor("in")
		}
		if _, err := st.stack("in", ts); err != nil {
			b.Fatal(err)
		}
		if err := setOutput(items, len(items), "out", out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkModelIOSameShape(b *testing.B) { benchModelIO(b, false) }
func BenchmarkModelIORagged(b *testing.B)    { benchModelIO(b, true) }
