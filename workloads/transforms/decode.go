package transforms

import (
	"fmt"
	"strings"

	"jellybean/collective"
	"jellybean/job/flow"
)

func init() {
	flow.Register("ctc_greedy", newCTCGreedy)
	flow.Register("argmax_label", newArgmaxLabel)
}

// ctcGreedy decodes per-frame class scores [T, C] by best path: the arg-max class per frame, repeats
// merged, blanks dropped, classes mapped to characters. Whitespace is trimmed and collapsed.
type ctcGreedy struct {
	In         string   `toml:"in"`          // scores [T, C] (float32)
	Lengths    string   `toml:"lengths"`     // optional int64 scalar: frames to decode (the rest is padding)
	Out        string   `toml:"out"`         // text
	Charset    string   `toml:"charset"`     // file of characters
	CharsetKey string   `toml:"charset_key"` // JSON member ("" = text file, one character per line)
	Blank      int      `toml:"blank"`       // class index of the CTC blank
	FirstClass int      `toml:"first_class"` // class index of the charset's first entry
	Extra      []string `toml:"extra"`       // entries after the charset's (e.g. [" "])

	chars map[int]string
}

func newCTCGreedy(p flow.Params, env flow.Env) (flow.Step, flow.Signature, error) {
	s := &ctcGreedy{}
	if err := flow.DecodeParams(p, s); err != nil {
		return nil, flow.Signature{}, err
	}
	for _, r := range [][2]string{{"in", s.In}, {"out", s.Out}, {"charset", s.Charset}} {
		if err := required(r[0], r[1]); err != nil {
			return nil, flow.Signature{}, err
		}
	}
	if s.Blank < 0 || s.FirstClass < 0 {
		return nil, flow.Signature{}, fmt.Errorf("blank = %d, first_class = %d: must be >= 0", s.Blank, s.FirstClass)
	}
	list, err := loadList(env.Path(s.Charset), s.CharsetKey)
	if err != nil {
		return nil, flow.Signature{}, fmt.Errorf("charset: %w", err)
	}
	s.chars = map[int]string{}
	for i, c := range append(list, s.Extra...) {
		s.chars[s.FirstClass+i] = c
	}
	delete(s.chars, s.Blank)
	sig := flow.Signature{Reads: []flow.TensorSpec{{Name: s.In, DType: collective.Float32, Rank: 2}},
		Writes: []flow.TensorSpec{{Name: s.Out, DType: collective.Uint8, Rank: 1}}}
	if s.Lengths != "" {
		sig.Reads = append(sig.Reads, flow.TensorSpec{Name: s.Lengths, DType: collective.Int64, Rank: 0})
	}
	return s, sig, nil
}

func (s *ctcGreedy) Process(items []*flow.Item) ([]*flow.Item, error) {
	for _, it := range items {
		t, err := it.Need(s.In)
		if err != nil {
			return nil, err
		}
		scores, err := flow.Float32s(t)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.Name(), err)
		}
		frames, classes := int(t.Shape[0]), int(t.Shape[1])
		if s.Lengths != "" {
			lt, err := it.Need(s.Lengths)
			if err != nil {
				return nil, err
			}
			n, err := flow.Int64s(lt)
			if err != nil || len(n) != 1 {
				return nil, fmt.Errorf("%s: lengths tensor %q: want one int64", it.Name(), s.Lengths)
			}
			frames = min(frames, int(max(n[0], 0)))
		}
		it.Set(flow.Text(s.Out, s.decode(scores, frames, classes)))
	}
	return items, nil
}

func (s *ctcGreedy) decode(scores []float32, frames, classes int) string {
	var b strings.Builder
	prev := -1
	for t := 0; t < frames; t++ {
		row := scores[t*classes : (t+1)*classes]
		best := 0
		for c := 1; c < classes; c++ {
			if row[c] > row[best] {
				best = c
			}
		}
		if best != prev && best != s.Blank {
			b.WriteString(s.chars[best])
		}
		prev = best
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func (s *ctcGreedy) Close() error { return nil }

// argmaxLabel turns class scores [C] into the label of the highest score (the first on ties); a class
// beyond the label list gives "".
type argmaxLabel struct {
	In        string `toml:"in"`
	Out       string `toml:"out"`
	Labels    string `toml:"labels"`
	LabelsKey string `toml:"labels_key"`

	labels []string
}

func newArgmaxLabel(p flow.Params, env flow.Env) (flow.Step, flow.Signature, error) {
	s := &argmaxLabel{}
	if err := flow.DecodeParams(p, s); err != nil {
		return nil, flow.Signature{}, err
	}
	for _, r := range [][2]string{{"in", s.In}, {"out", s.Out}, {"labels", s.Labels}} {
		if err := required(r[0], r[1]); err != nil {
			return nil, flow.Signature{}, err
		}
	}
	var err error
	if s.labels, err = loadList(env.Path(s.Labels), s.LabelsKey); err != nil {
		return nil, flow.Signature{}, fmt.Errorf("labels: %w", err)
	}
	sig := flow.Signature{Reads: []flow.TensorSpec{{Name: s.In, DType: collective.Float32, Rank: 1}},
		Writes: []flow.TensorSpec{{Name: s.Out, DType: collective.Uint8, Rank: 1}}}
	return s, sig, nil
}

func (s *argmaxLabel) Process(items []*flow.Item) ([]*flow.Item, error) {
	for _, it := range items {
		t, err := it.Need(s.In)
		if err != nil {
			return nil, err
		}
		scores, err := flow.Float32s(t)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.Name(), err)
		}
		label := ""
		if len(scores) > 0 {
			best := 0
			for i, v := range scores {
				if v > scores[best] {
					best = i
				}
			}
			if best < len(s.labels) {
				label = s.labels[best]
			}
		}
		it.Set(flow.Text(s.Out, label))
	}
	return items, nil
}

func (s *argmaxLabel) Close() error { return nil }
