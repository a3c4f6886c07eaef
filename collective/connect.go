package collective

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// Connections. Every rank listens for the communicator's whole lifetime. At Open a rank connects to its
// initial peers: all of them (full mesh), or with Config.Sparse its control-tree neighbours; any other
// peer is connected the first time an operation needs it. Either side may dial. When two ranks dial each
// other at the same moment, the connection dialed by the higher rank is kept: each acceptor decides this
// under the same lock that records its own dialing, so exactly one connection survives per pair.

// Open listens, learns the other ranks' addresses at the rendezvous when their ports are not given,
// connects to the initial peers and returns once all of them are connected (or ctx/ConnectTimeout
// expires). A failure names the peer rank, host and port that could not be reached.
func Open(ctx context.Context, cfg Config) (*Comm, error) {
	comp, err := cfg.validate()
	if err != nil {
		if cfg.Listener != nil {
			cfg.Listener.Close()
		}
		return nil, err
	}
	n := len(cfg.Peers)
	cfg.Peers = append([]Peer(nil), cfg.Peers...) // ports learnt at the rendezvous are filled in
	c := &Comm{
		cfg:        cfg,
		comp:       comp,
		peers:      make([]atomic.Pointer[peer], n),
		claimed:    make([]bool, n),
		dialing:    make([]bool, n),
		installed:  make([]chan struct{}, n),
		inflight:   make(map[net.Conn]struct{}),
		tableReady: make(chan struct{}),
		dead:       make(chan struct{}),
		closing:    make(chan struct{}),
		stopBeat:   make(chan struct{}),
		qnotify:    make(chan struct{}, 1),
		stats:      make(map[uint32]*linkCounters),
	}
	for r := range c.installed {
		c.installed[r] = make(chan struct{})
	}
	if err := checkDescriptorLimit(c.expectedConnections()); err != nil {
		if cfg.Listener != nil {
			cfg.Listener.Close()
		}
		return nil, fmt.Errorf("collective: rank %d: %w", cfg.Rank, err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	// Heartbeats start with the first connection: a peer connected early must not time out while we
	// wait for the others.
	c.wg.Add(1)
	go c.heartbeatLoop()
	if err := c.start(ctx); err != nil {
		c.closeAfterFailedOpen()
		return nil, err
	}
	return c, nil
}

// start listens, runs the rendezvous if needed, and connects the initial peers.
func (c *Comm) start(ctx context.Context) error {
	cfg := &c.cfg
	c.ln = cfg.Listener
	if c.ln == nil {
		addr := cfg.ListenAddr
		if addr == "" {
			addr = net.JoinHostPort(cfg.Peers[cfg.Rank].Host, strconv.Itoa(cfg.Peers[cfg.Rank].Port))
		}
		var lc net.ListenConfig
		var err error
		if c.ln, err = lc.Listen(ctx, "tcp", addr); err != nil {
			return fmt.Errorf("collective: rank %d: listen on %s: %w", cfg.Rank, addr, describeNetError(err))
		}
	}
	cfg.Logf("collective: rank %d listens on %s", cfg.Rank, c.ln.Addr())
	if c.needsRendezvous() && cfg.Rank == 0 {
		c.rv = newRendezvousHost(len(cfg.Peers))
	}
	c.acceptWG.Add(1)
	go c.acceptLoop()

	if c.needsRendezvous() {
		if err := c.rendezvous(ctx); err != nil {
			return err
		}
	}
	close(c.tableReady)

	initial := c.initialPeers()
	errs := make(chan error, len(initial))
	for _, r := range initial {
		if r < cfg.Rank { // the higher rank of each initial pair dials
			go func() {
				_, err := c.peerFor(ctx, r)
				errs <- err
			}()
		}
	}
	for _, r := range initial {
		for waiting := true; waiting; {
			select {
			case <-c.installed[r]:
				waiting = false
			case err := <-errs:
				if err != nil {
					return err
				}
			case <-ctx.Done():
				return c.missingPeersError(initial, ctx.Err())
			case <-c.dead:
				return c.Err()
			}
		}
	}
	return nil
}

// needsRendezvous reports whether some rank's port is still unknown (Config.Peers with port 0).
func (c *Comm) needsRendezvous() bool {
	for _, p := range c.cfg.Peers[1:] {
		if p.Port == 0 {
			return true
		}
	}
	return false
}

// initialPeers are the ranks connected at Open: every other rank, or (Sparse) the tree neighbours.
func (c *Comm) initialPeers() []int {
	n, me := len(c.cfg.Peers), c.cfg.Rank
	if c.cfg.Sparse {
		return treeNeighbours(me, n)
	}
	var all []int
	for r := range n {
		if r != me {
			all = append(all, r)
		}
	}
	return all
}

// expectedConnections is how many peer sockets this rank holds after Open (more in sparse mode only as
// the application talks to further peers).
func (c *Comm) expectedConnections() int {
	if c.cfg.Rank == 0 && c.needsRendezvous() {
		return len(c.cfg.Peers) - 1 // the rendezvous host briefly holds one connection per rank
	}
	return len(c.initialPeers())
}

// closeAfterFailedOpen undoes a partial Open.
func (c *Comm) closeAfterFailedOpen() {
	c.failMu.Lock()
	close(c.closing)
	c.failMu.Unlock()
	c.stopAccepting()
	for _, p := range c.connected() {
		p.s.Close()
	}
	close(c.stopBeat)
	c.wg.Wait()
	for _, p := range c.connected() {
		p.release()
	}
}

func (c *Comm) missingPeersError(initial []int, cause error) error {
	for _, r := range initial {
		if c.peers[r].Load() == nil {
			p := c.cfg.Peers[r]
			how := "did not connect to us"
			if r < c.cfg.Rank {
				how = "could not be reached"
			}
			return &PeerError{Rank: r, Addr: p.addr(), Err: fmt.Errorf("%s within the connect timeout (%v): %w", how, c.cfg.ConnectTimeout, cause)}
		}
	}
	return cause
}

// peerFor returns the connection to rank r, connecting first if there is none yet (on first use). While
// another goroutine or r itself is connecting, it waits, checking again now and then in case that attempt
// was given up.
func (c *Comm) peerFor(ctx context.Context, r int) (*peer, error) {
	for {
		if p := c.peers[r].Load(); p != nil {
			return p, nil
		}
		c.pmu.Lock()
		if p := c.peers[r].Load(); p != nil {
			c.pmu.Unlock()
			return p, nil
		}
		if c.noMore {
			c.pmu.Unlock()
			if err := c.Err(); err != nil {
				return nil, err // closed because it failed: the fault is what callers need
			}
			return nil, ErrClosed
		}
		if !c.dialing[r] && !c.claimed[r] {
			c.dialing[r] = true
			c.pmu.Unlock()
			p, err := c.dial(ctx, r)
			c.pmu.Lock()
			c.dialing[r] = false
			c.pmu.Unlock()
			return p, err
		}
		c.pmu.Unlock()
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-c.installed[r]:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, &PeerError{Rank: r, Addr: c.cfg.Peers[r].addr(), Err: fmt.Errorf("connecting: %w", ctx.Err())}
		case <-c.dead:
			t.Stop()
			return nil, c.Err()
		case <-c.closing:
			t.Stop()
			return nil, ErrClosed
		}
		t.Stop()
	}
}

// dial connects to rank r, retrying refused or failed attempts until ctx (bounded by ConnectTimeout)
// ends, r's own dial to us wins, or the communicator fails. Authentication failures are final:
// retrying cannot fix a wrong secret.
func (c *Comm) dial(ctx context.Context, r int) (*peer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	addr := c.cfg.Peers[r].addr()
	backoff := 10 * time.Millisecond
	var last error
	for {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			deadline := time.Now().Add(c.handshakeTimeout())
			if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
				deadline = dl
			}
			err = dialHandshake(conn, c.cfg.JobID, c.cfg.Secret, c.cfg.Rank, r, len(c.cfg.Peers), deadline)
			if err == nil {
				if p := c.install(r, conn, false); p != nil {
					return p, nil
				}
				conn.Close()
				err = errors.New("a connection from the peer won")
			} else {
				conn.Close()
				if errors.Is(err, ErrAuth) {
					return nil, &PeerError{Rank: r, Addr: addr, Err: fmt.Errorf("handshake: %w", err)}
				}
			}
		} else {
			err = describeNetError(err)
			if errors.Is(err, errTooManyFiles) {
				return nil, &PeerError{Rank: r, Addr: addr, Err: err}
			}
		}
		if p := c.peers[r].Load(); p != nil { // r's dial to us was kept instead
			return p, nil
		}
		last = err
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, &PeerError{Rank: r, Addr: addr, Err: fmt.Errorf("could not connect within %v: %w", c.cfg.ConnectTimeout, last)}
		case <-c.installed[r]:
			t.Stop()
			return c.peers[r].Load(), nil
		case <-c.dead:
			t.Stop()
			return nil, c.Err()
		case <-c.closing:
			t.Stop()
			return nil, ErrClosed
		case <-t.C:
		}
		backoff = min(backoff*2, 500*time.Millisecond)
	}
}

func (c *Comm) handshakeTimeout() time.Duration {
	return min(c.cfg.ConnectTimeout, 10*time.Second)
}

// install makes s the connection to rank r and starts its reader. accepted says the acceptor already
// claimed r. It returns nil (and s is the caller's to close) when another connection to r exists or
// the communicator is closing.
func (c *Comm) install(r int, s Stream, accepted bool) *peer {
	select { // peer addresses are final only after the rendezvous
	case <-c.tableReady:
	case <-c.closing:
		return nil
	}
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if c.noMore || c.peers[r].Load() != nil || (!accepted && c.claimed[r]) {
		if accepted {
			c.claimed[r] = false
		}
		return nil
	}
	c.claimed[r] = true
	if c.cfg.WrapStream != nil {
		s = c.cfg.WrapStream(r, s)
	}
	p := newPeer(c, r, s)
	c.peers[r].Store(p)
	c.wg.Add(1)
	go p.readLoop()
	close(c.installed[r])
	if cause := c.Err(); cause != nil {
		c.wg.Add(1)
		go func() { // we already failed: tell the newcomer at once
			defer c.wg.Done()
			p.sayGoodbye(cause)
		}()
	}
	return p
}

// claim decides, once a dialer proved the secret, whether its connection is kept.
func (c *Comm) claim(r int) error {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	switch {
	case c.noMore:
		return errors.New("communicator closing")
	case c.peers[r].Load() != nil || c.claimed[r]:
		return fmt.Errorf("rank %d is already connected", r)
	case c.dialing[r] && c.cfg.Rank > r:
		return fmt.Errorf("rank %d and we dialed each other; our connection is kept", r)
	}
	c.claimed[r] = true
	return nil
}

// acceptLoop accepts connections until Close and runs each handshake concurrently, so that one slow or
// hostile connection cannot hold up the others. Bad handshakes are logged and closed.
func (c *Comm) acceptLoop() {
	defer c.acceptWG.Done()
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.Is(err, net.ErrClosed) || c.stoppedAccepting() {
				return
			}
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(describeNetError(err), errTooManyFiles) {
				c.cfg.Logf("collective: rank %d: accept: %v", c.cfg.Rank, describeNetError(err))
				time.Sleep(50 * time.Millisecond)
				continue
			}
			c.cfg.Logf("collective: rank %d: accept: %v", c.cfg.Rank, err)
			return
		}
		c.pmu.Lock()
		if c.noMore {
			c.pmu.Unlock()
			conn.Close()
			return
		}
		c.inflight[conn] = struct{}{}
		c.acceptWG.Add(1)
		c.pmu.Unlock()
		go func() {
			defer c.acceptWG.Done()
			keep := c.handleIncoming(conn)
			c.pmu.Lock()
			delete(c.inflight, conn)
			c.pmu.Unlock()
			if !keep {
				conn.Close()
			}
		}()
	}
}

// handleIncoming runs the acceptor side of one connection and reports whether conn was kept.
func (c *Comm) handleIncoming(conn net.Conn) bool {
	cfg := &c.cfg
	deadline := time.Now().Add(c.handshakeTimeout())
	claimed := -1
	rank, helloType, err := acceptAnyHandshake(conn, cfg.JobID, cfg.Secret, cfg.Rank, len(cfg.Peers), deadline,
		func(rank int, helloType frameType) error {
			if helloType == frameRVHello {
				if c.rv == nil {
					return fmt.Errorf("%w: rank %d registered with rank %d, which is not the rendezvous of this job", ErrAuth, rank, cfg.Rank)
				}
				return nil
			}
			if err := c.claim(rank); err != nil {
				return err
			}
			claimed = rank
			return nil
		})
	if err != nil {
		if claimed >= 0 { // the final "ready" did not go out: let the rank's next attempt in
			c.pmu.Lock()
			c.claimed[claimed] = false
			c.pmu.Unlock()
		}
		c.cfg.Logf("collective: rank %d: rejected connection from %s: %v", cfg.Rank, conn.RemoteAddr(), err)
		return false
	}
	if helloType == frameRVHello {
		return c.rv.register(c, rank, conn)
	}
	return c.install(rank, conn, true) != nil
}

// stopAccepting closes the listener, cuts handshakes still running and waits for the accept loop;
// afterwards no peer is installed.
func (c *Comm) stopAccepting() {
	c.pmu.Lock()
	c.noMore = true
	for conn := range c.inflight {
		conn.Close()
	}
	c.pmu.Unlock()
	if c.ln != nil {
		c.ln.Close()
	}
	if c.rv != nil {
		c.rv.closeAll()
	}
	c.acceptWG.Wait()
}

func (c *Comm) stoppedAccepting() bool {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	return c.noMore
}

// errTooManyFiles is wrapped by errors caused by the descriptor limit.
var errTooManyFiles = errors.New("too many open files: the descriptor limit (ulimit -n) is too low for this job")

// describeNetError adds what to do to an error caused by the descriptor limit.
func describeNetError(err error) error {
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
		soft, hard := descriptorLimit()
		return fmt.Errorf("%w (soft %d, hard %d): raise it with `ulimit -n` or limits.conf (%v)", errTooManyFiles, soft, hard, err)
	}
	return err
}

// descriptorReserve is what a rank needs besides peer sockets: listener, model and data files, logs,
// the Go runtime's own descriptors.
const descriptorReserve = 64

// checkDescriptorLimit fails early, with the limit and the need, when this process cannot hold the
// sockets the communicator will open (Go raises the soft limit to the hard one at start-up, so the hard
// limit is what counts). Ranks sharing a process (tests, benchmarks) each need their own share.
func checkDescriptorLimit(sockets int) error {
	soft, hard := descriptorLimit()
	if soft <= 0 {
		return nil // unknown: let the OS decide
	}
	need := uint64(sockets + descriptorReserve)
	if need > soft {
		return fmt.Errorf("%w: this rank needs about %d descriptors for %d peer connections, the limit is %d (hard %d): raise it with `ulimit -n %d` or limits.conf, or use a sparse communicator",
			errTooManyFiles, need, sockets, soft, hard, need)
	}
	return nil
}

func descriptorLimit() (soft, hard uint64) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, 0
	}
	return l.Cur, l.Max
}
