package transforms

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
)

// SampleRate is the rate LoadWAV and DecodeWAV return (16 kHz, the usual rate of speech models).
const SampleRate = 16000

// LoadWAV reads a RIFF/WAVE file and returns mono SampleRate samples in [-1, 1]: integer PCM is divided by
// 2^(bits-1) (16-bit: s/32768, as the recipe does), channels are averaged, and other rates are linearly
// resampled. Chunk sizes written as placeholders by streaming writers (espeak-ng --stdout, sox to a pipe:
// 0 or 0xFFFFFFFF) are clamped to the bytes actually present.
func LoadWAV(path string) ([]float32, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := DecodeWAV(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// WAVFormat is the fmt chunk of a WAV file.
type WAVFormat struct {
	Encoding, Channels, Bits int
	Rate                     int
}

// DecodeWAV is LoadWAV on bytes in memory.
func DecodeWAV(data []byte) ([]float32, error) {
	f, pcm, err := ParseWAV(data)
	if err != nil {
		return nil, err
	}
	samples, err := decodePCM(f, pcm)
	if err != nil {
		return nil, err
	}
	if f.Rate != SampleRate {
		samples = Resample(samples, f.Rate, SampleRate)
	}
	return samples, nil
}

// ParseWAV splits a WAV file into its format and the raw bytes of its data chunk.
func ParseWAV(data []byte) (WAVFormat, []byte, error) {
	var f WAVFormat
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		return f, nil, fmt.Errorf("not a RIFF/WAVE file (%d bytes)", len(data))
	}
	haveFmt := false
	for off := 12; off+8 <= len(data); {
		id := string(data[off : off+4])
		size := int64(binary.LittleEndian.Uint32(data[off+4 : off+8]))
		body := off + 8
		rest := int64(len(data) - body)
		if id == "data" {
			if !haveFmt {
				return f, nil, fmt.Errorf("data chunk at byte %d before fmt chunk", off)
			}
			if size == 0 || size > rest { // streaming placeholder or truncated file
				size = rest
			}
			frame := int64(f.Channels * f.Bits / 8)
			size -= size % frame // drop a torn last frame of a truncated file
			return f, data[body : int64(body)+size], nil
		}
		if size > rest {
			return f, nil, fmt.Errorf("chunk %q at byte %d claims %d bytes, only %d left (truncated file?)", id, off, size, rest)
		}
		if id == "fmt " {
			if size < 16 {
				return f, nil, fmt.Errorf("fmt chunk too short (%d bytes)", size)
			}
			b := data[body:]
			f = WAVFormat{
				Encoding: int(binary.LittleEndian.Uint16(b[0:2])),
				Channels: int(binary.LittleEndian.Uint16(b[2:4])),
				Rate:     int(binary.LittleEndian.Uint32(b[4:8])),
				Bits:     int(binary.LittleEndian.Uint16(b[14:16])),
			}
			if f.Encoding == 0xFFFE && size >= 26 { // WAVE_FORMAT_EXTENSIBLE: sub-format's first 2 bytes
				f.Encoding = int(binary.LittleEndian.Uint16(b[24:26]))
			}
			if f.Channels < 1 || f.Rate < 1 {
				return f, nil, fmt.Errorf("fmt chunk: %d channels at %d Hz", f.Channels, f.Rate)
			}
			switch {
			case f.Encoding == 1 && (f.Bits == 8 || f.Bits == 16 || f.Bits == 24 || f.Bits == 32):
			case f.Encoding == 3 && f.Bits == 32:
			default:
				return f, nil, fmt.Errorf("unsupported encoding %d with %d bits (want PCM 8/16/24/32 or float32)", f.Encoding, f.Bits)
			}
			haveFmt = true
		}
		off = body + int(size) + int(size&1) // chunks are padded to even sizes
	}
	return f, nil, fmt.Errorf("no data chunk")
}

func decodePCM(f WAVFormat, pcm []byte) ([]float32, error) {
	width := f.Bits / 8
	frames := len(pcm) / (width * f.Channels)
	out := make([]float32, frames)
	if f.Encoding == 1 && width == 2 && f.Channels == 1 { // the dataset's format: a tight loop
		for i := range out {
			out[i] = float32(int16(binary.LittleEndian.Uint16(pcm[2*i:]))) / 32768
		}
		return out, nil
	}
	for i := 0; i < frames; i++ {
		var sum float32
		for c := 0; c < f.Channels; c++ {
			b := pcm[(i*f.Channels+c)*width:]
			var v float32
			switch {
			case f.Encoding == 3:
				v = math.Float32frombits(binary.LittleEndian.Uint32(b))
			case width == 1:
				v = (float32(b[0]) - 128) / 128
			case width == 2:
				v = float32(int16(binary.LittleEndian.Uint16(b))) / 32768
			case width == 3:
				v = float32(int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24)>>8) / 8388608
			default:
				v = float32(int32(binary.LittleEndian.Uint32(b))) / 2147483648
			}
			sum += v
		}
		out[i] = sum / float32(f.Channels)
	}
	return out, nil
}

// Resample converts samples from rate `from` to rate `to` by linear interpolation.
func Resample(in []float32, from, to int) []float32 {
	if from == to || len(in) == 0 {
		return in
	}
	n := int(int64(len(in)) * int64(to) / int64(from))
	out := make([]float32, n)
	step := float64(from) / float64(to)
	for i := range out {
		x := float64(i) * step
		j := int(x)
		if j+1 >= len(in) {
			out[i] = in[len(in)-1]
			continue
		}
		frac := float32(x - float64(j))
		out[i] = in[j]*(1-frac) + in[j+1]*frac
	}
	return out
}

// EncodeWAV16 writes mono 16-bit PCM at rate, clipping samples to [-1, 1).
func EncodeWAV16(samples []float32, rate int) []byte {
	n := len(samples) * 2
	b := make([]byte, 44+n)
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+n))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], uint32(rate))
	binary.LittleEndian.PutUint32(b[28:], uint32(rate*2))
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(n))
	for i, s := range samples {
		v := math.Round(float64(s) * 32768)
		v = math.Max(-32768, math.Min(32767, v))
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(int16(v)))
	}
	return b
}
