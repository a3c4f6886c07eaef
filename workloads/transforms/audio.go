package transforms

import (
	"fmt"

	"jellybean/collective"
	"jellybean/job/flow"
)

func init() { flow.Register("audio_file", newAudioFile) }

// audioFile loads the WAV file named by a manifest field as mono float32 samples [T] in [-1, 1] at
// 16 kHz (other rates are resampled, channels averaged).
type audioFile struct {
	Field      string `toml:"field"`
	Out        string `toml:"out"`
	SampleRate int    `toml:"sample_rate"` // must be 16000 (the decoder's rate); stated so the file documents it
}

func newAudioFile(p flow.Params, env flow.Env) (flow.Step, flow.Signature, error) {
	s := &audioFile{SampleRate: SampleRate}
	if err := flow.DecodeParams(p, s); err != nil {
		return nil, flow.Signature{}, err
	}
	if err := required("field", s.Field); err != nil {
		return nil, flow.Signature{}, err
	}
	if err := required("out", s.Out); err != nil {
		return nil, flow.Signature{}, err
	}
	if s.SampleRate != SampleRate {
		return nil, flow.Signature{}, fmt.Errorf("sample_rate = %d: this step decodes to %d Hz", s.SampleRate, SampleRate)
	}
	return s, flow.Signature{Fields: []string{s.Field}, Writes: []flow.TensorSpec{{Name: s.Out, DType: collective.Float32, Rank: 1}}}, nil
}

func (s *audioFile) Process(items []*flow.Item) ([]*flow.Item, error) {
	for _, it := range items {
		path, err := it.Record.Path(s.Field)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.Name(), err)
		}
		v, err := LoadWAV(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.Name(), err)
		}
		it.Set(collective.FromFloat32s(s.Out, []int64{int64(len(v))}, v))
	}
	return items, nil
}

func (s *audioFile) Close() error { return nil }
