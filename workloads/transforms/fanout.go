package transforms

import (
	"fmt"
	"strings"

	"jellybean/collective"
	"jellybean/job/flow"
)

func init() { flow.Register("split_text", newSplitText) }

// splitText is a fan-out: each item's text becomes one sub-item per piece (words by default, or the
// parts between a separator), in order. An item with no pieces becomes an empty family, which the
// matching fan_in turns back into its parent with empty lists.
type splitText struct {
	In        string `toml:"in"`
	Out       string `toml:"out"`       // text tensor of each sub-item
	Separator string `toml:"separator"` // "" = runs of white space
	Index     string `toml:"index"`     // optional int64 scalar tensor: the piece's position
}

func newSplitText(p flow.Params, env flow.Env) (flow.Step, flow.Signature, error) {
	s := &splitText{}
	if err := flow.DecodeParams(p, s); err != nil {
		return nil, flow.Signature{}, err
	}
	if err := required("in", s.In); err != nil {
		return nil, flow.Signature{}, err
	}
	if err := required("out", s.Out); err != nil {
		return nil, flow.Signature{}, err
	}
	sig := flow.Signature{FanOut: true, Reads: []flow.TensorSpec{{Name: s.In, DType: collective.Uint8, Rank: 1}},
		Writes: []flow.TensorSpec{{Name: s.Out, DType: collective.Uint8, Rank: 1}}}
	if s.Index != "" {
		sig.Writes = append(sig.Writes, flow.TensorSpec{Name: s.Index, DType: collective.Int64, Rank: 0})
	}
	return s, sig, nil
}

func (s *splitText) Process(items []*flow.Item) ([]*flow.Item, error) {
	var out []*flow.Item
	for _, it := range items {
		if err := s.Stream(it, func(c *flow.Item) error { out = append(out, c); return nil }); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Stream hands on the item's pieces one at a time (flow.Streamer), so that a runner never holds more
// than a chunk of them.
func (s *splitText) Stream(it *flow.Item, emit func(*flow.Item) error) error {
	text, err := flow.TextOf(it, s.In)
	if err != nil {
		return err
	}
	var pieces []string
	if s.Separator == "" {
		pieces = strings.Fields(text)
	} else if text != "" {
		pieces = strings.Split(text, s.Separator)
	}
	if len(pieces) == 0 {
		return emit(it.Child(0, 0))
	}
	if len(pieces) > 1<<20 {
		return fmt.Errorf("%s: %d pieces: more than a fan-out allows", it.Name(), len(pieces))
	}
	for k, p := range pieces {
		c := it.Child(k, len(pieces))
		c.Set(flow.Text(s.Out, p))
		if s.Index != "" {
			c.Set(collective.FromInt64s(s.Index, nil, []int64{int64(k)}))
		}
		if err := emit(c); err != nil {
			return err
		}
	}
	return nil
}

func (s *splitText) Close() error { return nil }
