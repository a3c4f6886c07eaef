package flow

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"jellybean/collective"
)

// Item is one unit of work inside a rank: a dataset item, or a sub-item made by a fan-out step (one text
// line of a page). Its tensors have no batch dimension; their data may alias a received message buffer.
type Item struct {
	ID int64 // the dataset item's id; sub-items keep their parent's, so routing sends a whole family to one worker
	// Sub holds this sub-item's index at each open fan-out level (outermost first) and SubN the number of
	// siblings at that level. A family with no children travels as one placeholder whose innermost SubN
	// is 0: steps skip it and the fan-in turns it back into a parent with empty lists.
	Sub, SubN []int32
	T0        int64   // unix ns at which a source read the dataset item (end-to-end latency)
	Record    *Record // the manifest line (source ranks only)
	Tensors   []collective.Tensor
}

// Placeholder reports whether the item stands for a parent with no sub-items.
func (it *Item) Placeholder() bool { return len(it.SubN) > 0 && it.SubN[len(it.SubN)-1] == 0 }

// Key identifies an item or sub-item within the job (joins and fan-ins match on it).
func (it *Item) Key() string {
	if len(it.Sub) == 0 {
		return fmt.Sprint(it.ID)
	}
	return fmt.Sprint(it.ID, it.Sub)
}

// Name is how messages refer to the item: "item 7", or "item 7 sub-item [3]".
func (it *Item) Name() string {
	if len(it.Sub) == 0 {
		return fmt.Sprintf("item %d", it.ID)
	}
	return fmt.Sprintf("item %d sub-item %v", it.ID, it.Sub)
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

// Need returns the named tensor or an error naming the item and tensor.
func (it *Item) Need(name string) (collective.Tensor, error) {
	t, ok := it.Tensor(name)
	if !ok {
		return t, fmt.Errorf("%s has no tensor %q", it.Name(), name)
	}
	return t, nil
}

// Set adds the tensor, replacing one of the same name.
func (it *Item) Set(t collective.Tensor) {
	for i := range it.Tensors {
		if it.Tensors[i].Name == t.Name {
			it.Tensors[i] = t
			return
		}
	}
	it.Tensors = append(it.Tensors, t)
}

// Child returns sub-item k of n of the item (for fan-out steps): same id and start time, one more level.
func (it *Item) Child(k, n int) *Item {
	return &Item{ID: it.ID, T0: it.T0, Record: it.Record,
		Sub:  append(append([]int32(nil), it.Sub...), int32(k)),
		SubN: append(append([]int32(nil), it.SubN...), int32(n))}
}

// Record is one line of a dataset manifest: an "id" plus any fields. File fields are relative to Dir.
type Record struct {
	Dir    string
	Fields map[string]json.RawMessage
}

// String returns a string field, or an error naming it.
func (r *Record) String(field string) (string, error) {
	raw, ok := r.Fields[field]
	if !ok {
		return "", fmt.Errorf("manifest line has no field %q", field)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("manifest field %q: want a string: %v", field, err)
	}
	return s, nil
}

// Path returns a file-name field resolved against the manifest's directory.
func (r *Record) Path(field string) (string, error) {
	s, err := r.String(field)
	if err != nil || filepath.IsAbs(s) {
		return s, err
	}
	return filepath.Join(r.Dir, s), nil
}

// Text makes a text tensor (uint8 bytes, rank 1): how strings travel between ranks.
func Text(name, s string) collective.Tensor {
	return collective.Tensor{Name: name, DType: collective.Uint8, Shape: []int64{int64(len(s))}, Data: []byte(s)}
}

// TextOf returns an item's text tensor as a string.
func TextOf(it *Item, name string) (string, error) {
	t, err := it.Need(name)
	if err != nil {
		return "", err
	}
	if t.DType != collective.Uint8 || len(t.Shape) != 1 {
		return "", fmt.Errorf("%s: tensor %q is not text (uint8 rank 1)", it.Name(), name)
	}
	return string(t.Data), nil
}

// Float32s returns a float32 tensor's values; data that is not 4-byte aligned (inside a received buffer)
// is copied.
func Float32s(t collective.Tensor) ([]float32, error) {
	if t.DType != collective.Float32 {
		return nil, fmt.Errorf("tensor %q is %s, want float32", t.Name, t.DType)
	}
	if v, err := collective.Float32s(t); err == nil {
		return v, nil
	}
	return copyAs[float32](t.Data), nil
}

// Int64s returns an int64 tensor's values, copying unaligned data.
func Int64s(t collective.Tensor) ([]int64, error) {
	if t.DType != collective.Int64 {
		return nil, fmt.Errorf("tensor %q is %s, want int64", t.Name, t.DType)
	}
	if v, err := collective.Int64s(t); err == nil {
		return v, nil
	}
	return copyAs[int64](t.Data), nil
}
