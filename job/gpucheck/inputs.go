// Package gpucheck is the GPU proof in one command: it times every model variant of a workflow on the
// CPU and (where a GPU exists) on CUDA, on real inputs (the first dataset items run through the nodes
// upstream of each model), compares their outputs, and runs a small job with one CUDA rank among CPU
// ranks through the real launcher. On a CPU-only host it proves the other half: the CPU column
// runs and a CUDA placement is refused at rank start-up with the rank and host named.
package gpucheck

import (
	"encoding/binary"
	"fmt"
	"math"

	"jellybean/collective"
	"jellybean/job/flow"
)

// Input is one named model input of a batch: its data (one of F32, I64, I32, U8) and its shape.
type Input struct {
	Name  string
	Shape []int64
	F32   []float32
	I64   []int64
	I32   []int32
	U8    []uint8
}

// InputOf copies a batch tensor (made by flow.Stack) into an input.
func InputOf(name string, t collective.Tensor) (Input, error) {
	in := Input{Name: name, Shape: t.Shape}
	var err error
	switch t.DType {
	case collective.Float32:
		in.F32, err = flow.Float32s(t)
		in.F32 = append([]float32(nil), in.F32...)
	case collective.Int64:
		in.I64, err = flow.Int64s(t)
		in.I64 = append([]int64(nil), in.I64...)
	case collective.Int32:
		in.I32 = make([]int32, len(t.Data)/4)
		for i := range in.I32 {
			in.I32[i] = int32(binary.LittleEndian.Uint32(t.Data[4*i:]))
		}
	case collective.Uint8:
		in.U8 = append([]uint8(nil), t.Data...)
	default:
		err = fmt.Errorf("%s is not supported as a model input", t.DType)
	}
	if err != nil {
		return in, fmt.Errorf("input %s: %w", name, err)
	}
	return in, nil
}

// MaxAbsDiff is the largest |a[i]-b[i]|; +Inf when the lengths differ or a value is NaN.
func MaxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		x := math.Abs(float64(a[i]) - float64(b[i]))
		if math.IsNaN(x) {
			return math.Inf(1)
		}
		d = max(d, x)
	}
	return d
}

// MaxAbs is the largest |a[i]|: the scale the output tolerance is relative to.
func MaxAbs(a []float32) float64 {
	m := 0.0
	for _, v := range a {
		m = max(m, math.Abs(float64(v)))
	}
	return m
}

// RelTolerance is the accepted GPU-vs-CPU difference relative to max(1, largest |CPU output|): float32
// kernels differ in summation order, and ONNX Runtime's CUDA provider may use TF32 convolutions (10-bit
// mantissa, ~1e-3 relative per product).
const RelTolerance = 1e-2

// WithinTolerance reports whether diff is acceptable for outputs of the given scale.
func WithinTolerance(diff, scale float64) bool { return diff <= RelTolerance*math.Max(1, scale) }

// Median of durations in milliseconds; 0 for none.
func Median(ms []float64) float64 {
	if len(ms) == 0 {
		return 0
	}
	s := append([]float64(nil), ms...)
	for i := 1; i < len(s); i++ { // insertion sort: a handful of values
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ParseBatches parses a comma-separated list of batch sizes, e.g. "1,8".
func ParseBatches(s string) ([]int, error) {
	var out []int
	for _, f := range splitComma(s) {
		var b int
		if _, err := fmt.Sscanf(f, "%d", &b); err != nil || b < 1 || fmt.Sprint(b) != f {
			return nil, fmt.Errorf("--batches %q: %q is not a batch size >= 1", s, f)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--batches %q: no batch sizes", s)
	}
	return out, nil
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if f := s[start:i]; f != "" {
				out = append(out, f)
			}
			start = i + 1
		}
	}
	return out
}
