package collective

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"jellybean/collective/crc32c"
)

const (
	// Read buffer (frameReader) size: small frames are batched per read syscall; payloads are read
	// straight into their destination. Kept small because whatever a header read pulls in behind the
	// header is copied once more.
	readBufferBytes = 8 << 10
	crcChunkBytes   = 256 << 10 // large payloads are checksummed and written (read) in pieces of this size
	coalesceBytes   = 8 << 10   // frames up to this size are copied into one buffer; larger ones use writev
	tailBytes       = 16 << 10  // the end of a large payload, written with the trailer (see writeWire)
	maxA2AAhead     = 2         // queued AllToAllV blocks per peer: our current round and the next
	partBytes       = 256 << 10 // compressed messages are split into independently compressed parts of this size
)

// peer is the connection to one other rank: a writer side guarded by wmu and one reader goroutine.
type peer struct {
	c    *Comm
	rank int
	addr string
	s    Stream

	// Writer side, guarded by wmu.
	wmu     sync.Mutex
	hdr     [headerSize]byte
	trailer [trailerSize]byte
	small   []byte
	vec     net.Buffers // writev scratch
	vecBuf  [3][]byte
	enc     encoder
	byeSent bool

	lastRateSample  time.Time // auto compression: last kernel delivery-rate sample
	sinceRateSample int       // wire bytes written since then
	rateSamples     int
	noKernelRate    bool // the stream has no TCP_INFO: time writes instead

	lastWrite atomic.Int64 // unix nanos of the last completed write (heartbeat scheduling)

	// Reader side, owned by readLoop.
	br   *frameReader
	dec  decoder
	rhdr [headerSize]byte

	// A multi-part message being received (see writeLocked).
	parts     [][]byte
	partBytes int
	partHdr   header

	// Stream credit we may still spend sending to this peer.
	cmu      sync.Mutex
	credit   int64
	creditCh chan struct{}

	// Incoming AllToAllV blocks, FIFO (at most a round or two deep), guarded by amu.
	amu   sync.Mutex
	a2a   []a2aBlock
	a2aCh chan struct{}

	// Receiver-side stream accounting, guarded by Comm.qmu.
	queuedMsgs   int   // messages from this peer waiting in Comm.queue
	unreturned   int64 // bytes received from this peer whose credit has not been returned yet
	creditToSend int64 // consumed bytes whose credit is not yet sent back

	gone       chan struct{} // closed when the peer said goodbye
	readerDone chan struct{}
}

type a2aBlock struct {
	round uint32
	data  []byte
}

func newPeer(c *Comm, rank int, s Stream) *peer {
	p := &peer{
		c:          c,
		rank:       rank,
		addr:       c.cfg.Peers[rank].addr(),
		s:          s,
		small:      make([]byte, 0, headerSize+coalesceBytes+trailerSize),
		enc:        encoder{mode: c.comp},
		br:         newFrameReader(s, readBufferBytes),
		dec:        decoder{maxFrame: c.cfg.MaxFrameBytes},
		credit:     int64(c.cfg.CreditBytes),
		creditCh:   make(chan struct{}, 1),
		a2aCh:      make(chan struct{}, 1),
		gone:       make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	p.lastWrite.Store(time.Now().UnixNano())
	return p
}

func (p *peer) errorf(format string, args ...any) *PeerError {
	return &PeerError{Rank: p.rank, Addr: p.addr, Err: fmt.Errorf(format, args...)}
}

func (p *peer) wrap(err error) *PeerError {
	var pe *PeerError
	if errors.As(err, &pe) {
		return pe
	}
	return &PeerError{Rank: p.rank, Addr: p.addr, Err: err}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// writeFrame sends one frame; compressible frames go through the connection's encoder. Any I/O error
// faults the communicator (naming this peer) and is returned.
func (p *peer) writeFrame(typ frameType, edge uint16, tag uint32, payload []byte, compressible bool) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.byeSent {
		// We said goodbye because the communicator failed: report that fault, not "closed".
		if err := p.c.Err(); err != nil {
			return err
		}
		if isClosed(p.gone) {
			return p.errorf("%s frame: %w", typ, ErrPeerClosed)
		}
		return ErrClosed
	}
	return p.writeLocked(typ, edge, tag, payload, compressible)
}

// writeLocked sends one message. A message that will be compressed and is larger than partBytes goes
// out as several frames (flagMore on all but the last), each compressed on its own: compressing part
// i+1 then overlaps the kernel sending part i, and the receiver decompresses part i while i+1 is in
// flight. The parts are contiguous on the wire because wmu is held throughout.
func (p *peer) writeLocked(typ frameType, edge uint16, tag uint32, payload []byte, compressible bool) error {
	if !compressible || !p.enc.wants(payload) {
		return p.writePart(typ, edge, tag, payload, false, 0, true)
	}
	for off := 0; off < len(payload) || off == 0; off += partBytes {
		end := min(off+partBytes, len(payload))
		more := uint16(0)
		if end < len(payload) {
			more = flagMore
		}
		if err := p.writePart(typ, edge, tag, payload[off:end], true, more, more == 0); err != nil {
			return err
		}
	}
	return nil
}

// writePart writes one frame; compress says the part is to be compressed (the decision was made for the
// whole message by writeLocked).
func (p *peer) writePart(typ frameType, edge uint16, tag uint32, payload []byte, compress bool, flags uint16, last bool) error {
	wire := payload
	if compress {
		var z bool
		if wire, z = p.enc.compressPart(payload); z {
			flags |= flagZstd
		}
	}
	putHeader(p.hdr[:], header{typ: typ, flags: flags, edge: edge, tag: tag, rawLen: uint32(len(payload)), wireLen: uint32(len(wire))})
	t0 := time.Now()
	err := p.writeWire(wire)
	now := time.Now()
	if err != nil {
		pe := p.errorf("write %s frame: %w", typ, describeIOError(err, p.c.cfg.HeartbeatTimeout))
		p.c.fail(pe)
		return pe
	}
	if p.enc.mode == compressAuto {
		p.observeLink(len(wire), now, now.Sub(t0))
	}
	p.lastWrite.Store(now.UnixNano())
	if typ == frameData || typ == frameA2A {
		p.c.counters(p.rank, edge).sent(len(payload), len(wire), last)
	}
	return nil
}

// observeLink feeds the auto-compression policy a link measurement: the kernel's delivery-rate estimate
// (at most every linkRateInterval), or the duration of this write when the stream is not TCP.
func (p *peer) observeLink(n int, now time.Time, took time.Duration) {
	if p.noKernelRate {
		p.enc.auto.observeWrite(n, took)
		return
	}
	p.sinceRateSample += n
	if p.sinceRateSample < linkRateBytes || now.Sub(p.lastRateSample) < linkRateInterval {
		return
	}
	p.lastRateSample, p.sinceRateSample = now, 0
	if bps, ok := tcpDeliveryRate(p.s); ok {
		// The first estimate mostly reflects connection start-up and the first burst, which a
		// token-bucket or switch buffer lets through at line rate: skip it.
		if p.rateSamples++; p.rateSamples > 1 {
			p.enc.auto.observeLinkRate(bps)
		}
	} else if _, isTCP := p.s.(*net.TCPConn); !isTCP {
		p.noKernelRate = true
	}
}

// writeWire writes p.hdr, wire and the CRC trailer. Small frames are copied into one buffer; large
// ones go out with writev (no copy): up to crcChunkBytes in one call, checksummed first; larger ones in
// pieces of at most crcChunkBytes, each with a fresh deadline so that a slow but live link is not
// mistaken for a dead one. Each such piece is checksummed right after the kernel has copied it, while
// it is still in cache (application buffers are usually not: checksumming first would pay the cache
// misses a second time); only the last tailBytes, which travel with the trailer, are checksummed before
// they are written.
func (p *peer) writeWire(wire []byte) error {
	hb := p.c.cfg.HeartbeatTimeout
	if err := p.s.SetWriteDeadline(time.Now().Add(hb)); err != nil {
		return err
	}
	if len(wire) <= coalesceBytes {
		b := append(append(p.small[:0], p.hdr[:]...), wire...)
		p.small = binary.LittleEndian.AppendUint32(b, crc32c.Checksum(wire))
		_, err := p.s.Write(p.small)
		return err
	}
	if len(wire) <= crcChunkBytes { // one piece: checksum first, then a single writev
		binary.LittleEndian.PutUint32(p.trailer[:], crc32c.Checksum(wire))
		return p.writeVec(true, wire, true)
	}
	body := len(wire) - tailBytes
	var crc uint32
	for off := 0; off < body; off += crcChunkBytes {
		end := min(off+crcChunkBytes, body)
		if err := p.writeVec(off == 0, wire[off:end], false); err != nil {
			return err
		}
		crc = crc32c.Update(crc, wire[off:end])
		if err := p.s.SetWriteDeadline(time.Now().Add(hb)); err != nil {
			return err
		}
	}
	binary.LittleEndian.PutUint32(p.trailer[:], crc32c.Update(crc, wire[body:]))
	return p.writeVec(body == 0, wire[body:], true)
}

// writeVec writes piece with one writev, preceded by the header and/or followed by the trailer.
func (p *peer) writeVec(header bool, piece []byte, trailer bool) error {
	p.vec = p.vecBuf[:0] // WriteTo consumes p.vec, so restart from the fixed backing array
	if header {
		p.vec = append(p.vec, p.hdr[:])
	}
	p.vec = append(p.vec, piece)
	if trailer {
		p.vec = append(p.vec, p.trailer[:])
	}
	_, err := p.vec.WriteTo(p.s)
	return err
}

// heartbeat sends a keep-alive unless a write is in progress (which keeps the peer's reader busy anyway).
func (p *peer) heartbeat() {
	if !p.wmu.TryLock() {
		return
	}
	defer p.wmu.Unlock()
	if !p.byeSent {
		p.writeLocked(frameHeartbeat, 0, 0, nil, false)
	}
}

// sayGoodbye sends our goodbye once; after it nothing more is written to this peer. If cause is not nil
// (we faulted), the goodbye is an abort that tells the peer which rank was at fault, so that every rank
// of the job reports the same culprit even when our own exit reaches it first.
func (p *peer) sayGoodbye(cause error) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.byeSent {
		return
	}
	if cause == nil {
		p.writeLocked(frameGoodbye, 0, 0, nil, false)
	} else {
		p.writeLocked(frameAbort, 0, 0, encodeAbort(cause), false)
	}
	p.byeSent = true
}

const maxAbortText = 1000

// encodeAbort: u32 rank at fault (0xFFFFFFFF if none), then the error text.
func encodeAbort(cause error) []byte {
	culprit := uint32(0xFFFFFFFF)
	text := cause.Error()
	var pe *PeerError
	var ae *AbortError
	if errors.As(cause, &ae) { // forwarding a fault (or our own Abort): the original rank and reason
		culprit, text = uint32(ae.Rank), ae.Reason
	} else if errors.As(cause, &pe) {
		culprit = uint32(pe.Rank)
	}
	if len(text) > maxAbortText {
		text = text[:maxAbortText]
	}
	return append(binary.LittleEndian.AppendUint32(nil, culprit), text...)
}

// abortError turns a peer's abort frame into our fault: it names the rank at fault (if it is a valid
// rank other than us) and says who reported it.
func (p *peer) abortError(payload []byte) *PeerError {
	if len(payload) < 4 {
		return p.errorf("aborted the job (malformed abort frame)")
	}
	culprit := int(binary.LittleEndian.Uint32(payload))
	text := strings.ToValidUTF8(string(payload[4:]), "?")
	if culprit >= 0 && culprit < len(p.c.cfg.Peers) && culprit != p.c.cfg.Rank && culprit != p.rank {
		return &PeerError{Rank: culprit, Addr: p.c.cfg.Peers[culprit].addr(),
			Err: fmt.Errorf("fault reported by rank %d (%s): %w", p.rank, p.addr, &AbortError{Rank: culprit, Reason: text})}
	}
	return p.errorf("aborted the job: %w", &AbortError{Rank: p.rank, Reason: text})
}

// describeIOError turns a deadline expiry into the heartbeat fault it means.
func describeIOError(err error, hb time.Duration) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("peer silent for more than the heartbeat timeout (%v): %w", hb, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("peer silent for more than the heartbeat timeout (%v): %w", hb, err)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("connection closed without goodbye (peer died?): %w", err)
	}
	return err
}

// readLoop receives frames until goodbye or an error; every error is a fault naming this peer, unless
// we are closing.
func (p *peer) readLoop() {
	defer p.c.wg.Done()
	defer close(p.readerDone)
	for {
		h, payload, err := p.readFrame()
		if err != nil {
			p.c.fail(p.errorf("read: %w", describeIOError(err, p.c.cfg.HeartbeatTimeout)))
			return
		}
		if h.typ == frameData || h.typ == frameA2A {
			p.c.counters(p.rank, h.edge).recv(int(h.rawLen), int(h.wireLen), h.flags&flagMore == 0)
		}
		if h.flags&flagMore != 0 || len(p.parts) > 0 {
			var done bool
			if payload, done, err = p.assemble(h, payload); err != nil {
				p.c.fail(err)
				return
			}
			if !done {
				continue
			}
		}
		switch h.typ {
		case frameData:
			if err := p.c.enqueue(p, Message{Src: p.rank, Edge: h.edge, Payload: payload}); err != nil {
				pool.put(payload)
				p.c.fail(err)
				return
			}
		case frameA2A:
			// A peer cannot finish round r+1 without our block, so it is at most one round ahead:
			// more queued blocks mean a broken or hostile peer, not a fast one.
			p.amu.Lock()
			p.a2a = append(p.a2a, a2aBlock{round: h.tag, data: payload})
			depth := len(p.a2a)
			p.amu.Unlock()
			if depth > maxA2AAhead {
				p.c.fail(p.errorf("protocol: sent %d collective blocks we have not asked for yet", depth))
				return
			}
			signal(p.a2aCh)
		case frameCredit:
			p.cmu.Lock()
			p.credit += int64(h.tag)
			over := p.credit > int64(p.c.cfg.CreditBytes)
			p.cmu.Unlock()
			if over {
				p.c.fail(p.errorf("protocol: returned more stream credit than it was given"))
				return
			}
			signal(p.creditCh)
		case frameHeartbeat:
		case frameGoodbye:
			close(p.gone)
			signal(p.c.qnotify) // Recv may now report EOF
			p.sayGoodbye(nil)   // reply, so the peer's Close finishes promptly
			return
		case frameAbort:
			p.c.fail(p.abortError(payload))
			pool.put(payload)
			close(p.gone)
			p.sayGoodbye(nil)
			return
		default:
			p.c.fail(p.errorf("protocol: unexpected %s frame after the handshake", h.typ))
			return
		}
	}
}

// assemble collects the parts of a multi-frame message; on the last part it returns the whole message
// in one pooled buffer and done=true. Parts must agree on type, edge and tag, and the whole message
// must respect MaxFrameBytes.
func (p *peer) assemble(h header, part []byte) ([]byte, bool, error) {
	if len(p.parts) > 0 && (h.typ != p.partHdr.typ || h.edge != p.partHdr.edge || h.tag != p.partHdr.tag) {
		pool.put(part)
		return nil, false, p.wrap(frameErrorf("%s frame interrupted a multi-part %s message", h.typ, p.partHdr.typ))
	}
	p.partHdr = h
	p.partBytes += len(part)
	p.parts = append(p.parts, part)
	if p.partBytes > p.c.cfg.MaxFrameBytes {
		return nil, false, p.wrap(frameErrorf("multi-part %s message exceeds the %d-byte frame limit", h.typ, p.c.cfg.MaxFrameBytes))
	}
	if h.flags&flagMore != 0 {
		return nil, false, nil
	}
	msg := pool.get(p.partBytes)
	off := 0
	for i, b := range p.parts {
		off += copy(msg[off:], b)
		pool.put(b)
		p.parts[i] = nil
	}
	p.parts, p.partBytes = p.parts[:0], 0
	return msg, true, nil
}

// readFrame reads one frame; the returned payload is a pooled buffer (decompressed if needed).
func (p *peer) readFrame() (header, []byte, error) {
	hb := p.c.cfg.HeartbeatTimeout
	if err := p.s.SetReadDeadline(time.Now().Add(hb)); err != nil {
		return header{}, nil, err
	}
	if err := p.br.readFull(p.rhdr[:]); err != nil {
		return header{}, nil, err
	}
	h, err := parseHeader(p.rhdr[:], p.c.cfg.MaxFrameBytes)
	if err != nil {
		return header{}, nil, err
	}
	wire := pool.get(int(h.wireLen))
	crc, err := p.readPayload(wire, hb)
	if err != nil {
		pool.put(wire)
		return header{}, nil, fmt.Errorf("truncated %s frame: %w", h.typ, err)
	}
	if err := p.br.readFull(p.rhdr[:trailerSize]); err != nil {
		pool.put(wire)
		return header{}, nil, fmt.Errorf("truncated %s frame: %w", h.typ, err)
	}
	if err := checkPayload(h, crc, p.rhdr[:trailerSize]); err != nil {
		pool.put(wire)
		return header{}, nil, err
	}
	if h.flags&flagZstd == 0 {
		return h, wire, nil
	}
	raw, err := p.dec.decompress(wire, int(h.rawLen))
	pool.put(wire)
	if err != nil {
		return header{}, nil, err
	}
	return h, raw, nil
}

// readPayload fills wire from the stream and returns its CRC32C, computed piece by piece as each read
// returns (while the bytes the kernel just copied are still in cache). The read deadline is renewed
// every crcChunkBytes so that a slow but live link is not mistaken for a dead one.
func (p *peer) readPayload(wire []byte, hb time.Duration) (uint32, error) {
	var crc uint32
	renew := crcChunkBytes
	for off := 0; off < len(wire); {
		if off >= renew {
			if err := p.s.SetReadDeadline(time.Now().Add(hb)); err != nil {
				return 0, err
			}
			renew = off + crcChunkBytes
		}
		n, err := p.br.read(wire[off:min(off+crcChunkBytes, len(wire))])
		crc = crc32c.Update(crc, wire[off:off+n])
		off += n
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			if off < len(wire) {
				return 0, err
			}
		}
	}
	return crc, nil
}

// release frees codec state and queued blocks after the reader has stopped.
func (p *peer) release() {
	p.wmu.Lock()
	p.enc.close()
	p.wmu.Unlock()
	p.dec.close()
	for _, b := range p.parts {
		pool.put(b)
	}
	p.parts = nil
	p.amu.Lock()
	for _, b := range p.a2a {
		pool.put(b.data)
	}
	p.a2a = nil
	p.amu.Unlock()
}

// left is the error for an operation that finds the peer gone: the communicator's fault when there is
// one (a peer that aborted records its fault before it counts as gone, and a fault elsewhere explains
// why this peer closed), else the peer's own departure.
func (p *peer) left(format string, args ...any) error {
	if err := p.c.Err(); err != nil {
		return err
	}
	return p.errorf(format+": %w", append(args, ErrPeerClosed)...)
}
