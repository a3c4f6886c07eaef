package collective

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

var testSecret = []byte("test-secret-0123456789abcdef")

// listenLocal binds n loopback listeners on ephemeral ports and returns them with the peer list.
func listenLocal(t testing.TB, n int) ([]net.Listener, []Peer) {
	t.Helper()
	lns := make([]net.Listener, n)
	peers := make([]Peer, n)
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		lns[i] = ln
		peers[i] = Peer{Rank: i, Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port}
	}
	return lns, peers
}

// openLocal opens an n-rank job inside this process (each rank on its own loopback port).
func openLocal(t testing.TB, n int, tweak func(*Config)) []*Comm {
	t.Helper()
	lns, peers := listenLocal(t, n)
	comms := make([]*Comm, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := range n {
		cfg := Config{JobID: "test-job", Rank: r, Peers: peers, Listener: lns[r], Secret: testSecret,
			ConnectTimeout: 10 * time.Second, HeartbeatTimeout: 5 * time.Second, Logf: t.Logf}
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

func closeAll(comms []*Comm) {
	var wg sync.WaitGroup
	for _, c := range comms {
		if c != nil {
			wg.Add(1)
			go func() { defer wg.Done(); c.Close() }()
		}
	}
	wg.Wait()
}

// runAll runs f on every rank concurrently and fails on the first error.
func runAll(t testing.TB, comms []*Comm, f func(c *Comm) error) {
	t.Helper()
	errs := make([]error, len(comms))
	var wg sync.WaitGroup
	for i, c := range comms {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f(c) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", i, err)
		}
	}
}

// checkGoroutines fails if goroutines started during the test are still running shortly after it.
func checkGoroutines(t testing.TB) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			now := runtime.NumGoroutine()
			if now <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, now, buf)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// pattern fills a deterministic, position- and source-dependent byte pattern.
func pattern(b []byte, src, dst, round int) []byte {
	x := uint32(src*7919 + dst*104729 + round*1299709 + 1)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func blockSize(src, dst, round, max int) int {
	x := (src*31 + dst*17 + round*13) % 7
	switch x {
	case 0:
		return 0
	case 1:
		return 1
	case 2:
		return max
	}
	return (src*977 + dst*331 + round*7717) % (max + 1)
}

func describe(src, dst, round int) string {
	return fmt.Sprintf("block %d->%d round %d", src, dst, round)
}
