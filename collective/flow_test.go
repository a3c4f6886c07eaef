package collective

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBackpressure: a receiver that does not Recv stops its sender after CreditBytes; receiving frees
// credit and the sender resumes. The receiver never buffers more than the window.
func TestBackpressure(t *testing.T) {
	checkGoroutines(t)
	const credit = 256 << 10
	comms := openLocal(t, 2, func(c *Config) { c.CreditBytes = credit })
	snd, rcv := comms[1], comms[0]
	msg := make([]byte, 10<<10)
	sent := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := snd.Send(ctx, 0, 1, msg)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sent++
		if sent > 1000 {
			t.Fatal("sender never blocked: no backpressure")
		}
	}
	if maxMsgs := credit / int(msgCost(len(msg))); sent != maxMsgs {
		t.Fatalf("sender blocked after %d messages, want %d (window %d bytes)", sent, maxMsgs, credit)
	}
	rcv.qmu.Lock()
	queued := len(rcv.queue) - rcv.qhead
	rcv.qmu.Unlock()
	if queued > sent {
		t.Fatalf("receiver queued %d messages of %d sent", queued, sent)
	}
	// Drain; the sender can go on.
	done := make(chan error, 1)
	go func() {
		for range 100 {
			if err := snd.Send(context.Background(), 0, 1, msg); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := 0; i < sent+100; i++ {
		m, err := rcv.Recv(context.Background())
		if err != nil || len(m.Payload) != len(msg) {
			t.Fatalf("Recv %d: %v", i, err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A message larger than the whole window still goes through when nothing else is in flight.
	big := pattern(make([]byte, 3*credit), 1, 0, 0)
	go func() { done <- snd.Send(context.Background(), 0, 2, big) }()
	m, err := rcv.Recv(context.Background())
	if err != nil || !bytes.Equal(m.Payload, big) || <-done != nil {
		t.Fatalf("oversize-for-window message: %v", err)
	}
}

func TestSendEdgeCases(t *testing.T) {
	checkGoroutines(t)
	comms := openLocal(t, 2, func(c *Config) { c.MaxFrameBytes = 1 << 16 })
	ctx := context.Background()
	c := comms[0]
	if err := c.Send(ctx, 2, 0, nil); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("Send to rank 2: %v", err)
	}
	if err := c.Send(ctx, 1, 0, make([]byte, 1<<16+1)); err == nil || !strings.Contains(err.Error(), "MaxFrameBytes") {
		t.Errorf("oversize Send: %v", err)
	}
	if _, err := c.AllToAllV(ctx, [][]byte{nil, make([]byte, 1<<16+1)}); err == nil || !strings.Contains(err.Error(), "for rank 1 exceeds") {
		t.Errorf("oversize AllToAllV: %v", err)
	}
	if _, err := c.AllToAllV(ctx, [][]byte{nil}); err == nil {
		t.Errorf("AllToAllV with 1 block of 2 accepted")
	}
	// Empty messages, messages to self, and a message exactly at the limit.
	if err := c.Send(ctx, 1, 5, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(ctx, 0, 6, []byte("self")); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(ctx, 1, 7, make([]byte, 1<<16)); err != nil {
		t.Fatal(err)
	}
	m, err := comms[1].Recv(ctx)
	if err != nil || len(m.Payload) != 0 || m.Edge != 5 || m.Src != 0 {
		t.Fatalf("empty message: %+v %v", m, err)
	}
	m, err = comms[1].Recv(ctx)
	if err != nil || len(m.Payload) != 1<<16 || m.Edge != 7 {
		t.Fatalf("limit-size message: %d %v", len(m.Payload), err)
	}
	m, err = c.Recv(ctx)
	if err != nil || string(m.Payload) != "self" || m.Src != 0 || m.Edge != 6 {
		t.Fatalf("self message: %+v %v", m, err)
	}
	// Recv honours its context.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.Recv(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Recv with expired context: %v", err)
	}
	st := c.Stats()
	var sawEdge7 bool
	for _, s := range st {
		if s.Peer == 1 && s.Edge == 7 && s.RawBytesSent == 1<<16 && s.WireBytesSent == 1<<16 && s.Messages == 1 {
			sawEdge7 = true
		}
	}
	if !sawEdge7 {
		t.Errorf("Stats lack (peer 1, edge 7): %+v", st)
	}
}

// TestGracefulCloseIsNotAFault: a rank that finishes and closes does not break the others; operations
// that need it fail with ErrPeerClosed, Recv reports io.EOF once everyone left.
func TestGracefulCloseIsNotAFault(t *testing.T) {
	checkGoroutines(t)
	comms := openLocal(t, 3, nil)
	ctx := context.Background()
	if err := comms[2].Send(ctx, 0, 1, []byte("last words")); err != nil {
		t.Fatal(err)
	}
	if err := comms[2].Close(); err != nil {
		t.Fatal(err)
	}
	m, err := comms[0].Recv(ctx)
	if err != nil || string(m.Payload) != "last words" {
		t.Fatalf("message sent before Close: %q %v", m.Payload, err)
	}
	if err := comms[1].Send(ctx, 0, 1, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if m, err := comms[0].Recv(ctx); err != nil || string(m.Payload) != "still here" {
		t.Fatalf("Recv from remaining rank: %q %v", m.Payload, err)
	}
	_, err = comms[0].AllToAllV(ctx, make([][]byte, 3))
	var pe *PeerError
	if !errors.Is(err, ErrPeerClosed) || !errors.As(err, &pe) || pe.Rank != 2 {
		t.Fatalf("AllToAllV with departed rank 2: %v", err)
	}
	if err := comms[0].Send(ctx, 2, 0, nil); !errors.Is(err, ErrPeerClosed) {
		t.Fatalf("Send to departed rank: %v", err)
	}
	if comms[0].Err() != nil || comms[1].Err() != nil {
		t.Fatalf("graceful close recorded as a fault: %v / %v", comms[0].Err(), comms[1].Err())
	}
	comms[1].Close()
	if _, err := comms[0].Recv(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv after all peers left: %v, want io.EOF", err)
	}
	comms[0].Close()
	if err := comms[0].Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := comms[0].Send(ctx, 1, 0, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
}

// TestOpenFailuresNamePeer: start-up errors say which rank, host and port could not be reached.
func TestOpenFailuresNamePeer(t *testing.T) {
	checkGoroutines(t)
	lns, peers := listenLocal(t, 3)
	lns[0].Close() // rank 0 never listens: rank 2 cannot reach it
	lns[1].Close()
	start := time.Now()
	_, err := Open(context.Background(), Config{JobID: "j", Rank: 2, Peers: peers, Listener: lns[2], Secret: testSecret, ConnectTimeout: 400 * time.Millisecond})
	var pe *PeerError
	if !errors.As(err, &pe) || pe.Rank > 1 || !strings.Contains(err.Error(), "127.0.0.1:"+strconv.Itoa(peers[pe.Rank].Port)) {
		t.Fatalf("Open: %v, want a PeerError naming rank 0 or 1 with its address", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Open took %v with a 400ms connect timeout", d)
	}
	// An acceptor whose higher rank never shows up names that rank.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	peers[0].Port = ln.Addr().(*net.TCPAddr).Port
	_, err = Open(context.Background(), Config{JobID: "j", Rank: 0, Peers: peers[:2], Listener: ln, Secret: testSecret, ConnectTimeout: 300 * time.Millisecond})
	if !errors.As(err, &pe) || pe.Rank != 1 || !strings.Contains(err.Error(), "did not connect") {
		t.Fatalf("Open as acceptor: %v", err)
	}
	// Config errors.
	for _, cfg := range []Config{
		{Rank: 0, Peers: peers, Secret: testSecret},
		{JobID: "j", Rank: 0, Peers: peers},
		{JobID: "j", Rank: 5, Peers: peers, Secret: testSecret},
		{JobID: "j", Rank: 0, Peers: []Peer{{Rank: 1, Host: "h", Port: 1}}, Secret: testSecret},
		{JobID: "j", Rank: 0, Peers: []Peer{{Rank: 0, Host: "h", Port: 0}}, Secret: testSecret},
		{JobID: "j", Rank: 0, Peers: peers, Secret: testSecret, Compression: "lz4"},
	} {
		if _, err := Open(context.Background(), cfg); err == nil {
			t.Errorf("Open accepted %+v", cfg)
		}
	}
	// A single-rank job needs no network at all.
	c, err := Open(context.Background(), Config{JobID: "j", Rank: 0, Peers: []Peer{{Rank: 0, Host: "127.0.0.1", Port: 1}}, Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.AllToAllV(context.Background(), [][]byte{[]byte("me")})
	if err != nil || string(got[0]) != "me" {
		t.Fatalf("single-rank AllToAllV: %q %v", got, err)
	}
	c.Close()
}

// TestAbortNamesCulprit: a rank that faulted and closes tells its peers which rank was at fault.
func TestAbortNamesCulprit(t *testing.T) {
	checkGoroutines(t)
	comms := openLocal(t, 3, nil)
	comms[0].fail(&PeerError{Rank: 2, Addr: "127.0.0.1:1", Err: errors.New("silent for too long")})
	comms[0].Close()
	_, err := comms[1].Recv(context.Background())
	var pe *PeerError
	// The fault floods: rank 1 hears it from rank 0 or through rank 2, and either way the culprit and its
	// fault are named.
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "rank 2 (127.0.0.1:1): silent for too long") || !strings.Contains(err.Error(), "reported by rank") {
		t.Fatalf("rank 1 got %v, want a PeerError naming rank 2 as the culprit", err)
	}
}

// TestCloseWithSilentPeers: peers that never answer our goodbye delay Close by at most one heartbeat
// timeout in total, not one per peer (and never forever).
func TestCloseWithSilentPeers(t *testing.T) {
	checkGoroutines(t)
	lns, peers := listenLocal(t, 3)
	lns[1].Close()
	lns[2].Close()
	hb := 400 * time.Millisecond
	type opened struct {
		c   *Comm
		err error
	}
	res := make(chan opened, 1)
	go func() {
		c, err := Open(context.Background(), Config{JobID: "j", Rank: 0, Peers: peers, Listener: lns[0], Secret: testSecret,
			ConnectTimeout: 5 * time.Second, HeartbeatTimeout: hb})
		res <- opened{c, err}
	}()
	var conns []net.Conn
	for r := 1; r <= 2; r++ {
		conn, err := net.Dial("tcp", lns[0].Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := dialHandshake(conn, "j", testSecret, r, 0, 3, time.Now().Add(5*time.Second)); err != nil {
			t.Fatalf("fake rank %d: %v", r, err)
		}
		conns = append(conns, conn)
	}
	o := <-res
	if o.err != nil {
		t.Fatal(o.err)
	}
	start := time.Now()
	o.c.Close()
	if d := time.Since(start); d > hb+time.Second {
		t.Fatalf("Close took %v with two silent peers and a %v heartbeat timeout", d, hb)
	}
}
