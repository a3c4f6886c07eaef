package collective

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
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
	Peers            []Peer                           // every rank of the job; Peers[i].Rank == i; Port 0 (rank > 0) = learn it at the rendezvous
	ListenAddr       string                           // optional; default Peers[Rank].Host:Port ("" host part allowed; port 0 = any free port)
	Listener         net.Listener                     // optional: an already-bound listener (tests, inherited sockets); Open closes it
	Secret           []byte                           // per-job secret (launcher passes it via env, never argv)
	Compression      string                           // "off" (default), "fastest", "default", "auto"
	MaxFrameBytes    int                              // default 64 MiB: largest message or AllToAllV block
	ConnectTimeout   time.Duration                    // default 30s: how long to keep retrying peers at start-up
	HeartbeatTimeout time.Duration                    // default 10s: silent peer => fault
	CreditBytes      int                              // default 8 MiB: stream bytes in flight per peer (backpressure)
	Logf             func(format string, args ...any) // optional logger

	// Sparse: connect at Open only to this rank's neighbours in the control tree (see tree.go); every
	// other peer is connected on first use (Send, AllToAllV). Without it every pair of ranks connects
	// at Open (a full mesh). Either way faults reach every rank through the connections that exist.
	Sparse bool

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

// AbortError is the reason a rank gave when it aborted the job (Comm.Abort), or the fault it detected,
// as every other rank receives it: Rank is the rank at fault.
type AbortError struct {
	Rank   int
	Reason string
}

func (e *AbortError) Error() string { return e.Reason }

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
		if p.Port == 0 && i > 0 {
			continue // learnt at the rendezvous (rank 0's address)
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

// Comm is one rank's communicator: authenticated connections to the other ranks (all of them, or with
// Config.Sparse the control tree plus the peers it has exchanged data with).
// All methods are safe for concurrent use; collectives (AllToAllV, Barrier) are serialised and must be
// called in the same order on every rank, as in MPI.
type Comm struct {
	cfg   Config
	comp  compression
	peers []atomic.Pointer[peer] // indexed by rank; nil for self and for peers not connected (yet)

	// Connections: the listener stays open for the communicator's lifetime (peers connect on first use).
	ln         net.Listener
	pmu        sync.Mutex      // guards the fields below and installing peers
	claimed    []bool          // a connection to this rank is installed or being finished by the acceptor
	dialing    []bool          // we are dialing this rank
	installed  []chan struct{} // closed once peers[r] is set
	inflight   map[net.Conn]struct{}
	noMore     bool           // Close started: refuse new connections
	acceptWG   sync.WaitGroup // accept loop and handshakes
	rv         *rendezvousHost
	tableReady chan struct{} // closed once every peer's address is known

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
	statsMu sync.RWMutex
	stats   map[uint32]*linkCounters
}

// Rank returns this rank.
func (c *Comm) Rank() int { return c.cfg.Rank }

// Size returns the number of ranks in the job.
func (c *Comm) Size() int { return len(c.cfg.Peers) }

// fail records the first fault, wakes every waiting operation and tells every connected peer at once
// (an abort frame naming the rank at fault): each of them does the same, so a fault floods the job
// through whatever connections exist, the control tree at least, in a few round trips.
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
	for _, p := range c.connected() {
		c.wg.Add(1)
		go func() { // concurrently: one peer with a full socket must not delay the others
			defer c.wg.Done()
			p.sayGoodbye(err)
		}()
	}
}

// Abort fails the communicator with reason, naming this rank as the one at fault: every rank of the job
// learns reason (an *AbortError) through the fault flood, without any direct connection to us.
func (c *Comm) Abort(reason error) {
	me := c.cfg.Rank
	c.fail(&PeerError{Rank: me, Addr: c.cfg.Peers[me].addr(), Err: &AbortError{Rank: me, Reason: reason.Error()}})
}

// connected returns the peers with an installed connection.
func (c *Comm) connected() []*peer {
	var ps []*peer
	for i := range c.peers {
		if p := c.peers[i].Load(); p != nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// Connections returns how many peers this rank holds a connection to (a sparse communicator's cost).
func (c *Comm) Connections() int { return len(c.connected()) }

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
		for _, p := range c.connected() {
			if now-p.lastWrite.Load() >= int64(every) {
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
		c.stopAccepting()
		peers := c.connected() // no peer is installed after stopAccepting
		for _, p := range peers {
			p.sayGoodbye(cause)
		}
		// One deadline for all peers (a Done channel stays closed, unlike a timer's channel).
		wait, cancel := context.WithTimeout(context.Background(), c.cfg.HeartbeatTimeout)
		for _, p := range peers {
			select {
			case <-p.readerDone:
			case <-wait.Done():
			}
		}
		cancel()
		for _, p := range peers {
			p.s.Close()
		}
		close(c.stopBeat)
		c.wg.Wait()
		for _, p := range peers {
			p.release()
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
