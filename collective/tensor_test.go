package collective

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

func sampleBatch() Batch {
	feat := make([]float32, 2*3)
	for i := range feat {
		feat[i] = float32(i) * 1.5
	}
	tok := []int64{101, -7, 1 << 40}
	return Batch{
		IDs: []int64{42, 43},
		Tensors: []Tensor{
			FromFloat32s("features", []int64{2, 3}, feat),
			FromInt64s("tokens", []int64{3}, tok),
			{Name: "text", DType: Uint8, Shape: []int64{5}, Data: []byte("hello")},
			{Name: "", DType: Float16, Shape: []int64{0, 4}, Data: nil},
			{Name: "scalar", DType: Int32, Shape: nil, Data: []byte{1, 0, 0, 0}},
		},
	}
}

func TestBatchRoundTrip(t *testing.T) {
	b := sampleBatch()
	buf := AppendBatch(nil, &b)
	if len(buf) != EncodedSize(&b) || len(buf)%8 != 0 {
		t.Fatalf("encoded %d bytes, EncodedSize %d", len(buf), EncodedSize(&b))
	}
	got, err := DecodeBatch(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.IDs, b.IDs) || len(got.Tensors) != len(b.Tensors) {
		t.Fatalf("ids %v tensors %d", got.IDs, len(got.Tensors))
	}
	for i, want := range b.Tensors {
		g := got.Tensors[i]
		if g.Name != want.Name || g.DType != want.DType || !bytes.Equal(g.Data, want.Data) || len(g.Shape) != len(want.Shape) {
			t.Fatalf("tensor %d: got %+v want %+v", i, g, want)
		}
		for j := range want.Shape {
			if g.Shape[j] != want.Shape[j] {
				t.Fatalf("tensor %d shape %v, want %v", i, g.Shape, want.Shape)
			}
		}
	}
	// Zero copy: data and ids alias the buffer.
	if len(got.Tensors[0].Data) > 0 && &got.Tensors[0].Data[0] != &buf[uintptr(unsafe.Pointer(&got.Tensors[0].Data[0]))-uintptr(unsafe.Pointer(&buf[0]))] {
		t.Fatal("data does not alias the buffer")
	}
	f, err := Float32s(got.Tensors[0])
	if err != nil || f[5] != 7.5 {
		t.Fatalf("Float32s: %v %v", f, err)
	}
	if unsafe.Pointer(&f[0]) != unsafe.Pointer(&got.Tensors[0].Data[0]) {
		t.Fatal("Float32s copied an aligned tensor")
	}
	ints, err := Int64s(got.Tensors[1])
	if err != nil || ints[2] != 1<<40 || ints[1] != -7 {
		t.Fatalf("Int64s: %v %v", ints, err)
	}
	if _, err := Float32s(got.Tensors[1]); err == nil {
		t.Fatal("Float32s accepted an int64 tensor")
	}
	// Appending to a non-empty dst keeps the prefix; an unaligned copy still decodes (copying ids/shape).
	pre := AppendBatch([]byte("xyz"), &b)
	if string(pre[:3]) != "xyz" || !bytes.Equal(pre[3:], buf) {
		t.Fatal("AppendBatch clobbered dst")
	}
	got2, err := DecodeBatch(pre[3:])
	if err != nil || !reflect.DeepEqual(got2.IDs, b.IDs) {
		t.Fatalf("unaligned decode: %v %v", got2.IDs, err)
	}
	f2, err := Float32s(got2.Tensors[0])
	if err != nil || f2[5] != 7.5 {
		t.Fatalf("unaligned Float32s: %v %v", f2, err)
	}
	// DecodeBatchInto reuses the tensor slice and names; an error resets dst.
	var into Batch
	for range 2 {
		if err := DecodeBatchInto(&into, buf); err != nil || len(into.Tensors) != len(b.Tensors) || into.Tensors[1].Name != "tokens" {
			t.Fatalf("DecodeBatchInto: %+v %v", into, err)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { DecodeBatchInto(&into, buf) }); allocs != 0 {
		t.Errorf("DecodeBatchInto allocates %.0f times per batch in steady state", allocs)
	}
	if err := DecodeBatchInto(&into, buf[:20]); err == nil || len(into.Tensors) != 0 || into.IDs != nil {
		t.Fatalf("DecodeBatchInto on bad input: %+v %v", into, err)
	}
	empty := AppendBatch(nil, &Batch{})
	if e, err := DecodeBatch(empty); err != nil || len(e.IDs) != 0 || len(e.Tensors) != 0 {
		t.Fatalf("empty batch: %+v %v", e, err)
	}
}

func TestDecodeBatchRejects(t *testing.T) {
	b := sampleBatch()
	good := AppendBatch(nil, &b)
	mod := func(f func(b []byte) []byte) []byte { c := append([]byte(nil), good...); return f(c) }
	// Offsets into good: header 16, ids 16, first tensor header at 32.
	cases := []struct {
		name string
		buf  []byte
		want string
	}{
		{"empty", nil, "shorter than"},
		{"magic", mod(func(c []byte) []byte { c[0] = 'x'; return c }), "bad magic"},
		{"too many ids", mod(func(c []byte) []byte { c[4] = 0xff; c[5] = 0xff; return c }), "item ids need"},
		{"too many tensors", mod(func(c []byte) []byte { c[9] = 0xff; c[10] = 0xff; return c }), "cannot fit"},
		{"dtype", mod(func(c []byte) []byte { c[32] = 99; return c }), "unknown dtype 99"},
		{"dims", mod(func(c []byte) []byte { c[33] = 40; return c }), "40 dims"},
		{"data length", mod(func(c []byte) []byte { c[40] = 0xff; c[47] = 0x7f; return c }), "data bytes"},
		{"shape mismatch", mod(func(c []byte) []byte { c[48] = 3; return c }), "needs 9 elements"},
		{"negative dim", mod(func(c []byte) []byte { c[55] = 0x80; return c }), "negative dimension"},
		{"trailing", append(append([]byte(nil), good...), make([]byte, 8)...), "trailing"},
		{"truncated", good[:len(good)-8], "bytes"},
		{"reserved", mod(func(c []byte) []byte { c[13] = 1; return c }), "reserved"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeBatch(tc.buf)
			if err == nil || !errors.Is(err, ErrTensor) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrTensor containing %q", err, tc.want)
			}
		})
	}
}

// FuzzDecodeTensor: arbitrary bytes never panic DecodeBatch; whatever decodes re-encodes byte-exactly
// (modulo zero padding, which the decoder does not check) and its sizes are consistent.
func FuzzDecodeTensor(f *testing.F) {
	b := sampleBatch()
	f.Add(AppendBatch(nil, &b))
	f.Add(AppendBatch(nil, &Batch{}))
	f.Add(AppendBatch(nil, &Batch{IDs: []int64{1}}))
	f.Fuzz(func(t *testing.T, buf []byte) {
		got, err := DecodeBatch(buf)
		if err != nil {
			if !errors.Is(err, ErrTensor) {
				t.Fatalf("error %v does not wrap ErrTensor", err)
			}
			return
		}
		again := AppendBatch(nil, &got)
		if len(again) != len(buf) {
			t.Fatalf("re-encoded %d bytes from %d", len(again), len(buf))
		}
		for _, tt := range got.Tensors {
			n, err := elements(tt.Shape)
			if err != nil || n*uint64(tt.DType.Size()) != uint64(len(tt.Data)) {
				t.Fatalf("tensor %q: shape %v dtype %s data %d", tt.Name, tt.Shape, tt.DType, len(tt.Data))
			}
		}
	})
}
