package collective

import (
	"context"
	"fmt"
	"io"
)

// Message is one stream message received by Recv.
type Message struct {
	Src     int    // sending rank
	Edge    uint16 // edge id chosen by the sender
	Payload []byte // owned by the caller; may be handed back with Release when done
}

// msgCost is the stream credit a message of n payload bytes consumes; the per-message constant bounds
// the number of queued empty messages too.
func msgCost(n int) int64 { return int64(n) + 64 }

// Send delivers payload to rank dst as one stream message on edge. It blocks while dst's credit is
// exhausted (backpressure: at most CreditBytes in flight, or one larger message when nothing else is).
// payload may be reused after Send returns. Messages from one sender to one receiver arrive in order.
// Sending to our own rank copies the payload into our receive queue (no flow control).
func (c *Comm) Send(ctx context.Context, dst int, edge uint16, payload []byte) error {
	if err := c.checkUsable(); err != nil {
		return err
	}
	if dst < 0 || dst >= c.Size() {
		return fmt.Errorf("collective: Send to rank %d outside 0..%d", dst, c.Size()-1)
	}
	if len(payload) > c.cfg.MaxFrameBytes {
		return fmt.Errorf("collective: Send of %d bytes to rank %d exceeds MaxFrameBytes %d", len(payload), dst, c.cfg.MaxFrameBytes)
	}
	if dst == c.cfg.Rank {
		b := pool.get(len(payload))
		copy(b, payload)
		c.qmu.Lock()
		c.queue = append(c.queue, Message{Src: dst, Edge: edge, Payload: b})
		c.qmu.Unlock()
		signal(c.qnotify)
		return nil
	}
	p, err := c.peerFor(ctx, dst)
	if err != nil {
		return err
	}
	if err := p.acquireCredit(ctx, msgCost(len(payload))); err != nil {
		return err
	}
	return p.writeFrame(frameData, edge, 0, payload, true)
}

// acquireCredit waits until cost bytes of credit are available (or the whole window is, for a message
// larger than the window) and takes them.
func (p *peer) acquireCredit(ctx context.Context, cost int64) error {
	c := p.c
	full := int64(c.cfg.CreditBytes)
	for {
		if err := c.checkUsable(); err != nil {
			return err
		}
		select {
		case <-p.gone:
			return p.left("Send")
		default:
		}
		p.cmu.Lock()
		if p.credit >= cost || p.credit == full {
			p.credit -= cost
			left := p.credit > 0
			p.cmu.Unlock()
			if left {
				signal(p.creditCh) // another waiting sender may fit in what is left
			}
			return nil
		}
		p.cmu.Unlock()
		select {
		case <-p.creditCh:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.dead:
		case <-c.closing:
		case <-p.gone:
		}
	}
}

// enqueue is called by p's reader for each stream message. It enforces the credit protocol on the
// receiving side, so a misbehaving peer cannot make us buffer more than the window.
func (c *Comm) enqueue(p *peer, m Message) error {
	cost := msgCost(len(m.Payload))
	c.qmu.Lock()
	if p.unreturned > 0 && p.unreturned+cost > int64(c.cfg.CreditBytes) {
		c.qmu.Unlock()
		return p.errorf("protocol: sent %d bytes beyond its %d-byte stream credit", p.unreturned+cost-int64(c.cfg.CreditBytes), c.cfg.CreditBytes)
	}
	p.unreturned += cost
	p.queuedMsgs++
	if c.qhead > 64 && c.qhead*2 > len(c.queue) { // drop the consumed prefix so the queue cannot creep
		n := copy(c.queue, c.queue[c.qhead:])
		clear(c.queue[n:])
		c.queue, c.qhead = c.queue[:n], 0
	}
	c.queue = append(c.queue, m)
	c.qmu.Unlock()
	signal(c.qnotify)
	return nil
}

// Recv returns the next stream message from any peer, in arrival order (per sender: send order).
// Receiving frees credit for the sender. It returns a *PeerError if any peer faulted, io.EOF once every
// peer has closed gracefully and nothing is left, ErrClosed after Close, or ctx's error.
func (c *Comm) Recv(ctx context.Context) (Message, error) {
	for {
		if err := c.checkUsable(); err != nil {
			return Message{}, err
		}
		c.qmu.Lock()
		if c.qhead < len(c.queue) {
			m := c.queue[c.qhead]
			c.queue[c.qhead] = Message{}
			c.qhead++
			if c.qhead == len(c.queue) {
				c.queue, c.qhead = c.queue[:0], 0
			}
			more := c.qhead < len(c.queue)
			var p *peer
			var grant int64
			if m.Src != c.cfg.Rank {
				p = c.peers[m.Src].Load()
				p.queuedMsgs--
				p.creditToSend += msgCost(len(m.Payload))
				// Return credit in batches, but always when nothing else from p is queued: the sender may
				// be waiting for exactly this credit.
				if p.queuedMsgs == 0 || p.creditToSend >= int64(c.cfg.CreditBytes)/4 {
					grant = p.creditToSend
					p.creditToSend = 0
					p.unreturned -= grant
				}
			}
			c.qmu.Unlock()
			if more {
				signal(c.qnotify)
			}
			if grant > 0 {
				// An error here faults the communicator (or the peer already left); the message is ours.
				_ = p.writeFrame(frameCredit, 0, uint32(grant), nil, false)
			}
			c.counters(m.Src, m.Edge) // make sure self-traffic edges appear in Stats
			return m, nil
		}
		allGone := true // every connected peer has left (for a full mesh: every peer)
		for _, p := range c.connected() {
			if !isClosed(p.gone) {
				allGone = false
				break
			}
		}
		c.qmu.Unlock()
		if allGone {
			// A peer that relays a fault records it (fail closes c.dead) before it counts as gone, but
			// that may have happened after this loop's checkUsable: a fault goes before the end of the
			// stream, as peer.left does for a collective.
			if err := c.checkUsable(); err != nil {
				return Message{}, err
			}
			return Message{}, io.EOF
		}
		select {
		case <-c.qnotify:
		case <-ctx.Done():
			return Message{}, ctx.Err()
		case <-c.dead:
		case <-c.closing:
		}
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// AllToAllV sends send[j] to rank j and returns, at index i, the block rank i sent us (MPI_Alltoallv
// semantics; blocks may be empty; send[Rank()] is copied locally). The returned buffers are owned by the
// caller (Release them to recycle). Every rank must call it the same number of times, in the same order
// relative to Barrier.
func (c *Comm) AllToAllV(ctx context.Context, send [][]byte) ([][]byte, error) {
	recv := make([][]byte, c.Size())
	if err := c.AllToAllVInto(ctx, send, recv); err != nil {
		return nil, err
	}
	return recv, nil
}

// AllToAllVInto is AllToAllV without allocation in steady state: recv must have Size() entries; on
// return recv[i] holds rank i's block. Buffers previously in recv are recycled (released to the pool),
// so pass back the previous round's recv only when you no longer reference its blocks.
func (c *Comm) AllToAllVInto(ctx context.Context, send, recv [][]byte) error {
	n := c.Size()
	if len(send) != n || len(recv) != n {
		return fmt.Errorf("collective: AllToAllV needs %d send and recv blocks, got %d and %d", n, len(send), len(recv))
	}
	for j, b := range send {
		if len(b) > c.cfg.MaxFrameBytes {
			return fmt.Errorf("collective: AllToAllV block of %d bytes for rank %d exceeds MaxFrameBytes %d", len(b), j, c.cfg.MaxFrameBytes)
		}
	}
	c.collMu.Lock()
	defer c.collMu.Unlock()
	if err := c.checkUsable(); err != nil {
		return err
	}
	if c.collErr != nil {
		return c.collErr
	}
	round := c.round
	c.round++
	me := c.cfg.Rank
	// Send to rank+1, rank+2, ... so that ranks do not all start with the same destination.
	for k := 1; k < n; k++ {
		dst := (me + k) % n
		p, err := c.peerFor(ctx, dst)
		if err == nil {
			err = p.writeFrame(frameA2A, EdgeCollective, round, send[dst], true)
		}
		if err != nil {
			c.collErr = fmt.Errorf("collective: an earlier collective (round %d) failed: %w", round, err)
			return err
		}
	}
	if cap(recv[me]) >= len(send[me]) && recv[me] != nil {
		recv[me] = append(recv[me][:0], send[me]...)
	} else {
		pool.put(recv[me])
		recv[me] = pool.get(len(send[me]))
		copy(recv[me], send[me])
	}
	for k := 1; k < n; k++ {
		src := (me - k + n) % n
		p, err := c.peerFor(ctx, src)
		var b []byte
		if err == nil {
			b, err = p.takeA2A(ctx, round)
		}
		if err != nil {
			c.collErr = fmt.Errorf("collective: an earlier collective (round %d) was abandoned: %w", round, err)
			return err
		}
		pool.put(recv[src])
		recv[src] = b
	}
	return nil
}

// takeA2A waits for p's block of the given collective round.
func (p *peer) takeA2A(ctx context.Context, round uint32) ([]byte, error) {
	c := p.c
	for {
		if err := c.checkUsable(); err != nil {
			return nil, err
		}
		p.amu.Lock()
		if len(p.a2a) > 0 {
			b := p.a2a[0]
			copy(p.a2a, p.a2a[1:])
			p.a2a[len(p.a2a)-1] = a2aBlock{}
			p.a2a = p.a2a[:len(p.a2a)-1]
			p.amu.Unlock()
			if b.round != round {
				pool.put(b.data)
				err := p.errorf("protocol: sent a block of collective round %d while we are in round %d (mismatched collective calls?)", b.round, round)
				c.fail(err)
				return nil, err
			}
			return b.data, nil
		}
		p.amu.Unlock()
		if isClosed(p.gone) {
			return nil, p.left("left before collective round %d", round)
		}
		select {
		case <-p.a2aCh:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.dead:
		case <-c.closing:
		case <-p.gone:
			// Re-check the queue once: the block may have arrived just before the goodbye.
			p.amu.Lock()
			empty := len(p.a2a) == 0
			p.amu.Unlock()
			if empty {
				return nil, p.left("left before collective round %d", round)
			}
		}
	}
}
