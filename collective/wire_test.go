package collective

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// pieceStream is a Stream over fixed bytes whose reads return at most limit bytes (0: no limit), as a
// socket does when data trickles in; writes are collected. It records the most bytes read under one
// read deadline.
type pieceStream struct {
	in            *bytes.Reader
	limit         int
	out           bytes.Buffer
	sinceDeadline int
	maxPerDead    int
}

func (s *pieceStream) Read(b []byte) (int, error) {
	if s.limit > 0 && len(b) > s.limit {
		b = b[:s.limit]
	}
	n, err := s.in.Read(b)
	s.sinceDeadline += n
	s.maxPerDead = max(s.maxPerDead, s.sinceDeadline)
	return n, err
}
func (s *pieceStream) Write(b []byte) (int, error)      { return s.out.Write(b) }
func (s *pieceStream) Close() error                     { return nil }
func (s *pieceStream) SetReadDeadline(time.Time) error  { s.sinceDeadline = 0; return nil }
func (s *pieceStream) SetWriteDeadline(time.Time) error { return nil }

// wirePeer is a peer with just what the frame reader and writer use.
func wirePeer(s Stream) *peer {
	c := &Comm{cfg: Config{HeartbeatTimeout: time.Minute, MaxFrameBytes: DefaultMaxFrameBytes}, stats: map[uint32]*linkCounters{}}
	return &peer{c: c, s: s, br: newFrameReader(s, readBufferBytes), dec: decoder{maxFrame: DefaultMaxFrameBytes},
		small: make([]byte, 0, headerSize+coalesceBytes+trailerSize)}
}

func wireSizes() []int {
	return []int{0, 1, coalesceBytes - 1, coalesceBytes, coalesceBytes + 1, readBufferBytes - headerSize, 64 << 10,
		crcChunkBytes - 1, crcChunkBytes, crcChunkBytes + 17, 1<<20 + 3}
}

func testPayload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*131 + i>>9)
	}
	return b
}

// TestReadFrameInPieces: the reader checksums a payload piece by piece as reads return; whatever the
// read sizes, two frames in a row decode to the bytes sent, and a flipped payload byte or a missing
// byte is reported, never accepted.
func TestReadFrameInPieces(t *testing.T) {
	for _, n := range wireSizes() {
		payload := testPayload(n)
		frame := rawFrame(frameData, 0, 0, 0, payload)
		for _, limit := range []int{0, 1, 7, 4096, 100000} {
			if n > 100000 && limit > 0 && limit < 4096 {
				continue // same code path as 4096, just slow
			}
			s := &pieceStream{in: bytes.NewReader(append(bytes.Clone(frame), frame...)), limit: limit}
			p := wirePeer(s)
			for i := range 2 {
				h, got, err := p.readFrame()
				if err != nil {
					t.Fatalf("%d bytes, reads of <= %d: frame %d: %v", n, limit, i, err)
				}
				if h.typ != frameData || !bytes.Equal(got, payload) {
					t.Fatalf("%d bytes, reads of <= %d: frame %d: got %s frame with %d bytes differing from what was sent", n, limit, i, h.typ, len(got))
				}
			}
			// A slow but live link must not time out: the deadline is renewed as pieces arrive.
			if bound := 2*crcChunkBytes + readBufferBytes; s.maxPerDead > bound {
				t.Errorf("%d bytes, reads of <= %d: %d bytes read under one deadline, want <= %d", n, limit, s.maxPerDead, bound)
			}
		}
		if n == 0 {
			continue
		}
		for _, at := range []int{0, n / 2, n - 1} {
			bad := bytes.Clone(frame)
			bad[headerSize+at] ^= 0x10
			_, _, err := wirePeer(&pieceStream{in: bytes.NewReader(bad), limit: 4096}).readFrame()
			if !errors.Is(err, ErrFrame) || !strings.Contains(err.Error(), "CRC32C mismatch") {
				t.Errorf("%d bytes, byte %d flipped: err = %v, want a payload CRC32C mismatch", n, at, err)
			}
		}
		_, _, err := wirePeer(&pieceStream{in: bytes.NewReader(frame[:headerSize+n-1])}).readFrame()
		if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "truncated") {
			t.Errorf("%d bytes, last payload byte missing: err = %v, want truncated frame (unexpected EOF)", n, err)
		}
	}
}

// TestWriteWire: the writer (one buffer for small frames, writev in checksummed pieces for large ones)
// puts header, payload and a trailer equal to hash/crc32's CRC32C on the wire, back to back.
func TestWriteWire(t *testing.T) {
	for _, n := range wireSizes() {
		payload := testPayload(n)
		s := &pieceStream{in: bytes.NewReader(nil)}
		p := wirePeer(s)
		for range 2 {
			if err := p.writePart(frameA2A, EdgeCollective, 7, payload, false, 0, true); err != nil {
				t.Fatalf("%d bytes: %v", n, err)
			}
		}
		want := rawFrame(frameA2A, 0, 7, 0, payload)
		binary.LittleEndian.PutUint16(want[8:], EdgeCollective)
		reseal(want)
		if got := s.out.Bytes(); !bytes.Equal(got, append(bytes.Clone(want), want...)) {
			t.Fatalf("%d bytes: wrote %d bytes that differ from two frames of %d (trailer %#08x)", n, len(got), len(want),
				crc32.Checksum(payload, castagnoli))
		}
	}
}

// TestReadFramesOverTCP: on a real TCP connection payloads are read with readv into the payload and the
// read buffer (which then holds the trailer and the next headers). Frames of all sizes, written in
// random-sized bursts with pauses, must come out intact and in order.
func TestReadFramesOverTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var stream []byte
	var want [][]byte
	for round := range 3 {
		for _, n := range wireSizes() {
			payload := testPayload(n + round)
			want = append(want, payload)
			stream = append(stream, rawFrame(frameData, 0, 0, 0, payload)...)
		}
	}
	sent := make(chan error, 1)
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			sent <- err
			return
		}
		defer c.Close()
		rng := rand.New(rand.NewPCG(5, 6))
		for off := 0; off < len(stream); {
			n := min(1+rng.IntN(200000), len(stream)-off)
			if _, err := c.Write(stream[off : off+n]); err != nil {
				sent <- err
				return
			}
			off += n
			if rng.IntN(8) == 0 {
				time.Sleep(time.Millisecond) // let the reader find the socket empty
			}
		}
		sent <- nil
	}()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p := wirePeer(conn.(*net.TCPConn))
	if p.br.rc == nil {
		t.Fatal("frame reader on a TCP connection does not use readv")
	}
	for i, w := range want {
		_, got, err := p.readFrame()
		if err != nil {
			t.Fatalf("frame %d (%d bytes): %v", i, len(w), err)
		}
		if !bytes.Equal(got, w) {
			t.Fatalf("frame %d: got %d bytes that differ from the %d sent", i, len(got), len(w))
		}
		pool.put(got)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.readFrame(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last frame: err = %v, want EOF", err)
	}
}

// TestReadFrameSilentMidPayloadOverTCP: a peer that stops sending in the middle of a payload (the
// readv path) is reported as silent once the heartbeat timeout passes, not waited for forever.
func TestReadFrameSilentMidPayloadOverTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	frame := rawFrame(frameData, 0, 0, 0, testPayload(1<<20))
	release := make(chan struct{})
	defer close(release)
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		c.Write(frame[:len(frame)/2])
		<-release
	}()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p := wirePeer(conn.(*net.TCPConn))
	p.c.cfg.HeartbeatTimeout = 300 * time.Millisecond
	start := time.Now()
	_, _, err = p.readFrame()
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err = %v, want the read deadline to expire", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("silent peer detected after %v (heartbeat timeout 300ms)", took)
	}
}
