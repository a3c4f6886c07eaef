package collective

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// BenchmarkScale measures what grows with the job size: start-up (Open of every rank, from the first
// call to the last return), a tiny 4-stage pipeline (each rank streams to its partner in the next stage)
// with the statistics gather at the end, the time for one rank's fault to reach every rank (an Abort,
// and a death: sockets closed without goodbye, as the kernel does for kill -9), and the sockets each
// rank holds. All ranks run in this process on loopback, so the numbers include 2 cores' worth of
// scheduling for n ranks.
//
//	go test -run '^$' -bench Scale -benchtime 3x ./collective
func BenchmarkScale(b *testing.B) {
	for _, mode := range []string{"sparse", "mesh"} {
		for _, n := range scaleSizes {
			if mode == "mesh" && n*(n-1)+n+64 > int(softLimit()) {
				continue // a full mesh of n ranks in one process needs n(n-1) sockets
			}
			b.Run(fmt.Sprintf("%s/ranks=%d", mode, n), func(b *testing.B) {
				var st scaleStats
				for range b.N {
					st.add(runScale(b, n, mode == "sparse"))
				}
				st.report(b)
			})
		}
	}
}

func softLimit() uint64 { s, _ := descriptorLimit(); return s }

type scaleResult struct {
	startup, pipeline, abort, death time.Duration
	maxConns                        int
	meanConns, fdsPerRank           float64
}

type scaleStats struct {
	n   int
	sum scaleResult
}

func (s *scaleStats) add(r scaleResult) {
	s.n++
	s.sum.startup += r.startup
	s.sum.pipeline += r.pipeline
	s.sum.abort += r.abort
	s.sum.death += r.death
	s.sum.maxConns = max(s.sum.maxConns, r.maxConns)
	s.sum.meanConns += r.meanConns
	s.sum.fdsPerRank += r.fdsPerRank
}

func (s *scaleStats) report(b *testing.B) {
	d := float64(s.n)
	b.ReportMetric(float64(s.sum.startup.Milliseconds())/d, "startup-ms")
	b.ReportMetric(float64(s.sum.pipeline.Milliseconds())/d, "pipeline-ms")
	b.ReportMetric(float64(s.sum.abort.Microseconds())/d/1000, "abort-ms")
	b.ReportMetric(float64(s.sum.death.Microseconds())/d/1000, "death-ms")
	b.ReportMetric(float64(s.sum.maxConns), "max-conns/rank")
	b.ReportMetric(s.sum.meanConns/d, "conns/rank")
	b.ReportMetric(s.sum.fdsPerRank/d, "fds/rank")
	b.ReportMetric(0, "ns/op")
}

func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}

func runScale(b *testing.B, n int, sparse bool) scaleResult {
	b.Helper()
	var res scaleResult
	quiet := func(string, ...any) {}
	fdsBefore := openFDs()
	peers := make([]Peer, n)
	lns := make([]net.Listener, n)
	for r := range peers {
		peers[r] = Peer{Rank: r, Host: "127.0.0.1"}
	}
	// Sparse jobs use the rendezvous (only rank 0's port known); the mesh baseline the old fixed ports.
	for r := range n {
		if r == 0 || !sparse {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			lns[r] = ln
			peers[r].Port = ln.Addr().(*net.TCPAddr).Port
		}
	}
	comms := make([]*Comm, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for r := range n {
		cfg := Config{JobID: "scale", Rank: r, Peers: peers, Listener: lns[r], Secret: testSecret, Sparse: sparse,
			ConnectTimeout: 60 * time.Second, HeartbeatTimeout: 30 * time.Second, Logf: quiet}
		wg.Add(1)
		go func() {
			defer wg.Done()
			comms[r], errs[r] = Open(context.Background(), cfg)
		}()
	}
	wg.Wait()
	res.startup = time.Since(start)
	defer closeAll(comms)
	for r, err := range errs {
		if err != nil {
			b.Fatalf("rank %d: Open: %v", r, err)
		}
	}

	// A 4-stage pipeline: rank r of stage s streams 16 messages of 1 KiB to rank r+n/4; the last stage
	// consumes; then every rank reports to the last rank (the sink) over the tree.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	width := n / 4
	start = time.Now()
	perr := make([]error, n)
	for r := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := comms[r]
			payload := make([]byte, 1024)
			if r >= width { // receive from the previous stage
				for range 16 {
					m, err := c.Recv(ctx)
					if err != nil {
						perr[r] = err
						return
					}
					Release(m.Payload)
				}
			}
			if r+width < n {
				for range 16 {
					if err := c.Send(ctx, r+width, 1, payload); err != nil {
						perr[r] = err
						return
					}
				}
			}
			send := make([][]byte, n)
			send[n-1] = []byte("stats of one rank, a few hundred bytes in the real job")
			if _, err := c.SparseAllToAllV(ctx, send); err != nil {
				perr[r] = err
			}
		}()
	}
	wg.Wait()
	res.pipeline = time.Since(start)
	for r, err := range perr {
		if err != nil {
			b.Fatalf("rank %d: pipeline: %v", r, err)
		}
	}
	total := 0
	for _, c := range comms {
		k := c.Connections()
		total += k
		res.maxConns = max(res.maxConns, k)
	}
	res.meanConns = float64(total) / float64(n)
	res.fdsPerRank = float64(openFDs()-fdsBefore) / float64(n)

	// One rank aborts; every other rank must see it.
	start = time.Now()
	comms[n/2+1].Abort(fmt.Errorf("benchmark abort"))
	for _, c := range comms {
		<-c.dead
	}
	res.abort = time.Since(start)
	closeAll(comms)

	// A second job, to time a death (sockets closed without goodbye) instead of an abort.
	res.death = timeDeath(b, n, sparse)
	return res
}

// timeDeath opens a job, kills one rank the way kill -9 would (its sockets close, nothing is sent) and
// returns how long until every other rank has faulted.
func timeDeath(b *testing.B, n int, sparse bool) time.Duration {
	b.Helper()
	peers := make([]Peer, n)
	lns := make([]net.Listener, n)
	for r := range peers {
		peers[r] = Peer{Rank: r, Host: "127.0.0.1"}
		if r == 0 || !sparse {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			lns[r] = ln
			peers[r].Port = ln.Addr().(*net.TCPAddr).Port
		}
	}
	comms := make([]*Comm, n)
	var wg sync.WaitGroup
	for r := range n {
		cfg := Config{JobID: "scale-death", Rank: r, Peers: peers, Listener: lns[r], Secret: testSecret, Sparse: sparse,
			ConnectTimeout: 60 * time.Second, HeartbeatTimeout: 30 * time.Second, Logf: func(string, ...any) {}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if comms[r], err = Open(context.Background(), cfg); err != nil {
				b.Errorf("rank %d: Open: %v", r, err)
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		closeAll(comms)
		b.FailNow()
	}
	victim := n/2 + 1
	c := comms[victim]
	start := time.Now()
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
	for r, o := range comms {
		if r != victim {
			<-o.dead
		}
	}
	took := time.Since(start)
	close(c.stopBeat)
	comms[victim] = nil
	closeAll(comms)
	return took
}

// scaleSizes are the job sizes of BenchmarkScale (BENCHMARKS.md: 16, 64, 256; 128 and 512 to check the trend).
var scaleSizes = []int{16, 64, 256}
