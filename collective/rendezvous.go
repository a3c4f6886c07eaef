package collective

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// Rendezvous: only rank 0's address is known in advance (Config.Peers[0]; the other ranks' ports are 0).
// Every other rank listens on a port the kernel picks, connects to rank 0, proves the job secret (the
// handshake of handshake.go, opened with a rendezvous-hello) and registers that port; once all ranks have
// registered, rank 0 replies to each with the table of every rank's port. Two jobs on one host therefore
// never compete for ports except rank 0's, which the launcher picks free.
//
//	rank r -> 0  register {u16 port}
//	0 -> rank r  table    {u16 port of rank 0, 1, ..., n-1}

// rendezvousHost is rank 0's side: the registered ranks and their connections, replied to all at once.
type rendezvousHost struct {
	mu     sync.Mutex
	n      int
	ports  []int
	conns  map[int]Stream
	table  []byte // set once complete
	done   chan struct{}
	closed bool
}

func newRendezvousHost(n int) *rendezvousHost {
	return &rendezvousHost{n: n, ports: make([]int, n), conns: make(map[int]Stream), done: make(chan struct{})}
}

// register reads rank's registration from s (after its handshake). It reports whether s is kept
// (until the table goes out); a rank registering after the table was built gets it at once.
func (h *rendezvousHost) register(c *Comm, rank int, s Stream) bool {
	hs := &handshakeIO{s: s}
	deadline := time.Now().Add(c.handshakeTimeout())
	if s.SetReadDeadline(deadline) != nil || s.SetWriteDeadline(deadline) != nil {
		return false
	}
	p, err := hs.recv(frameRegister)
	if err != nil || len(p) != 2 || binary.LittleEndian.Uint16(p) == 0 {
		c.cfg.Logf("collective: rendezvous: bad registration from rank %d: %v", rank, err)
		return false
	}
	port := int(binary.LittleEndian.Uint16(p))
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return false
	}
	if h.table != nil { // late (e.g. a retry after a lost reply): the table is final
		table := h.table
		h.mu.Unlock()
		if table[2*rank] != p[0] || table[2*rank+1] != p[1] {
			c.cfg.Logf("collective: rendezvous: rank %d registered port %d after the table was sent", rank, port)
			return false
		}
		_ = hs.send(frameTable, table)
		return false
	}
	if old, ok := h.conns[rank]; ok { // a retry: the newer connection replaces the older one
		old.Close()
	}
	if clearDeadlines(s) != nil {
		h.mu.Unlock()
		return false
	}
	h.conns[rank] = s
	h.ports[rank] = port
	if len(h.conns) == h.n-1 {
		close(h.done)
	}
	h.mu.Unlock()
	return true
}

// closeAll drops connections still waiting for the table (Close, failed Open).
func (h *rendezvousHost) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for r, s := range h.conns {
		s.Close()
		delete(h.conns, r)
	}
}

// rendezvous fills in every rank's port: rank 0 waits for all registrations and replies to them, every
// other rank registers with rank 0.
func (c *Comm) rendezvous(ctx context.Context) error {
	if c.cfg.Rank == 0 {
		return c.hostRendezvous(ctx)
	}
	return c.joinRendezvous(ctx)
}

func (c *Comm) hostRendezvous(ctx context.Context) error {
	h := c.rv
	select {
	case <-h.done:
	case <-ctx.Done():
		h.mu.Lock()
		defer h.mu.Unlock()
		for r := 1; r < h.n; r++ {
			if _, ok := h.conns[r]; !ok {
				return &PeerError{Rank: r, Addr: c.cfg.Peers[r].Host, Err: fmt.Errorf(
					"did not register at the rendezvous %s within %v (%d of %d ranks did): %w",
					c.ln.Addr(), c.cfg.ConnectTimeout, len(h.conns), h.n-1, ctx.Err())}
			}
		}
		return ctx.Err()
	}
	h.mu.Lock()
	h.ports[0] = c.ln.Addr().(*net.TCPAddr).Port
	table := make([]byte, 0, 2*h.n)
	for _, p := range h.ports {
		table = binary.LittleEndian.AppendUint16(table, uint16(p))
	}
	h.table = table
	conns := h.conns
	h.conns = map[int]Stream{}
	for r, p := range h.ports {
		c.cfg.Peers[r].Port = p
	}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for r, s := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.Close()
			hs := &handshakeIO{s: s}
			if err := hs.send(frameTable, table); err != nil {
				c.cfg.Logf("collective: rendezvous: sending the table to rank %d: %v", r, err)
			}
		}()
	}
	wg.Wait()
	return nil
}

// joinRendezvous registers this rank's port with rank 0 and reads the table, retrying until ctx ends
// (rank 0 may start later than we do).
func (c *Comm) joinRendezvous(ctx context.Context) error {
	addr := c.cfg.Peers[0].addr()
	port := c.ln.Addr().(*net.TCPAddr).Port
	n := len(c.cfg.Peers)
	backoff := 10 * time.Millisecond
	var last error
	for {
		ports, err := c.registerOnce(ctx, addr, port)
		if err == nil {
			for r, p := range ports {
				if r != c.cfg.Rank {
					c.cfg.Peers[r].Port = p
				}
			}
			return nil
		}
		if errors.Is(err, ErrAuth) {
			return &PeerError{Rank: 0, Addr: addr, Err: fmt.Errorf("rendezvous: %w", err)}
		}
		last = err
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return &PeerError{Rank: 0, Addr: addr, Err: fmt.Errorf("rendezvous (rank 0) not reached or did not reply within %v (%d ranks): %w",
				c.cfg.ConnectTimeout, n, last)}
		case <-t.C:
		}
		backoff = min(backoff*2, 500*time.Millisecond)
	}
}

func (c *Comm) registerOnce(ctx context.Context, addr string, port int) ([]int, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, describeNetError(err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	n := len(c.cfg.Peers)
	if err := dialHandshakeAs(conn, frameRVHello, c.cfg.JobID, c.cfg.Secret, c.cfg.Rank, 0, n, time.Now().Add(c.handshakeTimeout())); err != nil {
		return nil, err
	}
	hs := &handshakeIO{s: conn, limit: 2*n + 64}
	if err := hs.send(frameRegister, binary.LittleEndian.AppendUint16(nil, uint16(port))); err != nil {
		return nil, err
	}
	p, err := hs.recv(frameTable) // rank 0 replies once every rank registered: no deadline but ctx's
	if err != nil {
		return nil, err
	}
	if len(p) != 2*n {
		return nil, fmt.Errorf("%w: rendezvous table of %d bytes for %d ranks", ErrAuth, len(p), n)
	}
	ports := make([]int, n)
	for r := range ports {
		ports[r] = int(binary.LittleEndian.Uint16(p[2*r:]))
		if ports[r] == 0 {
			return nil, fmt.Errorf("%w: rendezvous table has no port for rank %d", ErrAuth, r)
		}
	}
	if ports[c.cfg.Rank] != port {
		return nil, fmt.Errorf("rendezvous table gives us port %d, we registered %d", ports[c.cfg.Rank], port)
	}
	return ports, nil
}

// RendezvousPeers turns a fixed-port peer list into a rendezvous one: rank 0 at rendezvous (host:port),
// every other rank's port left to learn. It also returns the address this rank listens on: listen's host
// part with rank 0's port for rank 0, port 0 (any free port) for the others.
func RendezvousPeers(peers []Peer, rank int, rendezvous, listen string) ([]Peer, string, error) {
	host, portText, err := net.SplitHostPort(rendezvous)
	if err != nil {
		return nil, "", fmt.Errorf("rendezvous address %q: want HOST:PORT: %w", rendezvous, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port <= 0 || port > 65535 {
		return nil, "", fmt.Errorf("rendezvous address %q: port %q is not in 1..65535", rendezvous, portText)
	}
	if len(peers) == 0 || rank < 0 || rank >= len(peers) {
		return nil, "", fmt.Errorf("rendezvous: rank %d outside the %d peers", rank, len(peers))
	}
	listenHost, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, "", fmt.Errorf("listen address %q: %w", listen, err)
	}
	out := append([]Peer(nil), peers...)
	if host != "" {
		out[0].Host = host
	}
	out[0].Port = port
	for r := 1; r < len(out); r++ {
		out[r].Port = 0
	}
	if rank == 0 {
		return out, net.JoinHostPort(listenHost, portText), nil
	}
	return out, net.JoinHostPort(listenHost, "0"), nil
}
