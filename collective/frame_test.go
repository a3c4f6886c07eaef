package collective

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func TestParseHeader(t *testing.T) {
	valid := func() []byte { return rawFrame(frameData, 0, 7, 0, []byte("payload"))[:headerSize] }
	mod := func(f func(b []byte)) []byte { b := valid(); f(b); return reseal(b) }
	cases := []struct {
		name string
		b    []byte
		max  int
		want string // "" = valid
	}{
		{"valid", valid(), 100, ""},
		{"short", valid()[:20], 100, "truncated header"},
		{"magic", mod(func(b []byte) { b[0] = 'X' }), 100, "bad magic"},
		{"version", mod(func(b []byte) { b[4] = 2 }), 100, "protocol version 2"},
		{"type zero", mod(func(b []byte) { b[5] = 0 }), 100, "unknown frame type 0"},
		{"type high", mod(func(b []byte) { b[5] = 200 }), 100, "unknown frame type 200"},
		{"flags", mod(func(b []byte) { b[6] = 0x80 }), 100, "unknown flags"},
		{"reserved", mod(func(b []byte) { b[11] = 1 }), 100, "reserved field"},
		{"wire over limit", valid(), 6, "exceeds the 6-byte frame limit"},
		{"raw over limit", mod(func(b []byte) { b[7] = 0; b[6] = 1; binary.LittleEndian.PutUint32(b[16:], 101) }), 100, "exceeds the 100-byte frame limit"},
		{"raw != wire", mod(func(b []byte) { binary.LittleEndian.PutUint32(b[16:], 8) }), 100, "raw length 8 != wire length 7"},
		{"empty compressed", mod(func(b []byte) { b[6] = 1; binary.LittleEndian.PutUint32(b[20:], 0) }), 100, "compressed frame with empty payload"},
		{"at limit", valid(), 7, ""},
		{"header crc", func() []byte { b := valid(); b[12] ^= 1; return b }(), 100, "header CRC32C mismatch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, err := parseHeader(tc.b, tc.max)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if h.typ != frameData || h.tag != 7 || h.wireLen != 7 || h.rawLen != 7 {
					t.Fatalf("decoded %+v", h)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrFrame) {
				t.Fatalf("error %v, want ErrFrame containing %q", err, tc.want)
			}
		})
	}
}

func TestDecodeFrameRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 100, 70_000} {
		payload := pattern(make([]byte, n), n, 0, 0)
		buf := appendFrame(nil, frameData, 3, 9, payload)
		buf = appendFrame(buf, frameHeartbeat, 0, 0, nil)
		typ, flags, wire, rest, err := DecodeFrame(buf, 1<<20)
		if err != nil || frameType(typ) != frameData || flags != 0 || !bytes.Equal(wire, payload) {
			t.Fatalf("n=%d: %v %v %v", n, typ, flags, err)
		}
		typ, _, wire, rest, err = DecodeFrame(rest, 1<<20)
		if err != nil || frameType(typ) != frameHeartbeat || len(wire) != 0 || len(rest) != 0 {
			t.Fatalf("n=%d heartbeat: %v %v %d", n, typ, err, len(rest))
		}
		if n > 0 {
			bad := appendFrame(nil, frameData, 3, 9, payload)
			bad[len(bad)-1] ^= 1
			if _, _, _, _, err := DecodeFrame(bad, 1<<20); !errors.Is(err, ErrFrame) || !strings.Contains(err.Error(), "CRC32C") {
				t.Fatalf("n=%d corrupted payload: %v", n, err)
			}
			if _, _, _, _, err := DecodeFrame(bad[:len(bad)-1], 1<<20); !errors.Is(err, ErrFrame) || !strings.Contains(err.Error(), "truncated") {
				t.Fatalf("n=%d truncated: %v", n, err)
			}
		}
	}
}

// FuzzDecodeFrame: arbitrary bytes never panic the decoder, never yield a payload beyond the limit, and
// whatever decodes re-encodes to the same bytes.
func FuzzDecodeFrame(f *testing.F) {
	f.Add(appendFrame(nil, frameData, 1, 2, []byte("hello")))
	f.Add(appendFrame(nil, frameGoodbye, 0, 0, nil))
	f.Add(rawFrame(frameData, flagZstd, 0, 100, []byte{0x28, 0xb5, 0x2f, 0xfd}))
	f.Add([]byte("JBCF\x01\x05"))
	f.Fuzz(func(t *testing.T, b []byte) {
		const max = 1 << 16
		typ, flags, wire, rest, err := DecodeFrame(b, max)
		if err != nil {
			if !errors.Is(err, ErrFrame) {
				t.Fatalf("error %v does not wrap ErrFrame", err)
			}
			return
		}
		if len(wire) > max || len(wire)+len(rest)+headerSize+trailerSize != len(b) {
			t.Fatalf("inconsistent lengths: wire %d rest %d input %d", len(wire), len(rest), len(b))
		}
		h, _ := parseHeader(b, max)
		var again [headerSize]byte
		putHeader(again[:], h)
		if !bytes.Equal(again[:], b[:headerSize]) || uint8(h.typ) != typ || h.flags != flags {
			t.Fatalf("header does not round-trip")
		}
	})
}
