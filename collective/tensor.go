package collective

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unsafe"
)

// DType is the element type of a Tensor.
type DType uint8

const (
	Float32 DType = iota + 1
	Float16
	Int64
	Int32
	Uint8
	dtypeEnd
)

var dtypeInfo = [...]struct {
	name string
	size int
}{{"invalid", 0}, {"float32", 4}, {"float16", 2}, {"int64", 8}, {"int32", 4}, {"uint8", 1}}

func (d DType) String() string {
	if d > 0 && d < dtypeEnd {
		return dtypeInfo[d].name
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// Size is the size of one element in bytes (0 for an invalid dtype).
func (d DType) Size() int {
	if d > 0 && d < dtypeEnd {
		return dtypeInfo[d].size
	}
	return 0
}

// Tensor is a named n-dimensional array; Data holds the elements little-endian, row-major.
type Tensor struct {
	Name  string
	DType DType
	Shape []int64
	Data  []byte
}

// Batch is one message between stages: the item ids of a micro-batch and its named tensors.
type Batch struct {
	IDs     []int64
	Tensors []Tensor
}

// Batch encoding (little-endian, every section starts 8-byte aligned relative to the buffer start, so a
// decoded buffer that is itself 8-byte aligned is reinterpreted in place):
//
//	"JBT1" | u32 nIDs | u32 nTensors | u32 reserved=0 | nIDs × i64
//	per tensor: u8 dtype | u8 ndim | u16 nameLen | u32 reserved=0 | u64 dataLen | ndim × i64 dims |
//	            name, padded to 8 | data, padded to 8
const (
	batchMagic        = "JBT1"
	batchHeaderSize   = 16
	tensorHeaderSize  = 16
	maxTensorDims     = 16
	maxTensorNameSize = math.MaxUint16
)

// ErrTensor is wrapped by every DecodeBatch and conversion error.
var ErrTensor = errors.New("bad tensor batch")

var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

func pad8(n int) int { return (n + 7) &^ 7 }

// bytesOf views a slice of fixed-size numbers as bytes without copying.
func bytesOf[T int64 | float32 | int32](v []T) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v)*int(unsafe.Sizeof(v[0])))
}

func appendZeros(dst []byte, n int) []byte {
	for range n {
		dst = append(dst, 0)
	}
	return dst
}

// EncodedSize returns the exact number of bytes AppendBatch adds for b.
func EncodedSize(b *Batch) int {
	n := batchHeaderSize + 8*len(b.IDs)
	for i := range b.Tensors {
		t := &b.Tensors[i]
		n += tensorHeaderSize + 8*len(t.Shape) + pad8(len(t.Name)) + pad8(len(t.Data))
	}
	return n
}

// AppendBatch appends the encoding of b to dst. Tensors are copied with one memmove each (no
// per-element work). It panics only on a little-endian violation (big-endian hosts are unsupported) or
// names longer than 65535 bytes / more than 16 dims, which are programming errors.
func AppendBatch(dst []byte, b *Batch) []byte {
	if !littleEndian {
		panic("collective: tensor encoding needs a little-endian host")
	}
	start := len(dst)
	if need := start + EncodedSize(b); cap(dst) < need {
		grown := make([]byte, start, need)
		copy(grown, dst)
		dst = grown
	}
	dst = append(dst, batchMagic...)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(b.IDs)))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(b.Tensors)))
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = append(dst, bytesOf(b.IDs)...)
	for i := range b.Tensors {
		t := &b.Tensors[i]
		if len(t.Name) > maxTensorNameSize || len(t.Shape) > maxTensorDims {
			panic(fmt.Sprintf("collective: tensor %q: name of %d bytes or %d dims exceeds the encoding limits", t.Name, len(t.Name), len(t.Shape)))
		}
		dst = append(dst, byte(t.DType), byte(len(t.Shape)))
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(t.Name)))
		dst = binary.LittleEndian.AppendUint32(dst, 0)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(len(t.Data)))
		dst = append(dst, bytesOf(t.Shape)...)
		dst = append(dst, t.Name...)
		dst = appendZeros(dst, pad8(len(t.Name))-len(t.Name))
		dst = append(dst, t.Data...)
		dst = appendZeros(dst, pad8(len(t.Data))-len(t.Data))
	}
	return dst
}

// DecodeBatch decodes buf, validating every length, dtype and shape against the buffer. It is zero-copy:
// IDs, Shape and Data alias buf (IDs and Shape are copied only if buf is not 8-byte aligned), so buf must
// not be modified or released while the Batch is in use. Tensor names are copied.
func DecodeBatch(buf []byte) (Batch, error) {
	var b Batch
	err := DecodeBatchInto(&b, buf)
	return b, err
}

// DecodeBatchInto is DecodeBatch reusing dst's Tensors slice and, where they are unchanged, its tensor
// names, so that decoding a stream of similar batches allocates nothing. On error dst is reset.
func DecodeBatchInto(dst *Batch, buf []byte) error {
	if err := decodeBatch(dst, buf); err != nil {
		*dst = Batch{Tensors: dst.Tensors[:0]}
		return err
	}
	return nil
}

func decodeBatch(b *Batch, buf []byte) error {
	b.IDs = nil
	if !littleEndian {
		return fmt.Errorf("%w: big-endian hosts are unsupported", ErrTensor)
	}
	if len(buf) < batchHeaderSize {
		return fmt.Errorf("%w: %d bytes is shorter than the %d-byte header", ErrTensor, len(buf), batchHeaderSize)
	}
	if string(buf[:4]) != batchMagic {
		return fmt.Errorf("%w: bad magic %q", ErrTensor, buf[:4])
	}
	nIDs := uint64(binary.LittleEndian.Uint32(buf[4:]))
	nTensors := uint64(binary.LittleEndian.Uint32(buf[8:]))
	if r := binary.LittleEndian.Uint32(buf[12:]); r != 0 {
		return fmt.Errorf("%w: reserved header field is %#x", ErrTensor, r)
	}
	off := uint64(batchHeaderSize)
	size := uint64(len(buf))
	if nIDs*8 > size-off {
		return fmt.Errorf("%w: %d item ids need %d bytes, only %d left", ErrTensor, nIDs, nIDs*8, size-off)
	}
	b.IDs = int64sAt(buf, off, nIDs)
	off += nIDs * 8
	if nTensors > (size-off)/tensorHeaderSize {
		return fmt.Errorf("%w: %d tensors cannot fit in the %d bytes left", ErrTensor, nTensors, size-off)
	}
	names := b.Tensors[:cap(b.Tensors)] // previous names, reused when equal
	if uint64(cap(b.Tensors)) < nTensors {
		b.Tensors = make([]Tensor, nTensors)
	} else {
		b.Tensors = b.Tensors[:nTensors]
	}
	for i := range b.Tensors {
		t := &b.Tensors[i]
		if size-off < tensorHeaderSize {
			return fmt.Errorf("%w: tensor %d: truncated header at byte %d", ErrTensor, i, off)
		}
		h := buf[off : off+tensorHeaderSize]
		t.DType = DType(h[0])
		ndim := uint64(h[1])
		nameLen := uint64(binary.LittleEndian.Uint16(h[2:]))
		if r := binary.LittleEndian.Uint32(h[4:]); r != 0 {
			return fmt.Errorf("%w: tensor %d: reserved field is %#x", ErrTensor, i, r)
		}
		dataLen := binary.LittleEndian.Uint64(h[8:])
		off += tensorHeaderSize
		if t.DType.Size() == 0 {
			return fmt.Errorf("%w: tensor %d: unknown dtype %d", ErrTensor, i, h[0])
		}
		if ndim > maxTensorDims {
			return fmt.Errorf("%w: tensor %d: %d dims, at most %d", ErrTensor, i, ndim, maxTensorDims)
		}
		if ndim*8 > size-off {
			return fmt.Errorf("%w: tensor %d: truncated shape", ErrTensor, i)
		}
		t.Shape = int64sAt(buf, off, ndim)
		off += ndim * 8
		if uint64(pad8(int(nameLen))) > size-off {
			return fmt.Errorf("%w: tensor %d: truncated name", ErrTensor, i)
		}
		if name := buf[off : off+nameLen]; i < len(names) && names[i].Name == string(name) {
			t.Name = names[i].Name // no allocation: the compiler compares without converting
		} else {
			t.Name = string(name)
		}
		off += uint64(pad8(int(nameLen)))
		if dataLen > size-off || pad8u(dataLen) > size-off {
			return fmt.Errorf("%w: tensor %q: %d data bytes, only %d left", ErrTensor, t.Name, dataLen, size-off)
		}
		want, err := elements(t.Shape)
		if err != nil {
			return fmt.Errorf("%w: tensor %q: %v", ErrTensor, t.Name, err)
		}
		if want > dataLen || want*uint64(t.DType.Size()) != dataLen {
			return fmt.Errorf("%w: tensor %q: shape %v of %s needs %d elements, data holds %d bytes",
				ErrTensor, t.Name, t.Shape, t.DType, want, dataLen)
		}
		t.Data = buf[off : off+dataLen : off+dataLen]
		off += pad8u(dataLen)
	}
	if off != size {
		return fmt.Errorf("%w: %d trailing bytes after the last tensor", ErrTensor, size-off)
	}
	return nil
}

func pad8u(n uint64) uint64 { return (n + 7) &^ 7 }

// elements multiplies the dims, rejecting negative dims and overflow.
func elements(shape []int64) (uint64, error) {
	n := uint64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d != 0 && n > math.MaxInt64/uint64(d) {
			return 0, fmt.Errorf("shape %v overflows", shape)
		}
		n *= uint64(d)
	}
	return n, nil
}

// int64sAt returns n int64s at buf[off:], aliasing buf when it is 8-byte aligned there.
func int64sAt(buf []byte, off, n uint64) []int64 {
	if n == 0 {
		return nil
	}
	p := unsafe.Pointer(&buf[off])
	if uintptr(p)%8 == 0 {
		return unsafe.Slice((*int64)(p), n)
	}
	out := make([]int64, n)
	copy(bytesOf(out), buf[off:off+8*n])
	return out
}

// view reinterprets t.Data as []T (aliasing when aligned, else one copy).
func view[T int64 | float32 | int32](t Tensor, want DType) ([]T, error) {
	if t.DType != want {
		return nil, fmt.Errorf("%w: tensor %q is %s, not %s", ErrTensor, t.Name, t.DType, want)
	}
	size := want.Size()
	if len(t.Data)%size != 0 {
		return nil, fmt.Errorf("%w: tensor %q: %d bytes is not a whole number of %s", ErrTensor, t.Name, len(t.Data), want)
	}
	n := len(t.Data) / size
	if n == 0 {
		return []T{}, nil
	}
	p := unsafe.Pointer(&t.Data[0])
	if uintptr(p)%uintptr(size) == 0 {
		return unsafe.Slice((*T)(p), n), nil
	}
	out := make([]T, n)
	copy(bytesOf(out), t.Data)
	return out, nil
}

// Float32s views a float32 tensor's data as []float32 (aliasing Data when aligned).
func Float32s(t Tensor) ([]float32, error) { return view[float32](t, Float32) }

// Int64s views an int64 tensor's data as []int64 (aliasing Data when aligned).
func Int64s(t Tensor) ([]int64, error) { return view[int64](t, Int64) }

// Int32s views an int32 tensor's data as []int32 (aliasing Data when aligned).
func Int32s(t Tensor) ([]int32, error) { return view[int32](t, Int32) }

// FromFloat32s makes a float32 tensor whose Data aliases v (no copy).
func FromFloat32s(name string, shape []int64, v []float32) Tensor {
	return Tensor{Name: name, DType: Float32, Shape: shape, Data: bytesOf(v)}
}

// FromInt64s makes an int64 tensor whose Data aliases v (no copy).
func FromInt64s(name string, shape []int64, v []int64) Tensor {
	return Tensor{Name: name, DType: Int64, Shape: shape, Data: bytesOf(v)}
}

// FromInt32s makes an int32 tensor whose Data aliases v (no copy).
func FromInt32s(name string, shape []int64, v []int32) Tensor {
	return Tensor{Name: name, DType: Int32, Shape: shape, Data: bytesOf(v)}
}
