package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"jellybean/collective"
)

// Transport is what a rank needs of the collective: point-to-point stream messages and the two
// all-to-all exchanges at the start and end of a job. The TCP collective (*collective.Comm) is the real
// one; MemMesh runs a whole job inside one process without sockets, for tests.
type Transport interface {
	Size() int
	Send(ctx context.Context, dst int, edge uint16, payload []byte) error
	Recv(ctx context.Context) (collective.Message, error)
	// SparseAllToAllV exchanges one message between every pair of ranks without a connection per pair.
	SparseAllToAllV(ctx context.Context, send [][]byte) ([][]byte, error)
	// Abort reports this rank's failure to every rank at once: their operations then fail with a
	// *collective.PeerError wrapping a *collective.AbortError that carries reason.
	Abort(reason error)
	Stats() []collective.LinkStats
	Totals() collective.LinkStats
	Close() error
}

var _ Transport = (*collective.Comm)(nil)

// memInbox bounds the messages queued for one rank, like the TCP collective's credit bounds a link.
const memInbox = 64

// MemMesh connects the ranks of one in-process job through channels. A rank whose transport is closed
// is gone: sending to it fails with a *collective.PeerError, as a lost TCP connection would; an abort
// reaches every rank at once, as the collective's abort flood does.
type MemMesh struct {
	n     int
	inbox []chan collective.Message
	a2a   []chan collective.Message // all-to-all parts, kept apart from the stream
	gone  []chan struct{}
	once  []sync.Once
	mu    sync.Mutex
	links []map[[2]int]*collective.LinkStats // per rank: (peer, edge) -> counters

	abortOnce sync.Once
	aborted   chan struct{}
	abortErr  error // a *collective.PeerError naming the first rank that aborted
}

// NewMemMesh makes a mesh of n ranks.
func NewMemMesh(n int) *MemMesh {
	m := &MemMesh{n: n, inbox: make([]chan collective.Message, n), a2a: make([]chan collective.Message, n),
		gone: make([]chan struct{}, n), once: make([]sync.Once, n), links: make([]map[[2]int]*collective.LinkStats, n),
		aborted: make(chan struct{})}
	for r := range n {
		m.inbox[r] = make(chan collective.Message, memInbox)
		m.a2a[r] = make(chan collective.Message, n)
		m.gone[r] = make(chan struct{})
		m.links[r] = map[[2]int]*collective.LinkStats{}
	}
	return m
}

// Open returns rank's end of the mesh.
func (m *MemMesh) Open(rank int) Transport {
	return &memEnd{m: m, rank: rank, next: map[uint16][]collective.Message{}}
}

type memEnd struct {
	m    *MemMesh
	rank int
	seq  uint16                          // exchanges done: parts carry their exchange's number
	next map[uint16][]collective.Message // parts of later exchanges that arrived early
}

func (e *memEnd) Size() int { return e.m.n }

func (e *memEnd) count(peer int, edge uint16, sent bool, n int) {
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	k := [2]int{peer, int(edge)}
	l := e.m.links[e.rank][k]
	if l == nil {
		l = &collective.LinkStats{Peer: peer, Edge: edge}
		e.m.links[e.rank][k] = l
	}
	l.Messages++
	if sent {
		l.RawBytesSent += int64(n)
		l.WireBytesSent += int64(n)
	} else {
		l.RawBytesRecv += int64(n)
		l.WireBytesRecv += int64(n)
	}
}

func (e *memEnd) peerGone(dst int) error {
	select {
	case <-e.m.aborted: // the rank left because of an abort: report the abort, as the flood would
		return e.m.abortErr
	default:
	}
	return &collective.PeerError{Rank: dst, Addr: fmt.Sprintf("mem:%d", dst), Err: errors.New("connection lost: the rank left")}
}

func (e *memEnd) send(ctx context.Context, to []chan collective.Message, dst int, edge uint16, payload []byte) error {
	if dst < 0 || dst >= e.m.n {
		return fmt.Errorf("mem mesh: rank %d out of range", dst)
	}
	select {
	case <-e.m.gone[dst]:
		return e.peerGone(dst)
	default:
	}
	msg := collective.Message{Src: e.rank, Edge: edge, Payload: append([]byte(nil), payload...)}
	select {
	case to[dst] <- msg:
		e.count(dst, edge, true, len(payload))
		return nil
	case <-e.m.gone[dst]:
		return e.peerGone(dst)
	case <-e.m.aborted:
		return e.m.abortErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *memEnd) Send(ctx context.Context, dst int, edge uint16, payload []byte) error {
	return e.send(ctx, e.m.inbox, dst, edge, payload)
}

func (e *memEnd) Recv(ctx context.Context) (collective.Message, error) {
	select {
	case msg := <-e.m.inbox[e.rank]:
		e.count(msg.Src, msg.Edge, false, len(msg.Payload))
		return msg, nil
	case <-e.m.aborted:
		return collective.Message{}, e.m.abortErr
	case <-ctx.Done():
		return collective.Message{}, ctx.Err()
	}
}

func (e *memEnd) Abort(reason error) {
	e.m.abortOnce.Do(func() {
		e.m.abortErr = &collective.PeerError{Rank: e.rank, Addr: fmt.Sprintf("mem:%d", e.rank),
			Err: &collective.AbortError{Rank: e.rank, Reason: reason.Error()}}
		close(e.m.aborted)
	})
}

func (e *memEnd) SparseAllToAllV(ctx context.Context, send [][]byte) ([][]byte, error) {
	// A rank may finish an exchange and start the next while a slower one still waits for parts of the
	// first: parts carry their exchange's number, and early ones wait for their turn.
	e.seq++
	seq := e.seq
	recv := make([][]byte, e.m.n)
	recv[e.rank] = append([]byte(nil), send[e.rank]...)
	for dst := range e.m.n {
		if dst != e.rank {
			if err := e.send(ctx, e.m.a2a, dst, seq, send[dst]); err != nil {
				return nil, err
			}
		}
	}
	have := make([]bool, e.m.n)
	have[e.rank] = true
	got := 1
	take := func(msg collective.Message) {
		if msg.Edge != seq {
			e.next[msg.Edge] = append(e.next[msg.Edge], msg)
			return
		}
		recv[msg.Src], have[msg.Src] = msg.Payload, true
		got++
	}
	for _, msg := range e.next[seq] {
		take(msg)
	}
	delete(e.next, seq)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for got < e.m.n {
		select {
		case msg := <-e.m.a2a[e.rank]:
			take(msg)
		case <-e.m.aborted:
			return nil, e.m.abortErr
		case <-tick.C:
			// A rank that left before sending its part never will (the TCP collective sees the
			// connection close). Parts already queued count: a rank may send, finish and leave.
			for drained := false; !drained; {
				select {
				case msg := <-e.m.a2a[e.rank]:
					take(msg)
				default:
					drained = true
				}
			}
			if got == e.m.n {
				break
			}
			for r, ok := range have {
				select {
				case <-e.m.gone[r]:
					if !ok {
						return nil, e.peerGone(r)
					}
				default:
				}
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return recv, nil
}

func (e *memEnd) Stats() []collective.LinkStats {
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	var out []collective.LinkStats
	for _, l := range e.m.links[e.rank] {
		out = append(out, *l)
	}
	return out
}

func (e *memEnd) Totals() collective.LinkStats {
	var t collective.LinkStats
	for _, l := range e.Stats() {
		t.RawBytesSent += l.RawBytesSent
		t.WireBytesSent += l.WireBytesSent
		t.RawBytesRecv += l.RawBytesRecv
		t.WireBytesRecv += l.WireBytesRecv
		t.Messages += l.Messages
	}
	return t
}

func (e *memEnd) Close() error {
	e.m.once[e.rank].Do(func() { close(e.m.gone[e.rank]) })
	return nil
}
