package collective

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"jellybean/collective/crc32c"
)

// Stream is the byte stream under the frame layer: a net.Conn, a net.Pipe end, or a test wrapper that
// injects faults. Every read and write done by this package is preceded by a deadline.
type Stream interface {
	io.Reader
	io.Writer
	io.Closer
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
}

// Wire format of one frame: a fixed 28-byte little-endian header, wireLen payload bytes, and a 4-byte
// trailer holding the CRC32C (Castagnoli) of the payload.
//
//	off size field
//	  0    4 magic "JBCF"
//	  4    1 version (protocolVersion)
//	  5    1 type (frameType)
//	  6    2 flags (flagZstd, flagMore)
//	  8    2 edge (stream edge id; EdgeCollective for collectives)
//	 10    2 reserved, must be 0
//	 12    4 tag (collective round, or credit amount)
//	 16    4 rawLen: payload length after decompression
//	 20    4 wireLen: payload length on the wire
//	 24    4 CRC32C of header bytes 0..23 (a corrupt length is caught before it is acted on)
//
// The payload checksum trails the payload so that a sender could checksum while it writes (and a
// receiver checks it right after the read) without buffering the whole frame first.
const (
	headerSize      = 28
	trailerSize     = 4
	protocolVersion = 1
	frameMagic      = "JBCF"

	flagZstd   uint16 = 1 << 0 // payload is one zstd frame
	flagMore   uint16 = 1 << 1 // a part of a larger data/alltoall message; more parts follow
	knownFlags        = flagZstd | flagMore
)

// frameType says what a frame carries.
type frameType uint8

const (
	frameHello     frameType = iota + 1 // handshake: dialer -> acceptor
	frameHelloAck                       // handshake: acceptor -> dialer (proves the secret)
	frameAuth                           // handshake: dialer -> acceptor (proves the secret)
	frameReady                          // handshake: acceptor accepted the dialer
	frameData                           // stream message (Send/Recv)
	frameA2A                            // one AllToAllV (or Barrier) block; tag = collective round
	frameCredit                         // receiver returns tag bytes of stream credit
	frameHeartbeat                      // keep-alive while idle
	frameGoodbye                        // graceful close: the sender will send nothing more
	frameAbort                          // the sender faulted and leaves; payload names the rank at fault
	frameRVHello                        // rendezvous handshake: a rank -> rank 0 (then register, table)
	frameRegister                       // rendezvous: u16 port the sending rank listens on
	frameTable                          // rendezvous: rank 0's reply, u16 port of every rank
	frameTypeEnd
)

var frameTypeNames = [...]string{"", "hello", "hello-ack", "auth", "ready", "data", "alltoall", "credit", "heartbeat", "goodbye", "abort", "rendezvous-hello", "register", "table"}

func (t frameType) String() string {
	if t > 0 && t < frameTypeEnd {
		return frameTypeNames[t]
	}
	return fmt.Sprintf("frame type %d", uint8(t))
}

// header is the decoded fixed part of a frame.
type header struct {
	typ     frameType
	flags   uint16
	edge    uint16
	tag     uint32
	rawLen  uint32
	wireLen uint32
}

// ErrFrame is wrapped by every error about a malformed frame (bad magic, version, length, CRC, zstd).
var ErrFrame = errors.New("bad frame")

func frameErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFrame, fmt.Sprintf(format, args...))
}

// putHeader writes h into b[:headerSize].
func putHeader(b []byte, h header) {
	_ = b[headerSize-1]
	copy(b[0:4], frameMagic)
	b[4] = protocolVersion
	b[5] = byte(h.typ)
	binary.LittleEndian.PutUint16(b[6:], h.flags)
	binary.LittleEndian.PutUint16(b[8:], h.edge)
	binary.LittleEndian.PutUint16(b[10:], 0)
	binary.LittleEndian.PutUint32(b[12:], h.tag)
	binary.LittleEndian.PutUint32(b[16:], h.rawLen)
	binary.LittleEndian.PutUint32(b[20:], h.wireLen)
	binary.LittleEndian.PutUint32(b[24:], crc32c.Checksum(b[:24]))
}

// parseHeader decodes and validates a header; maxFrame bounds both payload lengths so that a corrupt or
// hostile length can never make us allocate more than the configured limit.
func parseHeader(b []byte, maxFrame int) (header, error) {
	if len(b) < headerSize {
		return header{}, frameErrorf("truncated header: %d of %d bytes", len(b), headerSize)
	}
	if string(b[0:4]) != frameMagic {
		return header{}, frameErrorf("bad magic %q (want %q): not a JellyBean collective peer", b[0:4], frameMagic)
	}
	if b[4] != protocolVersion {
		return header{}, frameErrorf("protocol version %d, this build speaks %d", b[4], protocolVersion)
	}
	if want, got := binary.LittleEndian.Uint32(b[24:]), crc32c.Checksum(b[:24]); want != got {
		return header{}, frameErrorf("header CRC32C mismatch: header says %#08x, computed %#08x", want, got)
	}
	h := header{
		typ:     frameType(b[5]),
		flags:   binary.LittleEndian.Uint16(b[6:]),
		edge:    binary.LittleEndian.Uint16(b[8:]),
		tag:     binary.LittleEndian.Uint32(b[12:]),
		rawLen:  binary.LittleEndian.Uint32(b[16:]),
		wireLen: binary.LittleEndian.Uint32(b[20:]),
	}
	if h.typ == 0 || h.typ >= frameTypeEnd {
		return header{}, frameErrorf("unknown frame type %d", uint8(h.typ))
	}
	if h.flags&^knownFlags != 0 {
		return header{}, frameErrorf("unknown flags %#x", h.flags)
	}
	if r := binary.LittleEndian.Uint16(b[10:]); r != 0 {
		return header{}, frameErrorf("reserved field is %#x, want 0", r)
	}
	if uint64(h.wireLen) > uint64(maxFrame) || uint64(h.rawLen) > uint64(maxFrame) {
		return header{}, frameErrorf("%s frame of %d bytes (%d on the wire) exceeds the %d-byte frame limit",
			h.typ, h.rawLen, h.wireLen, maxFrame)
	}
	if h.flags&flagMore != 0 && h.typ != frameData && h.typ != frameA2A {
		return header{}, frameErrorf("%s frame marked as a message part", h.typ)
	}
	if h.flags&flagZstd == 0 && h.rawLen != h.wireLen {
		return header{}, frameErrorf("uncompressed frame with raw length %d != wire length %d", h.rawLen, h.wireLen)
	}
	if h.flags&flagZstd != 0 && h.wireLen == 0 {
		return header{}, frameErrorf("compressed frame with empty payload")
	}
	return h, nil
}

// checkPayload verifies a payload checksum carried in the trailer.
func checkPayload(h header, got uint32, trailer []byte) error {
	if want := binary.LittleEndian.Uint32(trailer); got != want {
		return frameErrorf("%s frame payload CRC32C mismatch: trailer says %#08x, payload has %#08x", h.typ, want, got)
	}
	return nil
}

// DecodeFrame parses one complete frame held in buf (header, payload, trailer), validating magic,
// version, header checksum, lengths against maxFrame and the payload checksum. It returns the header
// fields of interest and the wire payload, which aliases buf (still compressed if the frame is), and
// the bytes after the frame. It is the pure core of the frame reader and the target of FuzzDecodeFrame.
func DecodeFrame(buf []byte, maxFrame int) (typ uint8, flags uint16, wire []byte, rest []byte, err error) {
	h, err := parseHeader(buf, maxFrame)
	if err != nil {
		return 0, 0, nil, nil, err
	}
	end := headerSize + int(h.wireLen)
	if len(buf) < end+trailerSize {
		return 0, 0, nil, nil, frameErrorf("truncated %s frame: %d of %d payload+trailer bytes", h.typ, len(buf)-headerSize, int(h.wireLen)+trailerSize)
	}
	wire = buf[headerSize:end]
	if err := checkPayload(h, crc32c.Checksum(wire), buf[end:end+trailerSize]); err != nil {
		return 0, 0, nil, nil, err
	}
	return uint8(h.typ), h.flags, wire, buf[end+trailerSize:], nil
}

// appendFrame appends a complete uncompressed frame to dst; used by the handshake and tests.
func appendFrame(dst []byte, typ frameType, edge uint16, tag uint32, payload []byte) []byte {
	var hb [headerSize]byte
	putHeader(hb[:], header{typ: typ, edge: edge, tag: tag, rawLen: uint32(len(payload)), wireLen: uint32(len(payload))})
	dst = append(dst, hb[:]...)
	dst = append(dst, payload...)
	return binary.LittleEndian.AppendUint32(dst, crc32c.Checksum(payload))
}
