package collective

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"jellybean/collective/crc32c"
)

// Handshake (dialer D = higher rank, acceptor A = lower rank), all frames uncompressed:
//
//	D -> A  hello     {D's rank, A's rank, job size, nonceD, job id}
//	A -> D  hello-ack {A's rank, D's rank, job size, nonceA, job id, macA}
//	D -> A  auth      {macD}
//	A -> D  ready     {}
//
// macA = HMAC-SHA256(secret, "acceptor" | transcript), macD = HMAC-SHA256(secret, "dialer" | transcript),
// transcript = job id, both ranks, size and both nonces. Each side proves it holds the job secret over
// fresh nonces from the other side, so neither a replay nor a peer without the secret gets through, and
// no data frame is accepted before the handshake completes.
//
// The rendezvous (rendezvous.go) runs the same exchange with a rendezvous-hello first frame and its own
// proof labels, so that a rendezvous proof can never be replayed as a mesh connection or the reverse.

// ErrAuth is wrapped by handshake failures that retrying cannot fix (wrong secret, job, rank or size).
var ErrAuth = errors.New("handshake rejected")

const (
	nonceSize          = 32
	macSize            = sha256.Size
	maxHandshakeFrame  = 4096
	maxJobIDBytes      = 1024
	helloFixedSize     = 4 + 4 + 4 + nonceSize + 2
	labelAcceptorProof = "jellybean-collective/v1 acceptor"
	labelDialerProof   = "jellybean-collective/v1 dialer"
	labelRendezvous    = " rendezvous"
)

// labels returns the acceptor's and the dialer's proof labels for a handshake opened by helloType.
func labels(helloType frameType) (acceptor, dialer string) {
	if helloType == frameRVHello {
		return labelAcceptorProof + labelRendezvous, labelDialerProof + labelRendezvous
	}
	return labelAcceptorProof, labelDialerProof
}

type hello struct {
	from, to, size int
	nonce          [nonceSize]byte
	job            string
}

func (h *hello) append(dst []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(h.from))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(h.to))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(h.size))
	dst = append(dst, h.nonce[:]...)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(h.job)))
	return append(dst, h.job...)
}

// parseHello decodes a hello and returns the bytes after it (the MAC of a hello-ack).
func parseHello(b []byte) (hello, []byte, error) {
	var h hello
	if len(b) < helloFixedSize {
		return h, nil, fmt.Errorf("%w: hello of %d bytes is too short", ErrAuth, len(b))
	}
	h.from = int(binary.LittleEndian.Uint32(b[0:]))
	h.to = int(binary.LittleEndian.Uint32(b[4:]))
	h.size = int(binary.LittleEndian.Uint32(b[8:]))
	copy(h.nonce[:], b[12:12+nonceSize])
	n := int(binary.LittleEndian.Uint16(b[12+nonceSize:]))
	rest := b[helloFixedSize:]
	if n > len(rest) {
		return h, nil, fmt.Errorf("%w: hello job id length %d exceeds frame", ErrAuth, n)
	}
	h.job = string(rest[:n])
	return h, rest[n:], nil
}

func proof(secret []byte, label, job string, dialer, acceptor, size int, nonceD, nonceA []byte) []byte {
	m := hmac.New(sha256.New, secret)
	var num [12]byte
	binary.LittleEndian.PutUint32(num[0:], uint32(dialer))
	binary.LittleEndian.PutUint32(num[4:], uint32(acceptor))
	binary.LittleEndian.PutUint32(num[8:], uint32(size))
	var jl [2]byte
	binary.LittleEndian.PutUint16(jl[:], uint16(len(job)))
	m.Write([]byte(label))
	m.Write(jl[:])
	m.Write([]byte(job))
	m.Write(num[:])
	m.Write(nonceD)
	m.Write(nonceA)
	return m.Sum(nil)
}

// handshakeIO reads and writes whole small frames with one deadline for the whole handshake.
type handshakeIO struct {
	s     Stream
	buf   []byte
	limit int // largest frame accepted; 0 = maxHandshakeFrame
}

func (h *handshakeIO) send(typ frameType, payload []byte) error {
	h.buf = appendFrame(h.buf[:0], typ, 0, 0, payload)
	_, err := h.s.Write(h.buf)
	return err
}

func (h *handshakeIO) recv(want frameType) ([]byte, error) {
	p, _, err := h.recvOneOf(want, want)
	return p, err
}

// recvOneOf reads a frame that must be of type a or b.
func (h *handshakeIO) recvOneOf(want, alt frameType) ([]byte, frameType, error) {
	var hb [headerSize]byte
	if _, err := io.ReadFull(h.s, hb[:]); err != nil {
		return nil, 0, fmt.Errorf("reading %s: %w", want, err)
	}
	limit := h.limit
	if limit == 0 {
		limit = maxHandshakeFrame
	}
	hd, err := parseHeader(hb[:], limit)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrAuth, err)
	}
	if (hd.typ != want && hd.typ != alt) || hd.flags != 0 {
		return nil, 0, fmt.Errorf("%w: got %s frame (flags %#x) during handshake, want %s", ErrAuth, hd.typ, hd.flags, want)
	}
	p := make([]byte, int(hd.wireLen)+trailerSize)
	if _, err := io.ReadFull(h.s, p); err != nil {
		return nil, 0, fmt.Errorf("reading %s payload: %w", hd.typ, err)
	}
	p, trailer := p[:hd.wireLen], p[hd.wireLen:]
	if err := checkPayload(hd, crc32c.Checksum(p), trailer); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrAuth, err)
	}
	return p, hd.typ, nil
}

// dialHandshake runs the dialer side of a mesh connection against the acceptor rank `to`.
func dialHandshake(s Stream, job string, secret []byte, from, to, size int, deadline time.Time) error {
	return dialHandshakeAs(s, frameHello, job, secret, from, to, size, deadline)
}

// dialHandshakeAs runs the dialer side of a handshake opened by helloType (mesh or rendezvous).
func dialHandshakeAs(s Stream, helloType frameType, job string, secret []byte, from, to, size int, deadline time.Time) error {
	labelA, labelD := labels(helloType)
	if err := s.SetReadDeadline(deadline); err != nil {
		return err
	}
	if err := s.SetWriteDeadline(deadline); err != nil {
		return err
	}
	hs := &handshakeIO{s: s}
	me := hello{from: from, to: to, size: size, job: job}
	if _, err := rand.Read(me.nonce[:]); err != nil {
		return err
	}
	if err := hs.send(helloType, me.append(nil)); err != nil {
		return fmt.Errorf("sending hello: %w", err)
	}
	p, err := hs.recv(frameHelloAck)
	if err != nil {
		return err
	}
	them, mac, err := parseHello(p)
	if err != nil {
		return err
	}
	if err := checkHello(them, job, to, from, size); err != nil {
		return err
	}
	want := proof(secret, labelA, job, from, to, size, me.nonce[:], them.nonce[:])
	if len(mac) != macSize || !hmac.Equal(mac, want) {
		return fmt.Errorf("%w: rank %d failed to prove the job secret (different secret?)", ErrAuth, to)
	}
	if err := hs.send(frameAuth, proof(secret, labelD, job, from, to, size, me.nonce[:], them.nonce[:])); err != nil {
		return fmt.Errorf("sending auth: %w", err)
	}
	if _, err := hs.recv(frameReady); err != nil {
		return fmt.Errorf("%w (the peer closed the connection: it probably rejected our secret)", err)
	}
	return clearDeadlines(s)
}

// acceptHandshake runs the acceptor side of a mesh connection and returns the dialer's rank. accept
// decides whether that rank may connect now (e.g. it is not already connected); it must not block.
func acceptHandshake(s Stream, job string, secret []byte, self, size int, deadline time.Time, accept func(rank int) error) (int, error) {
	rank, _, err := acceptAnyHandshake(s, job, secret, self, size, deadline, func(rank int, helloType frameType) error {
		if helloType != frameHello {
			return fmt.Errorf("%w: rank %d opened a rendezvous handshake with a rank that is not the rendezvous", ErrAuth, rank)
		}
		return accept(rank)
	})
	return rank, err
}

// acceptAnyHandshake runs the acceptor side of a mesh or rendezvous handshake and returns the dialer's
// rank and the kind of handshake (frameHello or frameRVHello) it opened.
func acceptAnyHandshake(s Stream, job string, secret []byte, self, size int, deadline time.Time, accept func(rank int, helloType frameType) error) (int, frameType, error) {
	if err := s.SetReadDeadline(deadline); err != nil {
		return -1, 0, err
	}
	if err := s.SetWriteDeadline(deadline); err != nil {
		return -1, 0, err
	}
	hs := &handshakeIO{s: s}
	p, helloType, err := hs.recvOneOf(frameHello, frameRVHello)
	if err != nil {
		return -1, 0, err
	}
	labelA, labelD := labels(helloType)
	them, _, err := parseHello(p)
	if err != nil {
		return -1, 0, err
	}
	if err := checkHello(them, job, them.from, self, size); err != nil {
		return -1, 0, err
	}
	if them.from == self || them.from >= size {
		return -1, 0, fmt.Errorf("%w: rank %d may not dial rank %d (itself or outside the job)", ErrAuth, them.from, self)
	}
	me := hello{from: self, to: them.from, size: size, job: job}
	if _, err := rand.Read(me.nonce[:]); err != nil {
		return -1, 0, err
	}
	ack := me.append(nil)
	ack = append(ack, proof(secret, labelA, job, them.from, self, size, them.nonce[:], me.nonce[:])...)
	if err := hs.send(frameHelloAck, ack); err != nil {
		return -1, 0, fmt.Errorf("sending hello-ack to rank %d: %w", them.from, err)
	}
	mac, err := hs.recv(frameAuth)
	if err != nil {
		return -1, 0, fmt.Errorf("rank %d: %w", them.from, err)
	}
	want := proof(secret, labelD, job, them.from, self, size, them.nonce[:], me.nonce[:])
	if len(mac) != macSize || !hmac.Equal(mac, want) {
		return -1, 0, fmt.Errorf("%w: connection claiming rank %d failed to prove the job secret", ErrAuth, them.from)
	}
	if err := accept(them.from, helloType); err != nil {
		return -1, 0, err
	}
	if err := hs.send(frameReady, nil); err != nil {
		return -1, 0, fmt.Errorf("sending ready to rank %d: %w", them.from, err)
	}
	return them.from, helloType, clearDeadlines(s)
}

// checkHello verifies the peer's hello names our job, the expected ranks and the same job size.
func checkHello(h hello, job string, from, to, size int) error {
	switch {
	case h.job != job:
		return fmt.Errorf("%w: peer belongs to job %q, we are job %q", ErrAuth, h.job, job)
	case h.size != size:
		return fmt.Errorf("%w: peer thinks the job has %d ranks, we have %d", ErrAuth, h.size, size)
	case h.from != from || h.to != to:
		return fmt.Errorf("%w: peer says it is rank %d talking to rank %d, expected rank %d talking to rank %d",
			ErrAuth, h.from, h.to, from, to)
	}
	return nil
}

func clearDeadlines(s Stream) error {
	if err := s.SetReadDeadline(time.Time{}); err != nil {
		return err
	}
	return s.SetWriteDeadline(time.Time{})
}
