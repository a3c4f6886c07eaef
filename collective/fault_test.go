package collective

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer collects Logf output of a rank.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

// castagnoli: tests build frames with hash/crc32, independently of the crc32c package.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (l *logBuffer) Logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func rawFrame(typ frameType, flags uint16, tag uint32, rawLen uint32, payload []byte) []byte {
	if flags&flagZstd == 0 {
		rawLen = uint32(len(payload))
	}
	var hb [headerSize]byte
	putHeader(hb[:], header{typ: typ, flags: flags, tag: tag, rawLen: rawLen, wireLen: uint32(len(payload))})
	b := append(hb[:], payload...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(payload, castagnoli))
}

// reseal recomputes the header checksum after a test edited header fields, so that the edit itself
// (not the checksum) is what the receiver rejects.
func reseal(b []byte) []byte {
	binary.LittleEndian.PutUint32(b[24:], crc32.Checksum(b[:24], castagnoli))
	return b
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestHandshakeRejections attacks rank 0's listener during start-up with bad connections. Each must be
// closed and logged with its reason, none may crash the rank or grow its memory, and the real rank 1
// must still get in.
func TestHandshakeRejections(t *testing.T) {
	checkGoroutines(t)
	lns, peers := listenLocal(t, 2)
	addr := lns[0].Addr().String()
	logs := &logBuffer{}
	type opened struct {
		c   *Comm
		err error
	}
	res0 := make(chan opened, 1)
	go func() {
		c, err := Open(context.Background(), Config{JobID: "job", Rank: 0, Peers: peers, Listener: lns[0], Secret: testSecret,
			ConnectTimeout: 20 * time.Second, Logf: logs.Logf})
		res0 <- opened{c, err}
	}()

	hello := func(job string, from, to, size int) []byte {
		h := hello{from: from, to: to, size: size, job: job}
		return h.append(nil)
	}
	badVersion := rawFrame(frameHello, 0, 0, 0, nil)
	badVersion[4] = 9
	oversize := rawFrame(frameHello, 0, 0, 0, nil)
	binary.LittleEndian.PutUint32(oversize[16:], 1<<30)
	binary.LittleEndian.PutUint32(oversize[20:], 1<<30)
	reseal(oversize)
	badCRC := rawFrame(frameHello, 0, 0, 0, hello("job", 1, 0, 2))
	badCRC[len(badCRC)-1] ^= 0xFF
	cases := []struct {
		name string
		send []byte
		want string // in rank 0's log
	}{
		{"wrong magic", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\x00"), "bad magic"},
		{"wrong version", badVersion, "protocol version 9"},
		{"oversize length", oversize, "exceeds the 4096-byte frame limit"},
		{"truncated frame", rawFrame(frameHello, 0, 0, 0, hello("job", 1, 0, 2))[:headerSize+10], "EOF"},
		{"crc mismatch", badCRC, "CRC32C mismatch"},
		{"wrong job", rawFrame(frameHello, 0, 0, 0, hello("other-job", 1, 0, 2)), `belongs to job "other-job"`},
		{"wrong size", rawFrame(frameHello, 0, 0, 0, hello("job", 1, 0, 5)), "thinks the job has 5 ranks"},
		{"lower rank dials", rawFrame(frameHello, 0, 0, 0, hello("job", 0, 0, 2)), "may not dial"},
		{"data before handshake", rawFrame(frameData, 0, 0, 5, []byte("hello")), "got data frame"},
	}
	before := heapInUse()
	for _, tc := range cases {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("%s: dial: %v", tc.name, err)
		}
		conn.Write(tc.send)
		if c, ok := conn.(*net.TCPConn); ok {
			c.CloseWrite()
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		rest, _ := io.ReadAll(conn) // rank 0 must close the connection
		conn.Close()
		if bytes.Contains(rest, []byte(frameMagic)) && tc.name != "wrong job" && tc.name != "wrong size" {
			// Only the handshake reply may ever come back, and only to a well-formed hello.
			t.Errorf("%s: rank 0 answered %q", tc.name, rest)
		}
	}
	// A peer that skips the secret check and sends a made-up proof.
	t.Run("wrong secret proof", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write(rawFrame(frameHello, 0, 0, 0, hello("job", 1, 0, 2)))
		hs := &handshakeIO{s: conn}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := hs.recv(frameHelloAck); err != nil {
			t.Fatalf("hello-ack: %v", err)
		}
		hs.send(frameAuth, bytes.Repeat([]byte{7}, macSize))
		if _, err := hs.recv(frameReady); err == nil {
			t.Fatal("rank 0 accepted a forged proof")
		}
	})
	// A real dialer with the wrong secret: it detects rank 0's proof is wrong and gives up.
	t.Run("wrong secret dialer", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		err = dialHandshake(conn, "job", []byte("not the secret"), 1, 0, 2, time.Now().Add(5*time.Second))
		if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "failed to prove the job secret") {
			t.Fatalf("dialHandshake with wrong secret: %v", err)
		}
	})
	if grown := int64(heapInUse()) - int64(before); grown > 8<<20 {
		t.Errorf("heap grew by %d bytes while rejecting bad connections", grown)
	}
	select {
	case r := <-res0:
		t.Fatalf("rank 0 Open returned early: %v", r.err)
	default:
	}
	// The real rank 1 still gets in.
	c1, err := Open(context.Background(), Config{JobID: "job", Rank: 1, Peers: peers, Listener: lns[1], Secret: testSecret, ConnectTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("rank 1 Open: %v", err)
	}
	r0 := <-res0
	if r0.err != nil {
		t.Fatalf("rank 0 Open: %v", r0.err)
	}
	comms := []*Comm{r0.c, c1}
	defer closeAll(comms)
	runAll(t, comms, func(c *Comm) error { return c.Barrier(context.Background()) })
	log := logs.String()
	for _, tc := range cases {
		if !strings.Contains(log, tc.want) {
			t.Errorf("%s: rank 0's log lacks %q:\n%s", tc.name, tc.want, log)
		}
	}
	if !strings.Contains(log, "connection claiming rank 1 failed to prove the job secret") {
		t.Errorf("forged proof not logged:\n%s", log)
	}
}

// fakePeer opens rank 0 as a real Comm and joins as rank 1 by hand (correct handshake), so the test can
// write arbitrary frames after authentication.
func fakePeer(t *testing.T, tweak func(*Config)) (*Comm, net.Conn) {
	t.Helper()
	lns, peers := listenLocal(t, 2)
	lns[1].Close()
	cfg := Config{JobID: "job", Rank: 0, Peers: peers, Listener: lns[0], Secret: testSecret,
		ConnectTimeout: 10 * time.Second, HeartbeatTimeout: 3 * time.Second, MaxFrameBytes: 1 << 20, CreditBytes: 64 << 10, Logf: t.Logf}
	if tweak != nil {
		tweak(&cfg)
	}
	type opened struct {
		c   *Comm
		err error
	}
	res := make(chan opened, 1)
	go func() { c, err := Open(context.Background(), cfg); res <- opened{c, err} }()
	var conn net.Conn
	waitFor(t, func() bool {
		var err error
		conn, err = net.Dial("tcp", lns[0].Addr().String())
		return err == nil
	})
	if err := dialHandshake(conn, "job", testSecret, 1, 0, 2, time.Now().Add(5*time.Second)); err != nil {
		t.Fatalf("fake rank 1 handshake: %v", err)
	}
	r := <-res
	if r.err != nil {
		t.Fatalf("rank 0 Open: %v", r.err)
	}
	t.Cleanup(func() { conn.Close(); r.c.Close() })
	return r.c, conn
}

// TestBadFramesAfterHandshake: an authenticated peer that sends a malformed frame faults the
// communicator with an error naming it; no payload is ever delivered and memory does not grow.
func TestBadFramesAfterHandshake(t *testing.T) {
	bomb := func() []byte { // a valid zstd frame that decodes to far more than its header claims
		e := encoder{mode: compressFastest}
		out, _ := e.compress(make([]byte, 900<<10))
		return append([]byte(nil), out...)
	}()
	good := func() []byte { // a valid compressed frame of 20000 raw bytes
		e := encoder{mode: compressFastest}
		out, _ := e.compress(bytes.Repeat([]byte("abcd"), 5000))
		return append([]byte(nil), out...)
	}()
	corrupt := append([]byte(nil), good...)
	for i := 8; i < len(corrupt); i += 3 {
		corrupt[i] ^= 0x5A
	}
	oversize := rawFrame(frameData, 0, 0, 0, nil)
	binary.LittleEndian.PutUint32(oversize[16:], 1<<31)
	binary.LittleEndian.PutUint32(oversize[20:], 1<<31)
	reseal(oversize)
	badCRC := rawFrame(frameData, 0, 0, 5, []byte("hello"))
	badCRC[headerSize] = 'j'
	cases := []struct {
		name  string
		bytes []byte
		close bool // close the connection after writing
		want  string
	}{
		{"crc mismatch", badCRC, false, "CRC32C mismatch"},
		{"corrupt zstd", rawFrame(frameData, flagZstd, 0, 20000, corrupt), false, "zstd"},
		{"zstd bomb", rawFrame(frameData, flagZstd, 0, 1000, bomb), false, "zstd"},
		{"zstd length lie", rawFrame(frameData, flagZstd, 0, 30000, good), false, "decoded to 20000 bytes"},
		{"oversize length", oversize, false, "exceeds the 1048576-byte frame limit"},
		{"truncated frame", rawFrame(frameData, 0, 0, 5000, make([]byte, 5000))[:headerSize+100], true, "truncated data frame"},
		{"bad magic", append([]byte("XXXX"), make([]byte, 40)...), false, "bad magic"},
		{"header bit flip", func() []byte { f := rawFrame(frameData, 0, 0, 0, []byte("hi")); f[13] ^= 4; return f }(), false, "header CRC32C mismatch"},
		{"handshake frame again", rawFrame(frameHello, 0, 0, 0, nil), false, "unexpected hello frame"},
		{"credit forged", rawFrame(frameCredit, 0, 1<<20, 0, nil), false, "more stream credit"},
		{"beyond credit", bytes.Repeat(rawFrame(frameData, 0, 0, 40<<10, make([]byte, 40<<10)), 2), false, "beyond its 65536-byte stream credit"},
		{"interrupted parts", append(rawFrame(frameData, flagMore, 0, 0, make([]byte, 10)), rawFrame(frameA2A, 0, 0, 0, nil)...), false, "interrupted a multi-part"},
		{"part flag on credit", rawFrame(frameCredit, flagMore, 5, 0, nil), false, "marked as a message part"},
		{"parts beyond limit", bytes.Repeat(rawFrame(frameData, flagMore, 0, 0, make([]byte, 400<<10)), 3), false, "multi-part data message exceeds"},
		{"collective rounds ahead", bytes.Repeat(rawFrame(frameA2A, 0, 0, 0, []byte("x")), 3), false, "collective blocks we have not asked for"},
		{"reserved bits", func() []byte { f := rawFrame(frameData, 0, 0, 0, nil); f[10] = 1; return reseal(f) }(), false, "reserved field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			c, conn := fakePeer(t, nil)
			before := heapInUse()
			conn.Write(tc.bytes)
			if tc.close {
				conn.Close()
			}
			if tc.name == "beyond credit" {
				// The first frame is within credit and may legitimately be delivered (and its credit
				// returned) if Recv runs before the second arrives; wait until the communicator has
				// judged both frames and hung up on us.
				conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				io.Copy(io.Discard, conn)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			m, err := c.Recv(ctx)
			var pe *PeerError
			if err == nil {
				t.Fatalf("Recv delivered %d bytes from a bad frame", len(m.Payload))
			}
			if !errors.As(err, &pe) || pe.Rank != 1 || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Recv error %v: want a PeerError for rank 1 containing %q", err, tc.want)
			}
			// Malformed frames wrap ErrFrame; well-formed frames that break the protocol say "protocol:".
			if tc.name != "truncated frame" && !errors.Is(err, ErrFrame) && !strings.Contains(err.Error(), "protocol:") {
				t.Errorf("error %v does not wrap ErrFrame", err)
			}
			if grown := int64(heapInUse()) - int64(before); grown > 4<<20 {
				t.Errorf("heap grew by %d bytes", grown)
			}
			// Later operations fail with the same fault.
			if err2 := c.Send(ctx, 1, 0, []byte("x")); err2 == nil || !errors.As(err2, &pe) {
				t.Errorf("Send after fault: %v", err2)
			}
			c.Close()
		})
	}
}

// TestGoodFramesFromFakePeer checks the fake peer harness itself delivers well-formed frames, so the
// rejections above are about the damage and not about the harness.
func TestGoodFramesFromFakePeer(t *testing.T) {
	c, conn := fakePeer(t, nil)
	good := func() []byte {
		e := encoder{mode: compressFastest}
		out, _ := e.compress(bytes.Repeat([]byte("abcd"), 5000))
		return append([]byte(nil), out...)
	}()
	conn.Write(rawFrame(frameData, 0, 0, 5, []byte("hello")))
	conn.Write(rawFrame(frameData, flagZstd, 0, 20000, good))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := c.Recv(ctx)
	if err != nil || string(m.Payload) != "hello" || m.Src != 1 {
		t.Fatalf("first message: %q from %d, %v", m.Payload, m.Src, err)
	}
	m, err = c.Recv(ctx)
	if err != nil || !bytes.Equal(m.Payload, bytes.Repeat([]byte("abcd"), 5000)) {
		t.Fatalf("compressed message: %d bytes, %v", len(m.Payload), err)
	}
	// Credit for both messages comes back (nothing else is queued from rank 1).
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hb [headerSize]byte
	for {
		if _, err := io.ReadFull(conn, hb[:]); err != nil {
			t.Fatalf("reading credit: %v", err)
		}
		h, err := parseHeader(hb[:], 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		io.CopyN(io.Discard, conn, int64(h.wireLen))
		if h.typ == frameCredit {
			if h.tag == 0 {
				t.Fatalf("zero credit")
			}
			break
		}
	}
	// A goodbye is a graceful close: Recv reports EOF, not a fault.
	conn.Write(rawFrame(frameGoodbye, 0, 0, 0, nil))
	if _, err := c.Recv(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv after goodbye: %v, want io.EOF", err)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("graceful goodbye recorded as fault: %v", err)
	}
	if err := c.Send(ctx, 1, 0, []byte("x")); !errors.Is(err, ErrPeerClosed) {
		t.Fatalf("Send to departed peer: %v, want ErrPeerClosed", err)
	}
}

// TestCorruptionOnTheWire damages one byte of a real connection after the handshake (through
// Config.WrapStream): the receiver rejects the frame with a checksum error naming the sender and never
// delivers the damaged payload.
func TestCorruptionOnTheWire(t *testing.T) {
	for _, tc := range []struct {
		name   string
		offset int
		want   string
	}{
		{"payload byte", headerSize + 5000, "payload CRC32C mismatch"},
		{"header byte", 13, "header CRC32C mismatch"},
		{"trailer byte", headerSize + 100_000 + 1, "payload CRC32C mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			var wrapped *faultyStream
			comms := openLocal(t, 2, func(c *Config) {
				if c.Rank == 1 {
					c.WrapStream = func(peer int, s Stream) Stream {
						wrapped = &faultyStream{Stream: s, flipAt: tc.offset, closeAfter: -1}
						return wrapped
					}
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := comms[1].Send(ctx, 0, 3, pattern(make([]byte, 100_000), 1, 0, 0)); err != nil {
				t.Fatalf("Send: %v", err)
			}
			m, err := comms[0].Recv(ctx)
			var pe *PeerError
			if err == nil {
				t.Fatalf("damaged message delivered (%d bytes)", len(m.Payload))
			}
			if !errors.As(err, &pe) || pe.Rank != 1 || !errors.Is(err, ErrFrame) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Recv: %v, want ErrFrame %q naming rank 1", err, tc.want)
			}
			closeAll(comms)
		})
	}
}
