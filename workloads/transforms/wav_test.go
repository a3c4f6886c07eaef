package transforms

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wavBytes builds a WAV file by hand: header fields are parameters so tests can write broken ones.
func wavBytes(encoding, channels, rate, bits int, riffSize, dataSize uint32, extra []byte, pcm []byte) []byte {
	var b []byte
	le32 := func(v uint32) { b = binary.LittleEndian.AppendUint32(b, v) }
	le16 := func(v uint16) { b = binary.LittleEndian.AppendUint16(b, v) }
	b = append(b, "RIFF"...)
	le32(riffSize)
	b = append(b, "WAVEfmt "...)
	le32(16)
	le16(uint16(encoding))
	le16(uint16(channels))
	le32(uint32(rate))
	le32(uint32(rate * channels * bits / 8))
	le16(uint16(channels * bits / 8))
	le16(uint16(bits))
	b = append(b, extra...)
	b = append(b, "data"...)
	le32(dataSize)
	return append(b, pcm...)
}

func pcm16(v ...int16) []byte {
	var b []byte
	for _, s := range v {
		b = binary.LittleEndian.AppendUint16(b, uint16(s))
	}
	return b
}

func TestDecodeWAV(t *testing.T) {
	samples := pcm16(0, 16384, -32768, 32767)
	want := []float32{0, 0.5, -1, 32767.0 / 32768}
	listChunk := append([]byte("LIST"), 3, 0, 0, 0, 'a', 'b', 'c', 0) // odd size + pad byte
	f32 := func(v ...float32) []byte {
		var b []byte
		for _, x := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
		return b
	}
	for _, c := range []struct {
		name string
		data []byte
		want []float32
	}{
		{"exact sizes", wavBytes(1, 1, 16000, 16, 36+8, 8, nil, samples), want},
		{"espeak placeholder 0xFFFFFFFF", wavBytes(1, 1, 16000, 16, 0xFFFFFFFF, 0xFFFFFFFF, nil, samples), want},
		{"placeholder 0", wavBytes(1, 1, 16000, 16, 0, 0, nil, samples), want},
		{"data size larger than file (truncated)", wavBytes(1, 1, 16000, 16, 1000, 1000, nil, samples), want},
		{"torn last frame dropped", wavBytes(1, 1, 16000, 16, 0, 9, nil, append(samples, 7)), want},
		{"odd-sized chunk before data", wavBytes(1, 1, 16000, 16, 0, 8, listChunk, samples), want},
		{"stereo averaged", wavBytes(1, 2, 16000, 16, 0, 8, nil, pcm16(16384, 0, -16384, -16384)), []float32{0.25, -0.5}},
		{"8-bit unsigned", wavBytes(1, 1, 16000, 8, 0, 3, nil, []byte{128, 192, 0}), []float32{0, 0.5, -1}},
		{"float32", wavBytes(3, 1, 16000, 32, 0, 8, nil, f32(0.25, -0.75)), []float32{0.25, -0.75}},
		{"8 kHz upsampled", wavBytes(1, 1, 8000, 16, 0, 4, nil, pcm16(0, 16384)), []float32{0, 0.25, 0.5, 0.5}},
		{"empty data", wavBytes(1, 1, 16000, 16, 0, 0, nil, nil), []float32{}},
	} {
		got, err := DecodeWAV(c.data)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: %d samples %v, want %d %v", c.name, len(got), got, len(c.want), c.want)
			continue
		}
		for i := range got {
			if math.Abs(float64(got[i]-c.want[i])) > 1e-7 {
				t.Errorf("%s: sample %d = %v, want %v", c.name, i, got[i], c.want[i])
			}
		}
	}
}

func TestDecodeWAVErrors(t *testing.T) {
	good := wavBytes(1, 1, 16000, 16, 0, 4, nil, pcm16(1, 2))
	dataFirst := append(append([]byte("RIFF\x00\x00\x00\x00WAVE"), "data\x02\x00\x00\x00"...), 1, 2)
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a RIFF/WAVE"},
		{"not riff", []byte("OggS0000WAVEfmt "), "not a RIFF/WAVE"},
		{"header cut in fmt", good[:30], "truncated"},
		{"no data chunk", good[:36], "no data chunk"},
		{"data before fmt", dataFirst, "before fmt"},
		{"unsupported encoding", wavBytes(2, 1, 16000, 4, 0, 2, nil, []byte{1, 2}), "unsupported encoding"},
		{"zero channels", wavBytes(1, 0, 16000, 16, 0, 2, nil, []byte{1, 2}), "channels"},
	} {
		_, err := DecodeWAV(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestLoadWAVNamesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.wav")
	if err := os.WriteFile(p, []byte("nope"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadWAV(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("error %v does not name %s", err, p)
	}
}

func TestEncodeWAV16RoundTrip(t *testing.T) {
	in := []float32{0, 0.5, -1, 0.999, 1.5, -2}
	out, err := DecodeWAV(EncodeWAV16(in, SampleRate))
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 0.5, -1, float32(math.Round(0.999*32768)) / 32768, 32767.0 / 32768, -1}
	for i := range want {
		if out[i] != want[i] {
			t.Errorf("sample %d: %v, want %v", i, out[i], want[i])
		}
	}
}

func BenchmarkDecodeWAV(b *testing.B) {
	data := EncodeWAV16(make([]float32, 2*SampleRate), SampleRate) // 2 s, a typical question
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeWAV(data); err != nil {
			b.Fatal(err)
		}
	}
}
