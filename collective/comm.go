package collective

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// Peer is one rank of the job and the address it listens on.
type Peer struct {
	Rank int
	Host string
	Port int
}

func (p Peer) addr() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.Port)) }

// Config describes this rank's view of the job. Zero values take the documented defaults.
type Config struct {
	JobID            string
	Rank             int
	Peers            []Peer                           // every rank of the job; Peers[i].Rank == i
	ListenAddr       string                           // optional; default Peers[Rank].Host:Port ("" host part allowed)
	Listener         net.Listener                     // optional: an already-bound listener (tests, inherited sockets); Open closes it
	Secret           []byte                           // per-job secret (launcher passes it via env, never argv)
	Compression      string                           // "off" (default), "fastest", "default", "auto"
	MaxFrameBytes    int                              // default 64 MiB: largest message or AllToAllV block
	ConnectTimeout   time.Duration                    // default 30s: how long to keep retrying peers at start-up
	HeartbeatTimeout time.Duration                    // default 10s: silent peer => fault
	CreditBytes      int                              // default 8 MiB: stream bytes in flight per peer (backpressure)
	Logf             func(format string, args ...any) // optional logger

	// WrapStream, if set, wraps each peer connection after its handshake (fault injection in tests,
	// instrumentation). The wrapper must keep the Stream contract, deadlines included.
	WrapStream func(peer int, s Stream) Stream
}

const (
	DefaultMaxFrameBytes    = 64 << 20
	DefaultConnectTimeout   = 30 * time.Second
	DefaultHeartbeatTimeout = 10 * time.Second
	DefaultCreditBytes      = 8 << 20
	maxLimit                = 1 << 30 // frame and credit sizes must fit the 32-bit header fields comfortably
)

// EdgeCollective is the edge id under which AllToAllV and Barrier traffic is counted in Stats.
const EdgeCollective uint16 = 0xFFFF

// PeerError is returned by operations that failed because of one peer: it names the rank and address.
type PeerError struct {
	Rank int
	Addr string // host:port of the peer
	Err  error
}

func (e *PeerError) Error() string {
	return fmt.Sprintf("collective: rank %d (%s): %v", e.Rank, e.Addr, e.Err)
}

func (e *PeerError) Unwrap() error { return e.Err }

// ErrPeerClosed is wrapped by errors about a peer that said goodbye (closed its communicator gracefully).
var ErrPeerClosed = errors.New("peer closed its communicator")

// ErrClosed is returned by operations on a communicator after Close.
var ErrClosed = errors.New("collective: communicator closed")

func (cfg *Config) validate() (compression, error) {
	if cfg.JobID == "" {
		return 0, errors.New("collective: Config.JobID is empty")
	}
	if len(cfg.JobID) > maxJobIDBytes {
		return 0, fmt.Errorf("collective: Config.JobID is %d bytes, at most %d", len(cfg.JobID), maxJobIDBytes)
	}
	if len(cfg.Secret) == 0 {
		return 0, errors.New("collective: Config.Secret is empty (the launcher must hand every rank the job secret)")
	}
	if len(cfg.Peers) == 0 {
		return 0, errors.New("collective: Config.Peers is empty")
	}
	if cfg.Rank < 0 || cfg.Rank >= len(cfg.Peers) {
		return 0, fmt.Errorf("collective: rank %d outside the %d peers", cfg.Rank, len(cfg.Peers))
	}
	for i, p := range cfg.Peers {
		if p.Rank != i {
			return 0, fmt.Errorf("collective: Peers[%d] has rank %d (Peers must be ordered by rank)", i, p.Rank)
		}
		if p.Port <= 0 || p.Port > 65535 {
			return 0, fmt.Errorf("collective: rank %d (host %q): port %d out of range", i, p.Host, p.Port)
		}
	}
	comp, err := parseCompression(cfg.Compression)
	if err != nil {
		return 0, fmt.Errorf("collective: %w", err)
	}
	if cfg.MaxFrameBytes == 0 {
		cfg.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.HeartbeatTimeout == 0 {
		cfg.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if cfg.CreditBytes == 0 {
		cfg.CreditBytes = DefaultCreditBytes
	}
	switch {
	case cfg.MaxFrameBytes < 0 || cfg.MaxFrameBytes > maxLimit:
		return 0, fmt.Errorf("collective: MaxFrameBytes %d outside 1..%d", cfg.MaxFrameBytes, maxLimit)
	case cfg.CreditBytes < 0 || cfg.CreditBytes > maxLimit:
		return 0, fmt.Errorf("collective: CreditBytes %d outside 1..%d", cfg.CreditBytes, maxLimit)
	case cfg.ConnectTimeout < 0 || cfg.HeartbeatTimeout < 0:
		return 0, errors.New("collective: negative timeout")
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	return comp, nil
}

// Comm is one rank's communicator: a full mesh of authenticated connections to every other rank.
// All methods are safe for concurrent use; collectives (AllToAllV, Barrier) are serialised and must be
// called in the same order on every rank, as in MPI.
type Comm struct {
	cfg   Config
	comp  compression
	peers []*peer // indexed by rank; nil for self

	dead    chan struct{} // closed on the first fault
	failMu  sync.Mutex
	failErr error

	closing   chan struct{} // closed when Close starts
	closeOnce sync.Once
	closeErr  error
	stopBeat  chan struct{}
	wg        sync.WaitGroup // reader and heartbeat goroutines

	// Stream receive queue (all peers), guarded by qmu.
	qmu     sync.Mutex
	queue   []Message
	qhead   int
	qnotify chan struct{}

	// Collectives.
	collMu  sync.Mutex
	round   uint32
	collErr error
	barSend [][]byte
	barRecv [][]byte
	statsMu sync.RWMutex
	stats   map[uint32]*linkCounters
}

// Open listens, connects to all peers (rank i dials every rank j < i and accepts from every j > i),
// completes all handshakes, and returns when every peer is connected or ctx/ConnectTimeout expires.
// A failure names the peer rank, host and port that could not be reached.
func Open(ctx context.Context, cfg Config) (*Comm, error) {
	comp, err := cfg.validate()
	if err != nil {
		if cfg.Listener != nil {
			cfg.Listener.Close()
		}
		return nil, err
	}
	c := &Comm{
		cfg:      cfg,
		comp:     comp,
		peers:    make([]*peer, len(cfg.Peers)),
		dead:     make(chan struct{}),
		closing:  make(chan struct{}),
		stopBeat: make(chan struct{}),
		qnotify:  make(chan struct{}, 1),
		stats:    make(map[uint32]*linkCounters),
	}
	conns, err := c.connectAll(ctx)
	if err != nil {
		return nil, err
	}
	for r, s := range conns {
		if s != nil {
			if cfg.WrapStream != nil {
				s = cfg.WrapStream(r, s)
			}
			c.peers[r] = newPeer(c, r, s)
		}
	}
	for _, p := range c.peers {
		if p != nil {
			c.wg.Add(1)
			go p.readLoop()
		}
	}
	c.wg.Add(1)
	go c.heartbeatLoop()
	return c, nil
}

// connectAll builds the mesh and returns one handshaken stream per peer rank (nil at our own rank).
func (c *Comm) connectAll(ctx context.Context) ([]Stream, error) {
	cfg := &c.cfg
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()

	ln := cfg.Listener
	if ln == nil && cfg.Rank < len(cfg.Peers)-1 { // the highest rank only dials
		addr := cfg.ListenAddr
		if addr == "" {
			addr = net.JoinHostPort(cfg.Peers[cfg.Rank].Host, strconv.Itoa(cfg.Peers[cfg.Rank].Port))
		}
		var lc net.ListenConfig
		var err error
		if ln, err = lc.Listen(ctx, "tcp", addr); err != nil {
			return nil, fmt.Errorf("collective: rank %d: listen on %s: %w", cfg.Rank, addr, err)
		}
	}

	type result struct {
		rank int
		s    Stream
		err  error
	}
	results := make(chan result, len(cfg.Peers))
	conns := make([]Stream, len(cfg.Peers))
	var wg sync.WaitGroup

	// Accept from higher ranks. Bad handshakes are logged and closed; the loop goes on.
	var acc *acceptor
	if ln != nil {
		acc = &acceptor{c: c, ln: ln, connected: make(map[int]bool), inflight: make(map[net.Conn]struct{})}
		wg.Add(1)
		go func() {
			defer wg.Done()
			acc.run(ctx, func(rank int, s Stream) { results <- result{rank: rank, s: s} })
		}()
	}
	// Dial lower ranks.
	for r := 0; r < cfg.Rank; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := c.dial(ctx, r)
			results <- result{rank: r, s: s, err: err}
		}()
	}

	want := len(cfg.Peers) - 1
	var firstErr error
	for got := 0; got < want && firstErr == nil; {
		select {
		case r := <-results:
			if r.err != nil {
				firstErr = r.err
				break
			}
			conns[r.rank] = r.s
			got++
		case <-ctx.Done():
			firstErr = c.missingPeersError(conns, ctx.Err())
		}
	}
	cancel()
	if ln != nil {
		ln.Close()
	}
	if acc != nil {
		acc.abortInflight()
	}
	wg.Wait()
	close(results)
	for r := range results { // late arrivals after a failure
		if r.s != nil {
			conns[r.rank] = r.s
		}
	}
	if firstErr != nil {
		for _, s := range conns {
			if s != nil {
				s.Close()
			}
		}
		return nil, firstErr
	}
	return conns, nil
}

func (c *Comm) missingPeersError(conns []Stream, cause error) error {
	for r, s := range conns {
		if r != c.cfg.Rank && s == nil {
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

// dial connects to lower rank r, retrying refused or failed attempts until ctx ends. Authentication
// failures are final: retrying cannot fix a wrong secret.
func (c *Comm) dial(ctx context.Context, r int) (Stream, error) {
	p := c.cfg.Peers[r]
	addr := p.addr()
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
				return conn, nil
			}
			conn.Close()
			if errors.Is(err, ErrAuth) {
				return nil, &PeerError{Rank: r, Addr: addr, Err: fmt.Errorf("handshake: %w", err)}
			}
		}
		last = err
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, &PeerError{Rank: r, Addr: addr, Err: fmt.Errorf("could not connect within %v: %w", c.cfg.ConnectTimeout, last)}
		case <-t.C:
		}
		backoff = min(backoff*2, 500*time.Millisecond)
	}
}

func (c *Comm) handshakeTimeout() time.Duration {
	return min(c.cfg.ConnectTimeout, 10*time.Second)
}

// acceptor accepts connections from higher ranks and runs their handshakes concurrently, so that one
// slow or hostile connection cannot hold up the others.
type acceptor struct {
	c  *Comm
	ln net.Listener

	mu        sync.Mutex
	connected map[int]bool
	inflight  map[net.Conn]struct{}
	closed    bool
	wg        sync.WaitGroup
}

func (a *acceptor) run(ctx context.Context, deliver func(int, Stream)) {
	defer a.wg.Wait()
	for {
		conn, err := a.ln.Accept()
		if err != nil {
			return // listener closed by connectAll
		}
		a.mu.Lock()
		if a.closed {
			a.mu.Unlock()
			conn.Close()
			return
		}
		a.inflight[conn] = struct{}{}
		a.mu.Unlock()
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			rank, err := a.handshake(ctx, conn)
			a.mu.Lock()
			delete(a.inflight, conn)
			a.mu.Unlock()
			if err != nil {
				conn.Close()
				a.c.cfg.Logf("collective: rank %d: rejected connection from %s: %v", a.c.cfg.Rank, conn.RemoteAddr(), err)
				return
			}
			deliver(rank, conn)
		}()
	}
}

func (a *acceptor) handshake(ctx context.Context, conn net.Conn) (int, error) {
	cfg := &a.c.cfg
	deadline := time.Now().Add(a.c.handshakeTimeout())
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	claimed := -1
	rank, err := acceptHandshake(conn, cfg.JobID, cfg.Secret, cfg.Rank, len(cfg.Peers), deadline, func(rank int) error {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.closed {
			return errors.New("start-up already finished")
		}
		if a.connected[rank] {
			return fmt.Errorf("rank %d is already connected", rank)
		}
		a.connected[rank] = true
		claimed = rank
		return nil
	})
	if err != nil && claimed >= 0 {
		// The final "ready" did not go out: let the rank's next attempt in.
		a.mu.Lock()
		delete(a.connected, claimed)
		a.mu.Unlock()
	}
	return rank, err
}

// abortInflight closes handshakes still running once start-up is over.
func (a *acceptor) abortInflight() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	for conn := range a.inflight {
		conn.Close()
	}
}

// Rank returns this rank.
func (c *Comm) Rank() int { return c.cfg.Rank }

// Size returns the number of ranks in the job.
func (c *Comm) Size() int { return len(c.cfg.Peers) }

// fail records the first fault and wakes every waiting operation.
func (c *Comm) fail(err error) {
	c.failMu.Lock()
	defer c.failMu.Unlock()
	if c.failErr != nil {
		return
	}
	select {
	case <-c.closing:
		return // errors during/after Close are teardown noise, not faults
	default:
	}
	c.failErr = err
	close(c.dead)
	c.cfg.Logf("collective: rank %d: %v", c.cfg.Rank, err)
}

// Err returns the fault that broke the communicator, or nil.
func (c *Comm) Err() error {
	c.failMu.Lock()
	defer c.failMu.Unlock()
	return c.failErr
}

func (c *Comm) heartbeatLoop() {
	defer c.wg.Done()
	every := max(c.cfg.HeartbeatTimeout/4, time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.stopBeat:
			return
		case <-t.C:
		}
		now := time.Now().UnixNano()
		for _, p := range c.peers {
			if p != nil && now-p.lastWrite.Load() >= int64(every) {
				p.heartbeat()
			}
		}
	}
}

// Close says goodbye to every peer, waits (up to HeartbeatTimeout) for their goodbyes so that nothing in
// flight is lost, then closes all connections and stops all goroutines. It is idempotent; operations
// after Close return ErrClosed. Sends are synchronous, so no queued data is dropped.
func (c *Comm) Close() error {
	c.closeOnce.Do(func() {
		c.failMu.Lock()
		cause := c.failErr
		close(c.closing)
		c.failMu.Unlock()
		for _, p := range c.peers {
			if p != nil {
				p.sayGoodbye(cause)
			}
		}
		// One deadline for all peers (a Done channel stays closed, unlike a timer's channel).
		wait, cancel := context.WithTimeout(context.Background(), c.cfg.HeartbeatTimeout)
		for _, p := range c.peers {
			if p == nil {
				continue
			}
			select {
			case <-p.readerDone:
			case <-wait.Done():
			}
		}
		cancel()
		for _, p := range c.peers {
			if p != nil {
				p.s.Close()
			}
		}
		close(c.stopBeat)
		c.wg.Wait()
		for _, p := range c.peers {
			if p != nil {
				p.release()
			}
		}
		c.qmu.Lock()
		for i := c.qhead; i < len(c.queue); i++ {
			pool.put(c.queue[i].Payload)
			c.queue[i] = Message{}
		}
		c.queue, c.qhead = nil, 0
		c.qmu.Unlock()
	})
	return c.closeErr
}

// checkUsable returns the error every operation reports once the communicator faulted or closed.
func (c *Comm) checkUsable() error {
	select {
	case <-c.dead:
		return c.Err()
	default:
	}
	select {
	case <-c.closing:
		return ErrClosed
	default:
	}
	return nil
}
