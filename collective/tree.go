package collective

import (
	"context"
	"encoding/binary"
	"fmt"
)

// The control tree: rank 0 is the root and rank r's children are treeFanout*r+1 .. treeFanout*r+treeFanout
// (a complete k-ary tree in rank order). A sparse communicator connects exactly these pairs at Open, so
// every rank holds at most treeFanout+1 control connections whatever the job size, the tree's depth is
// log_k(n) (5 hops at 1,000 ranks) for faults to flood and for Barrier, and a rank missing at start-up
// is noticed by its parent.
const treeFanout = 4

func treeParent(r int) int { return (r - 1) / treeFanout }

// treeChildren returns r's children in a job of n ranks.
func treeChildren(r, n int) []int {
	var ch []int
	for c := treeFanout*r + 1; c <= treeFanout*r+treeFanout && c < n; c++ {
		ch = append(ch, c)
	}
	return ch
}

// treeNeighbours returns r's parent (unless r is the root) and children.
func treeNeighbours(r, n int) []int {
	var nb []int
	if r > 0 {
		nb = append(nb, treeParent(r))
	}
	return append(nb, treeChildren(r, n)...)
}

// inSubtree reports whether rank x lies in the subtree rooted at s.
func inSubtree(x, s int) bool {
	for x > s {
		x = treeParent(x)
	}
	return x == s
}

// childToward returns the child of r whose subtree holds x (x must be in r's subtree, x != r).
func childToward(r, x int) int {
	for treeParent(x) != r {
		x = treeParent(x)
	}
	return x
}

// record is one block of a routed exchange: from src to dst.
type record struct {
	src, dst int
	data     []byte
}

const recordHeader = 12

func appendRecord(dst []byte, r record) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(r.src))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(r.dst))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(r.data)))
	return append(dst, r.data...)
}

// parseRecords decodes a block of records; every src and dst must be a rank of the job, and accept
// must hold for each (the records a tree neighbour may legitimately send us).
func parseRecords(b []byte, n int, accept func(record) bool) ([]record, error) {
	var rs []record
	for len(b) > 0 {
		if len(b) < recordHeader {
			return nil, fmt.Errorf("truncated routed block (%d bytes left)", len(b))
		}
		r := record{src: int(binary.LittleEndian.Uint32(b)), dst: int(binary.LittleEndian.Uint32(b[4:]))}
		size := int(binary.LittleEndian.Uint32(b[8:]))
		b = b[recordHeader:]
		if size > len(b) {
			return nil, fmt.Errorf("routed record of %d bytes in %d", size, len(b))
		}
		if r.src < 0 || r.src >= n || r.dst < 0 || r.dst >= n || !accept(r) {
			return nil, fmt.Errorf("routed record %d -> %d does not belong on this link", r.src, r.dst)
		}
		r.data = b[:size:size]
		b = b[size:]
		rs = append(rs, r)
	}
	return rs, nil
}

// SparseAllToAllV has AllToAllV's semantics (send[j] goes to rank j; the result holds, at index i, the
// block rank i sent us; empty blocks allowed) but routes the blocks over the control tree instead of
// direct connections: up to the lowest common ancestor, then down. It opens no connection, so it suits
// exchanges where few blocks are non-empty (one rank broadcasting, every rank reporting to one) in a
// sparse communicator; a dense exchange of large blocks belongs to AllToAllV. Its rounds are ordered
// with AllToAllV's and Barrier's: every rank must call them in the same order.
func (c *Comm) SparseAllToAllV(ctx context.Context, send [][]byte) ([][]byte, error) {
	n := c.Size()
	if len(send) != n {
		return nil, fmt.Errorf("collective: SparseAllToAllV needs %d send blocks, got %d", n, len(send))
	}
	total := 0
	for j, b := range send {
		if len(b) > c.cfg.MaxFrameBytes {
			return nil, fmt.Errorf("collective: SparseAllToAllV block of %d bytes for rank %d exceeds MaxFrameBytes %d", len(b), j, c.cfg.MaxFrameBytes)
		}
		total += len(b)
	}
	c.collMu.Lock()
	defer c.collMu.Unlock()
	if err := c.checkUsable(); err != nil {
		return nil, err
	}
	if c.collErr != nil {
		return nil, c.collErr
	}
	round := c.round
	c.round++
	recv, err := c.treeExchange(ctx, round, send)
	if err != nil {
		c.collErr = fmt.Errorf("collective: an earlier collective (round %d) failed: %w", round, err)
		return nil, err
	}
	return recv, nil
}

// treeExchange runs one routed round: records climb until they reach a rank whose subtree holds their
// destination, then descend. Each tree link carries exactly one block per direction per round, which
// keeps tree rounds in step with AllToAllV rounds on the same connections.
func (c *Comm) treeExchange(ctx context.Context, round uint32, send [][]byte) ([][]byte, error) {
	n, me := c.Size(), c.cfg.Rank
	recv := make([][]byte, n)
	var local []record // records whose destination is in our subtree
	var up []record    // records that must leave our subtree
	route := func(r record) {
		if r.dst == me {
			recv[r.src] = append(pool.get(len(r.data))[:0], r.data...)
		} else if inSubtree(r.dst, me) {
			local = append(local, r)
		} else {
			up = append(up, r)
		}
	}
	for j, b := range send {
		if len(b) > 0 || j == me {
			route(record{src: me, dst: j, data: b})
		}
	}
	var held [][]byte // received blocks that records point into, released at the end
	defer func() {
		for _, b := range held {
			pool.put(b)
		}
	}()
	take := func(from int) ([]byte, error) {
		p, err := c.peerFor(ctx, from)
		if err != nil {
			return nil, err
		}
		b, err := p.takeA2A(ctx, round)
		if err != nil {
			return nil, err
		}
		held = append(held, b)
		return b, nil
	}
	give := func(to int, rs []record) error {
		p, err := c.peerFor(ctx, to)
		if err != nil {
			return err
		}
		size := 0
		for _, r := range rs {
			size += recordHeader + len(r.data)
		}
		if size > c.cfg.MaxFrameBytes {
			return fmt.Errorf("collective: routed block of %d bytes for rank %d exceeds MaxFrameBytes %d", size, to, c.cfg.MaxFrameBytes)
		}
		buf := pool.get(size)[:0]
		for _, r := range rs {
			buf = appendRecord(buf, r)
		}
		err = p.writeFrame(frameA2A, EdgeCollective, round, buf, true)
		pool.put(buf)
		return err
	}

	// Up: collect our children's outgoing records, pass on what leaves our subtree.
	children := treeChildren(me, n)
	for _, ch := range children {
		b, err := take(ch)
		if err != nil {
			return nil, err
		}
		rs, err := parseRecords(b, n, func(r record) bool { return inSubtree(r.src, ch) && !inSubtree(r.dst, ch) })
		if err != nil {
			return nil, c.protocolFault(ch, err)
		}
		for _, r := range rs {
			route(r)
		}
	}
	if me != 0 {
		parent := treeParent(me)
		if err := give(parent, up); err != nil {
			return nil, err
		}
		// Down: what our parent routes into our subtree.
		b, err := take(parent)
		if err != nil {
			return nil, err
		}
		rs, err := parseRecords(b, n, func(r record) bool { return !inSubtree(r.src, me) && inSubtree(r.dst, me) })
		if err != nil {
			return nil, c.protocolFault(parent, err)
		}
		for _, r := range rs {
			route(r)
		}
	} else if len(up) > 0 {
		return nil, fmt.Errorf("collective: routed records with no destination in the job")
	}
	byChild := make(map[int][]record, len(children))
	for _, r := range local {
		ch := childToward(me, r.dst)
		byChild[ch] = append(byChild[ch], r)
	}
	for _, ch := range children {
		if err := give(ch, byChild[ch]); err != nil {
			return nil, err
		}
	}
	for i := range recv {
		if recv[i] == nil {
			recv[i] = []byte{}
		}
	}
	return recv, nil
}

// protocolFault faults the communicator because rank r sent a malformed routed block.
func (c *Comm) protocolFault(r int, err error) error {
	pe := &PeerError{Rank: r, Addr: c.cfg.Peers[r].addr(), Err: fmt.Errorf("protocol: %w", err)}
	c.fail(pe)
	return pe
}

// Barrier returns once every rank has entered it: one empty round over the control tree.
func (c *Comm) Barrier(ctx context.Context) error {
	_, err := c.SparseAllToAllV(ctx, make([][]byte, c.Size()))
	return err
}
