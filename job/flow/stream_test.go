package flow

import (
	"encoding/json"
	"fmt"
	"testing"

	"jellybean/collective"
)

// streamChars is a streaming fan-out: one sub-item per character, handed on one at a time.
type streamChars struct{}

func (streamChars) Process(items []*Item) ([]*Item, error) {
	var out []*Item
	for _, it := range items {
		if err := (streamChars{}).Stream(it, func(c *Item) error { out = append(out, c); return nil }); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (streamChars) Stream(it *Item, emit func(*Item) error) error {
	s, err := TextOf(it, "text")
	if err != nil {
		return err
	}
	if s == "" {
		return emit(it.Child(0, 0))
	}
	for k := range len(s) {
		c := it.Child(k, len(s))
		c.Set(Text("char", s[k:k+1]))
		c.Set(collective.FromFloat32s("code", nil, []float32{float32(s[k])}))
		if err := emit(c); err != nil {
			return err
		}
	}
	return nil
}

func (streamChars) Close() error { return nil }

func init() {
	Register("test_stream_chars", func(p Params, env Env) (Step, Signature, error) {
		return streamChars{}, Signature{FanOut: true, Reads: []TensorSpec{{Name: "text", DType: collective.Uint8, Rank: 1}},
			Writes: []TensorSpec{{Name: "char", DType: collective.Uint8, Rank: 1}, {Name: "code", DType: collective.Float32, Rank: 0}}}, nil
	})
}

const streamChain = `
name = "stream"
[[node]]
name = "Read"
kind = "source"
step = [{ op = "test_text", field = "s" }]
[[node]]
name = "Split"
inputs = ["Read"]
step = [{ op = "test_stream_chars" }]
emit = ["char"]
[[node]]
name = "Out"
kind = "sink"
inputs = ["Split"]
fan_in = ["char"]
fields = ["char"]
`

// A streaming fan-out hands on, in chunks of at most the asked size, exactly what Process returns:
// the same sub-items in the same order, emitted tensors only, placeholders last.
func TestStreamMatchesProcess(t *testing.T) {
	g, err := compileText(t, streamChain, 0, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !g.Nodes[1].Streams() || g.Nodes[0].Streams() || g.Nodes[2].Streams() {
		t.Fatalf("Streams: %v %v %v, want only the fan-out", g.Nodes[0].Streams(), g.Nodes[1].Streams(), g.Nodes[2].Streams())
	}
	read := func() []*Item {
		var items []*Item
		for id, s := range []string{"abcde", "", "xy"} {
			raw, _ := json.Marshal(s)
			items = append(items, &Item{ID: int64(id), Record: &Record{Fields: map[string]json.RawMessage{"s": raw}}})
		}
		out, _, err := g.Nodes[0].Process(items)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	describe := func(items []*Item) string {
		s := ""
		for _, it := range items {
			s += fmt.Sprint(it.ID, it.Sub, it.SubN, len(it.Tensors))
			if c, ok := it.Tensor("char"); ok {
				s += string(c.Data)
			}
			s += ";"
		}
		return s
	}
	want, _, err := g.Nodes[1].Process(read())
	if err != nil {
		t.Fatal(err)
	}
	var got []*Item
	_, err = g.Nodes[1].Stream(read(), 2, func(chunk []*Item) error {
		if len(chunk) == 0 || len(chunk) > 2 {
			t.Errorf("chunk of %d items", len(chunk))
		}
		got = append(got, chunk...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if describe(got) != describe(want) || len(got) != 8 {
		t.Fatalf("streamed %s\nprocessed %s", describe(got), describe(want))
	}
	// emit's error stops the stream and comes back.
	stop := fmt.Errorf("queue closed")
	if _, err := g.Nodes[1].Stream(read(), 2, func([]*Item) error { return stop }); err == nil {
		t.Fatal("the emitter's error was lost")
	}
}
