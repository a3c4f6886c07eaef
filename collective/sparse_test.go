package collective

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// openRendezvous opens an n-rank sparse job in this process where only rank 0's port is known: the
// other ranks bind ephemeral ports and learn each other's at the rendezvous.
func openRendezvous(t testing.TB, n int, tweak func(*Config)) []*Comm {
	t.Helper()
	ln0, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	peers := make([]Peer, n)
	for r := range peers {
		peers[r] = Peer{Rank: r, Host: "127.0.0.1"}
	}
	peers[0].Port = ln0.Addr().(*net.TCPAddr).Port
	comms := make([]*Comm, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := range n {
		cfg := Config{JobID: "rv-job", Rank: r, Peers: peers, Secret: testSecret, Sparse: true,
			ConnectTimeout: 20 * time.Second, HeartbeatTimeout: 10 * time.Second, Logf: t.Logf}
		if r == 0 {
			cfg.Listener = ln0
		}
		if tweak != nil {
			tweak(&cfg)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			comms[r], errs[r] = Open(context.Background(), cfg)
		}()
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			closeAll(comms)
			t.Fatalf("rank %d: Open: %v", r, err)
		}
	}
	t.Cleanup(func() { closeAll(comms) })
	return comms
}

func TestTreeShape(t *testing.T) {
	for _, n := range []int{1, 2, 5, 6, 21, 100, 1000} {
		edges := 0
		for r := range n {
			nb := treeNeighbours(r, n)
			if len(nb) > treeFanout+1 {
				t.Fatalf("n=%d rank %d: %d tree neighbours", n, r, len(nb))
			}
			edges += len(treeChildren(r, n))
			for _, ch := range treeChildren(r, n) {
				if treeParent(ch) != r || !inSubtree(ch, r) || childToward(r, ch) != ch {
					t.Fatalf("n=%d: child %d of %d inconsistent", n, ch, r)
				}
			}
			if !inSubtree(r, 0) || (r > 0 && inSubtree(0, r)) {
				t.Fatalf("n=%d: subtree test wrong for rank %d", n, r)
			}
		}
		if edges != max(n-1, 0) {
			t.Fatalf("n=%d: %d tree edges, want %d", n, edges, n-1)
		}
	}
}

// A sparse job found through the rendezvous: each rank holds only its tree links after Open, data goes
// to any rank (connected on first use), and SparseAllToAllV, AllToAllV and Barrier agree with a full mesh.
func TestRendezvousSparseJob(t *testing.T) {
	checkGoroutines(t)
	const n = 23
	comms := openRendezvous(t, n, nil)
	for r, c := range comms {
		if got, want := c.Connections(), len(treeNeighbours(r, n)); got != want {
			t.Fatalf("rank %d: %d connections after Open, want its %d tree neighbours", r, got, want)
		}
		if c.cfg.Peers[(r+1)%n].Port == 0 {
			t.Fatalf("rank %d did not learn rank %d's port", r, (r+1)%n)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Every rank sends to rank+7 and receives from rank-7 (neither in its tree).
	runAll(t, comms, func(c *Comm) error {
		me := c.Rank()
		if err := c.Send(ctx, (me+7)%n, 9, []byte(fmt.Sprintf("from %d", me))); err != nil {
			return err
		}
		m, err := c.Recv(ctx)
		if err != nil {
			return err
		}
		if want := fmt.Sprintf("from %d", (me-7+n)%n); m.Src != (me-7+n)%n || string(m.Payload) != want {
			return fmt.Errorf("got %q from %d, want %q", m.Payload, m.Src, want)
		}
		return nil
	})
	for r, c := range comms {
		if c.Connections() > len(treeNeighbours(r, n))+2 {
			t.Fatalf("rank %d holds %d connections after talking to 2 more peers", r, c.Connections())
		}
	}
	// Routed exchanges interleaved with a dense one and barriers, several rounds.
	for round := range 3 {
		runAll(t, comms, func(c *Comm) error {
			me := c.Rank()
			send := make([][]byte, n)
			for j := range send {
				if (me*3+j*5+round)%4 == 0 || j == me {
					send[j] = pattern(make([]byte, blockSize(me, j, round, 3000)), me, j, round)
				}
			}
			got, err := c.SparseAllToAllV(ctx, send)
			if err != nil {
				return err
			}
			for i, b := range got {
				want := []byte(nil)
				if (i*3+me*5+round)%4 == 0 || i == me {
					want = pattern(make([]byte, blockSize(i, me, round, 3000)), i, me, round)
				}
				if !bytes.Equal(b, want) {
					return fmt.Errorf("sparse %s: %d bytes, want %d", describe(i, me, round), len(b), len(want))
				}
			}
			if err := c.Barrier(ctx); err != nil {
				return err
			}
			if round == 1 {
				dense := make([][]byte, n)
				for j := range dense {
					dense[j] = pattern(make([]byte, 100), me, j, round)
				}
				recv, err := c.AllToAllV(ctx, dense)
				if err != nil {
					return err
				}
				for i, b := range recv {
					if !bytes.Equal(b, pattern(make([]byte, 100), i, me, round)) {
						return fmt.Errorf("dense %s wrong", describe(i, me, round))
					}
				}
			}
			return nil
		})
	}
}

// Two ranks that first talk to each other at the same moment end up with one connection, whichever
// dial wins, and lose no message.
func TestSimultaneousFirstUse(t *testing.T) {
	checkGoroutines(t)
	const n = 12
	comms := openRendezvous(t, n, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const msgs = 20
	runAll(t, comms, func(c *Comm) error {
		me := c.Rank()
		for i := range msgs {
			for j := range n {
				if j != me {
					if err := c.Send(ctx, j, 1, []byte{byte(me), byte(i)}); err != nil {
						return err
					}
				}
			}
		}
		next := make([]int, n)
		for range msgs * (n - 1) {
			m, err := c.Recv(ctx)
			if err != nil {
				return err
			}
			if int(m.Payload[0]) != m.Src || int(m.Payload[1]) != next[m.Src] {
				return fmt.Errorf("from %d: message %v out of order (want %d)", m.Src, m.Payload, next[m.Src])
			}
			next[m.Src]++
		}
		if c.Connections() != n-1 {
			return fmt.Errorf("%d connections, want %d", c.Connections(), n-1)
		}
		return nil
	})
}

// A rank that aborts is named, with its reason, by every rank of a sparse job although only its tree
// neighbours are connected to it.
func TestAbortFloodsSparseJob(t *testing.T) {
	checkGoroutines(t)
	const n, culprit = 40, 29
	comms := openRendezvous(t, n, nil)
	start := time.Now()
	comms[culprit].Abort(errors.New("model file corrupt"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	runAll(t, comms, func(c *Comm) error {
		_, err := c.Recv(ctx) // wakes with the fault
		var pe *PeerError
		var ae *AbortError
		if !errors.As(err, &pe) || !errors.As(err, &ae) || pe.Rank != culprit || ae.Rank != culprit || ae.Reason != "model file corrupt" {
			return fmt.Errorf("Recv: %v, want the abort of rank %d", err, culprit)
		}
		return nil
	})
	t.Logf("abort reached all %d ranks in %v", n, time.Since(start))
}

// A rank that dies (its sockets close without goodbye) is named by every rank, also those that never
// talked to it.
func TestDeathFloodsSparseJob(t *testing.T) {
	const n, dead = 30, 6
	comms := openRendezvous(t, n, func(c *Config) { c.Logf = func(string, ...any) {} })
	c := comms[dead]
	// Die as kill -9 does: no goodbye, no abort, the kernel closes the sockets. (Marking the communicator
	// closed first keeps its own readers from reporting the closed sockets as faults.)
	c.failMu.Lock()
	close(c.closing)
	c.failMu.Unlock()
	c.pmu.Lock()
	c.noMore = true
	c.pmu.Unlock()
	c.ln.Close()
	for _, p := range c.connected() {
		p.s.Close()
	}
	comms[dead] = nil // its goroutines stop on the closed sockets; Close would wait for goodbyes
	t.Cleanup(func() { close(c.stopBeat) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for r, c := range comms {
		if r == dead {
			continue
		}
		_, err := c.Recv(ctx)
		var pe *PeerError
		if !errors.As(err, &pe) || pe.Rank != dead {
			t.Fatalf("rank %d: Recv: %v, want a fault naming rank %d", r, err, dead)
		}
	}
}

// A rank whose rendezvous never comes (rank 0 absent) fails with an error naming rank 0's address.
func TestRendezvousUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	peers := []Peer{{Rank: 0, Host: "127.0.0.1", Port: addr.Port}, {Rank: 1, Host: "127.0.0.1"}}
	_, err = Open(context.Background(), Config{JobID: "j", Rank: 1, Peers: peers, Secret: testSecret, Sparse: true,
		ConnectTimeout: 300 * time.Millisecond})
	var pe *PeerError
	if !errors.As(err, &pe) || pe.Rank != 0 || !strings.Contains(err.Error(), "rendezvous") || !strings.Contains(err.Error(), addr.String()) {
		t.Fatalf("Open: %v, want a rendezvous error naming rank 0 at %s", err, addr)
	}
}

// A rank registering with the wrong secret is turned away; the job's own ranks are not disturbed.
func TestRendezvousWrongSecret(t *testing.T) {
	ln0, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	peers := []Peer{{Rank: 0, Host: "127.0.0.1", Port: ln0.Addr().(*net.TCPAddr).Port}, {Rank: 1, Host: "127.0.0.1"}}
	done := make(chan error, 1)
	go func() {
		c, err := Open(context.Background(), Config{JobID: "j", Rank: 0, Peers: peers, Listener: ln0, Secret: testSecret,
			ConnectTimeout: 5 * time.Second})
		if err == nil {
			c.Close()
		}
		done <- err
	}()
	_, err = Open(context.Background(), Config{JobID: "j", Rank: 1, Peers: peers, Secret: []byte("another-secret-0123456789"),
		ConnectTimeout: 2 * time.Second})
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("Open with the wrong secret: %v, want ErrAuth", err)
	}
	c1, err := Open(context.Background(), Config{JobID: "j", Rank: 1, Peers: peers, Secret: testSecret, ConnectTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Open with the right secret after a wrong one: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("rank 0: %v", err)
	}
	c1.Close()
}

// A descriptor limit too low for a full mesh is an error that says so and what to do.
func TestDescriptorLimitTooLow(t *testing.T) {
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Skip(err)
	}
	low := old
	low.Cur = 100
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skip(err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)
	peers := make([]Peer, 200)
	for r := range peers {
		peers[r] = Peer{Rank: r, Host: "127.0.0.1", Port: 40000 + r}
	}
	_, err := Open(context.Background(), Config{JobID: "j", Rank: 5, Peers: peers, Secret: testSecret})
	if !errors.Is(err, errTooManyFiles) || !strings.Contains(err.Error(), "ulimit -n") || !strings.Contains(err.Error(), "rank 5") {
		t.Fatalf("Open with a 100-descriptor limit and 199 peers: %v", err)
	}
}
