package transforms

import (
	"encoding/json"
	"fmt"
	"os"

	"jellybean/collective"
	"jellybean/job/flow"
)

func init() {
	flow.Register("tensor_file", newTensorFile)
	flow.Register("tensor_field", newTensorField)
}

var dtypes = map[string]collective.DType{"float32": collective.Float32, "int64": collective.Int64,
	"int32": collective.Int32, "uint8": collective.Uint8}

// tensorSpec is what both tensor steps take: the manifest field, the tensor written, its element type and
// shape (one dimension may be -1, taken from the data).
type tensorSpec struct {
	Field string  `toml:"field"`
	Out   string  `toml:"out"`
	DType string  `toml:"dtype"`
	Shape []int64 `toml:"shape"`

	dt collective.DType
}

// decode reads and checks the parameters and returns the step's signature.
func (s *tensorSpec) decode(p flow.Params, into any) (flow.Signature, error) {
	if err := flow.DecodeParams(p, into); err != nil {
		return flow.Signature{}, err
	}
	for _, r := range [][2]string{{"field", s.Field}, {"out", s.Out}} {
		if err := required(r[0], r[1]); err != nil {
			return flow.Signature{}, err
		}
	}
	var err error
	if s.dt, err = tensorParams(s.DType, s.Shape); err != nil {
		return flow.Signature{}, err
	}
	return flow.Signature{Fields: []string{s.Field}, Writes: []flow.TensorSpec{{Name: s.Out, DType: s.dt, Rank: len(s.Shape)}}}, nil
}

// tensorFile loads a raw tensor file (little-endian elements, row-major, no header) named by a manifest
// field.
type tensorFile struct{ tensorSpec }

func tensorParams(dtype string, shape []int64) (collective.DType, error) {
	dt, ok := dtypes[dtype]
	if !ok {
		return 0, fmt.Errorf("dtype = %q: want float32, int64, int32 or uint8", dtype)
	}
	free := 0
	for _, d := range shape {
		switch {
		case d == -1:
			free++
		case d < 0:
			return 0, fmt.Errorf("shape = %v: dimensions are >= 0, or -1 for the one taken from the data", shape)
		}
	}
	if free > 1 {
		return 0, fmt.Errorf("shape = %v: at most one -1", shape)
	}
	return dt, nil
}

func newTensorFile(p flow.Params, env flow.Env) (flow.Step, flow.Signature, error) {
	s := &tensorFile{}
	sig, err := s.decode(p, &s.tensorSpec)
	return s, sig, err
}

// shapeFor fills a -1 dimension from the number of elements and checks the total.
func shapeFor(shape []int64, elems int64) ([]int64, error) {
	out := append([]int64(nil), shape...)
	known, free := int64(1), -1
	for i, d := range out {
		if d == -1 {
			free = i
		} else {
			known *= d
		}
	}
	if free >= 0 && known > 0 && elems%known == 0 {
		out[free] = elems / known
		known = elems
	}
	if known != elems {
		return nil, fmt.Errorf("%d elements do not fill shape %v", elems, shape)
	}
	return out, nil
}

func (s *tensorFile) Process(items []*flow.Item) ([]*flow.Item, error) {
	for _, it := range items {
		path, err := it.Record.Path(s.Field)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.Name(), err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.Name(), err)
		}
		if len(data)%s.dt.Size() != 0 {
			return nil, fmt.Errorf("%s: %s: %d bytes is not a whole number of %s elements", it.Name(), path, len(data), s.dt)
		}
		shape, err := shapeFor(s.Shape, int64(len(data)/s.dt.Size()))
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", it.Name(), path, err)
		}
		it.Set(collective.Tensor{Name: s.Out, DType: s.dt, Shape: shape, Data: data})
	}
	return items, nil
}

func (s *tensorFile) Close() error { return nil }

// tensorField makes a tensor of a manifest field holding a JSON array of numbers (nested lists for more
// than one dimension are flattened row-major).
type tensorField struct{ tensorSpec }

func newTensorField(p flow.Params, env flow.Env) (flow.Step, flow.Signature, error) {
	s := &tensorField{}
	sig, err := s.decode(p, &s.tensorSpec)
	return s, sig, err
}

func flatten(v any, out *[]float64) error {
	switch x := v.(type) {
	case float64:
		*out = append(*out, x)
	case []any:
		for _, e := range x {
			if err := flatten(e, out); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%v is not a number", v)
	}
	return nil
}

func (s *tensorField) Process(items []*flow.Item) ([]*flow.Item, error) {
	for _, it := range items {
		raw, ok := it.Record.Fields[s.Field]
		if !ok {
			return nil, fmt.Errorf("%s: manifest line has no field %q", it.Name(), s.Field)
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("%s: field %q: %v", it.Name(), s.Field, err)
		}
		var nums []float64
		if err := flatten(v, &nums); err != nil {
			return nil, fmt.Errorf("%s: field %q: %w", it.Name(), s.Field, err)
		}
		shape, err := shapeFor(s.Shape, int64(len(nums)))
		if err != nil {
			return nil, fmt.Errorf("%s: field %q: %w", it.Name(), s.Field, err)
		}
		var t collective.Tensor
		switch s.dt {
		case collective.Float32:
			f := make([]float32, len(nums))
			for i, x := range nums {
				f[i] = float32(x)
			}
			t = collective.FromFloat32s(s.Out, shape, f)
		case collective.Int64:
			f := make([]int64, len(nums))
			for i, x := range nums {
				f[i] = int64(x)
			}
			t = collective.FromInt64s(s.Out, shape, f)
		case collective.Int32:
			f := make([]int32, len(nums))
			for i, x := range nums {
				f[i] = int32(x)
			}
			t = collective.FromInt32s(s.Out, shape, f)
		case collective.Uint8:
			f := make([]byte, len(nums))
			for i, x := range nums {
				f[i] = byte(x)
			}
			t = collective.Tensor{Name: s.Out, DType: collective.Uint8, Shape: shape, Data: f}
		}
		it.Set(t)
	}
	return items, nil
}

func (s *tensorField) Close() error { return nil }
