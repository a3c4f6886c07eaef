package flow

import (
	"bytes"
	"encoding/json"
	"fmt"

	"jellybean/collective"
)

// ResultLine renders one line of results.jsonl: {"id": ..., <fields in order>, "variants": {...}}.
// Texts (uint8 rank 1) become strings, lists of texts (uint8 rank 2, zero-padded) lists of strings,
// numeric tensors numbers or nested lists.
func ResultLine(it *Item, fields []string, variants map[string]string) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"id":%d`, it.ID)
	for _, f := range fields {
		t, err := it.Need(f)
		if err != nil {
			return nil, err
		}
		v, err := renderTensor(t)
		if err != nil {
			return nil, fmt.Errorf("%s: field %q: %w", it.Name(), f, err)
		}
		name, _ := json.Marshal(f)
		val, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		b.WriteByte(',')
		b.Write(name)
		b.WriteByte(':')
		b.Write(val)
	}
	vs, err := json.Marshal(variants)
	if err != nil {
		return nil, err
	}
	b.WriteString(`,"variants":`)
	b.Write(vs)
	b.WriteByte('}')
	return b.Bytes(), nil
}

func renderTensor(t collective.Tensor) (any, error) {
	if t.DType == collective.Uint8 && len(t.Shape) == 1 {
		return string(t.Data), nil
	}
	if t.DType == collective.Uint8 && len(t.Shape) == 2 {
		n, w := int(t.Shape[0]), int(t.Shape[1])
		out := make([]string, n)
		for i := range out {
			out[i] = string(bytes.TrimRight(t.Data[i*w:(i+1)*w], "\x00"))
		}
		return out, nil
	}
	var flat []any
	switch t.DType {
	case collective.Float32:
		v, err := Float32s(t)
		if err != nil {
			return nil, err
		}
		for _, x := range v {
			flat = append(flat, x)
		}
	case collective.Int64:
		v, err := Int64s(t)
		if err != nil {
			return nil, err
		}
		for _, x := range v {
			flat = append(flat, x)
		}
	case collective.Uint8:
		for _, x := range t.Data {
			flat = append(flat, int(x))
		}
	default:
		return nil, fmt.Errorf("%s tensors cannot be written to results", t.DType)
	}
	if len(t.Shape) == 0 {
		if len(flat) != 1 {
			return nil, fmt.Errorf("scalar with %d values", len(flat))
		}
		return flat[0], nil
	}
	return nest(flat, t.Shape), nil
}

func nest(flat []any, shape []int64) any {
	if len(shape) == 1 {
		return flat
	}
	n := int(shape[0])
	out := make([]any, n)
	per := 0
	if n > 0 {
		per = len(flat) / n
	}
	for i := range out {
		out[i] = nest(flat[i*per:(i+1)*per], shape[1:])
	}
	return out
}
