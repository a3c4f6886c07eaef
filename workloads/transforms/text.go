package transforms

import (
	"fmt"
	"strings"

	"jellybean/collective"
	"jellybean/job/flow"
)

func init() {
	flow.Register("text_field", newTextField)
	flow.Register("tokenize", newTokenize)
}

// textField copies a manifest string field into a text tensor (a source of text items).
type textField struct {
	Field string `toml:"field"`
	Out   string `toml:"out"`
}

func newTextField(p flow.Params, env flow.Env) (flow.Step, flow.Signature, error) {
	s := &textField{}
	if err := flow.DecodeParams(p, s); err != nil {
		return nil, flow.Signature{}, err
	}
	if err := required("field", s.Field); err != nil {
		return nil, flow.Signature{}, err
	}
	if err := required("out", s.Out); err != nil {
		return nil, flow.Signature{}, err
	}
	return s, flow.Signature{Fields: []string{s.Field}, Writes: []flow.TensorSpec{{Name: s.Out, DType: collective.Uint8, Rank: 1}}}, nil
}

func (s *textField) Process(items []*flow.Item) ([]*flow.Item, error) {
	for _, it := range items {
		v, err := it.Record.String(s.Field)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.Name(), err)
		}
		it.Set(flow.Text(s.Out, v))
	}
	return items, nil
}

func (s *textField) Close() error { return nil }

// tokenize maps a text to a fixed number of int64 token ids: the text is lower-cased and cut into words
// of letters, digits and apostrophes; each word gets its index in the vocabulary, unknown words the
// index of Unknown, and the tail is filled with the index of Pad. Words past Length are dropped.
type tokenize struct {
	In       string `toml:"in"`
	Out      string `toml:"out"`
	Vocab    string `toml:"vocab"`     // vocabulary file
	VocabKey string `toml:"vocab_key"` // JSON member holding the list ("" = text file, one word per line)
	Length   int    `toml:"length"`
	Pad      string `toml:"pad"`
	Unknown  string `toml:"unknown"`

	ids          map[string]int64
	padID, unkID int64
}

func newTokenize(p flow.Params, env flow.Env) (flow.Step, flow.Signature, error) {
	s := &tokenize{Pad: "<pad>", Unknown: "<unk>"}
	if err := flow.DecodeParams(p, s); err != nil {
		return nil, flow.Signature{}, err
	}
	for _, r := range [][2]string{{"in", s.In}, {"out", s.Out}, {"vocab", s.Vocab}} {
		if err := required(r[0], r[1]); err != nil {
			return nil, flow.Signature{}, err
		}
	}
	if s.Length <= 0 || s.Length > 1<<16 {
		return nil, flow.Signature{}, fmt.Errorf("length = %d: must be in 1..65536", s.Length)
	}
	words, err := loadList(env.Path(s.Vocab), s.VocabKey)
	if err != nil {
		return nil, flow.Signature{}, fmt.Errorf("vocab: %w", err)
	}
	s.ids = make(map[string]int64, len(words))
	for i, w := range words {
		if _, dup := s.ids[w]; !dup {
			s.ids[w] = int64(i)
		}
	}
	var ok bool
	if s.padID, ok = s.ids[s.Pad]; !ok {
		return nil, flow.Signature{}, fmt.Errorf("pad = %q: not in vocab %s", s.Pad, s.Vocab)
	}
	if s.unkID, ok = s.ids[s.Unknown]; !ok {
		return nil, flow.Signature{}, fmt.Errorf("unknown = %q: not in vocab %s", s.Unknown, s.Vocab)
	}
	sig := flow.Signature{Reads: []flow.TensorSpec{{Name: s.In, DType: collective.Uint8, Rank: 1}},
		Writes: []flow.TensorSpec{{Name: s.Out, DType: collective.Int64, Rank: 1}}}
	return s, sig, nil
}

func (s *tokenize) Process(items []*flow.Item) ([]*flow.Item, error) {
	for _, it := range items {
		text, err := flow.TextOf(it, s.In)
		if err != nil {
			return nil, err
		}
		it.Set(collective.FromInt64s(s.Out, []int64{int64(s.Length)}, s.tokens(text)))
	}
	return items, nil
}

func (s *tokenize) tokens(text string) []int64 {
	out := make([]int64, s.Length)
	for i := range out {
		out[i] = s.padID
	}
	for i, w := range strings.Fields(Words(text)) {
		if i == s.Length {
			break
		}
		if id, ok := s.ids[w]; ok {
			out[i] = id
		} else {
			out[i] = s.unkID
		}
	}
	return out
}

func (s *tokenize) Close() error { return nil }

// Words lower-cases s, keeps letters, digits and apostrophes, and collapses runs of anything else into
// single spaces, so that "Red." and " red" compare equal.
func Words(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '\'':
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		default:
			space = true
		}
	}
	return b.String()
}
