package collective

import (
	"sort"
	"sync/atomic"
)

// LinkStats are the byte counters of one (peer, edge) pair. Raw bytes are payload bytes as the caller
// sees them, wire bytes what crossed the socket (after compression, without frame headers).
// Edge EdgeCollective counts AllToAllV and Barrier traffic.
type LinkStats struct {
	Peer                                                     int
	Edge                                                     uint16
	RawBytesSent, WireBytesSent, RawBytesRecv, WireBytesRecv int64
	Messages                                                 int64 // messages sent plus received
}

type linkCounters struct {
	rawSent, wireSent, rawRecv, wireRecv, msgs atomic.Int64
}

// sent counts one frame; msg says it completes a message (the last part of a multi-part one).
func (l *linkCounters) sent(raw, wire int, msg bool) {
	l.rawSent.Add(int64(raw))
	l.wireSent.Add(int64(wire))
	if msg {
		l.msgs.Add(1)
	}
}

func (l *linkCounters) recv(raw, wire int, msg bool) {
	l.rawRecv.Add(int64(raw))
	l.wireRecv.Add(int64(wire))
	if msg {
		l.msgs.Add(1)
	}
}

// counters returns the counters of (peer, edge), creating them on first use (the only allocation).
func (c *Comm) counters(peer int, edge uint16) *linkCounters {
	key := uint32(peer)<<16 | uint32(edge)
	c.statsMu.RLock()
	l := c.stats[key]
	c.statsMu.RUnlock()
	if l != nil {
		return l
	}
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	if l = c.stats[key]; l == nil {
		l = &linkCounters{}
		c.stats[key] = l
	}
	return l
}

// Stats returns a snapshot of the per-(peer, edge) counters, sorted by peer then edge.
func (c *Comm) Stats() []LinkStats {
	c.statsMu.RLock()
	out := make([]LinkStats, 0, len(c.stats))
	for key, l := range c.stats {
		out = append(out, LinkStats{
			Peer: int(key >> 16), Edge: uint16(key),
			RawBytesSent: l.rawSent.Load(), WireBytesSent: l.wireSent.Load(),
			RawBytesRecv: l.rawRecv.Load(), WireBytesRecv: l.wireRecv.Load(),
			Messages: l.msgs.Load(),
		})
	}
	c.statsMu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Peer != out[j].Peer {
			return out[i].Peer < out[j].Peer
		}
		return out[i].Edge < out[j].Edge
	})
	return out
}

// Totals sums Stats over all peers and edges (Peer and Edge of the result are -1 and 0).
func (c *Comm) Totals() LinkStats {
	t := LinkStats{Peer: -1}
	for _, s := range c.Stats() {
		t.RawBytesSent += s.RawBytesSent
		t.WireBytesSent += s.WireBytesSent
		t.RawBytesRecv += s.RawBytesRecv
		t.WireBytesRecv += s.WireBytesRecv
		t.Messages += s.Messages
	}
	return t
}
