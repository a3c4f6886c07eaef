package collective

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Job-size tests with one process per rank, as a real job runs: every rank is this test binary re-executed
// (scaleEnv), finds the others through the rendezvous at rank 0 (the only port the parent chooses), runs
// the tiny 4-stage pipeline of BenchmarkScale, reports, and then waits for a fault. The parent kills one
// rank with SIGKILL and times how long the others take to exit on their own.
const scaleEnv = "JB_COLLECTIVE_SCALE_RANK"

type scaleSpec struct {
	Rank, Size, Port int
}

// scaleRankMain is one rank process: prints "ready", "done <connections> <fds>", then "fault <rank>"
// once the communicator faults, and exits 3.
func scaleRankMain(raw string) int {
	var s scaleSpec
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		fmt.Fprintln(os.Stderr, "scale spec:", err)
		return 2
	}
	peers := make([]Peer, s.Size)
	for r := range peers {
		peers[r] = Peer{Rank: r, Host: "127.0.0.1"}
	}
	peers[0].Port = s.Port
	ctx := context.Background()
	c, err := Open(ctx, Config{JobID: "scale-procs", Rank: s.Rank, Peers: peers, Secret: []byte(os.Getenv("JB_COLLECTIVE_SECRET")),
		Sparse: true, ConnectTimeout: 2 * time.Minute, HeartbeatTimeout: time.Minute})
	if err != nil {
		fmt.Fprintln(os.Stderr, "Open:", err)
		return 1
	}
	fmt.Println("ready")
	width := s.Size / 4
	payload := make([]byte, 1024)
	if s.Rank >= width {
		for range 16 {
			m, err := c.Recv(ctx)
			if err != nil {
				fmt.Fprintln(os.Stderr, "Recv:", err)
				return 1
			}
			Release(m.Payload)
		}
	}
	if s.Rank+width < s.Size {
		for range 16 {
			if err := c.Send(ctx, s.Rank+width, 1, payload); err != nil {
				fmt.Fprintln(os.Stderr, "Send:", err)
				return 1
			}
		}
	}
	send := make([][]byte, s.Size)
	send[s.Size-1] = []byte("statistics")
	if _, err := c.SparseAllToAllV(ctx, send); err != nil {
		fmt.Fprintln(os.Stderr, "SparseAllToAllV:", err)
		return 1
	}
	fmt.Printf("done %d %d\n", c.Connections(), openFDs())
	<-c.dead
	var pe *PeerError
	if errors.As(c.Err(), &pe) {
		fmt.Printf("fault %d\n", pe.Rank)
	} else {
		fmt.Printf("fault ? %v\n", c.Err())
	}
	c.Close() // as a rank does when it stops: the abort reaches every peer before our sockets close
	return 3
}

// scaleProc is one rank process seen from the parent.
type scaleProc struct {
	cmd    *exec.Cmd
	lines  chan string
	exited chan struct{}
}

type procScale struct {
	startup, done, death time.Duration
	maxConns, maxFDs     int
	meanConns            float64
}

// runProcessJob runs an n-process job and kills rank victim after the pipeline. It checks that every
// other rank names the victim.
func runProcessJob(t testing.TB, n, victim int) procScale {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // rank 0 binds it (a fresh port: nothing else is likely to take it in between)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	procs := make([]*scaleProc, n)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var res procScale
	start := time.Now()
	for r := range n {
		raw, _ := json.Marshal(scaleSpec{Rank: r, Size: n, Port: port})
		cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), scaleEnv+"="+string(raw), "JB_COLLECTIVE_SECRET="+string(testSecret))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting rank %d of %d: %v", r, n, err)
		}
		p := &scaleProc{cmd: cmd, lines: make(chan string, 4), exited: make(chan struct{})}
		procs[r] = p
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				p.lines <- sc.Text()
			}
			close(p.lines)
			p.cmd.Wait()
			close(p.exited)
		}()
	}
	defer func() {
		for _, p := range procs {
			if p != nil && p.cmd.Process != nil {
				p.cmd.Process.Kill()
				<-p.exited
			}
		}
	}()
	expect := func(r int, prefix string) string {
		select {
		case line, ok := <-procs[r].lines:
			if !ok || !strings.HasPrefix(line, prefix) {
				t.Fatalf("rank %d of %d: got %q (open %v), want %q...", r, n, line, ok, prefix)
			}
			return line
		case <-ctx.Done():
			t.Fatalf("rank %d of %d: no %q line", r, n, prefix)
		}
		return ""
	}
	for r := range n {
		expect(r, "ready")
	}
	res.startup = time.Since(start)
	total := 0
	for r := range n {
		f := strings.Fields(expect(r, "done "))
		conns, _ := strconv.Atoi(f[1])
		fds, _ := strconv.Atoi(f[2])
		total += conns
		res.maxConns, res.maxFDs = max(res.maxConns, conns), max(res.maxFDs, fds)
	}
	res.done = time.Since(start)
	res.meanConns = float64(total) / float64(n)

	killed := time.Now()
	if err := procs[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for r := range n {
		if r == victim {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case line := <-procs[r].lines:
				if line != fmt.Sprintf("fault %d", victim) {
					errs[r] = fmt.Errorf("rank %d reported %q, want fault %d", r, line, victim)
				}
				<-procs[r].exited
			case <-ctx.Done():
				errs[r] = fmt.Errorf("rank %d did not stop", r)
			}
		}()
	}
	wg.Wait()
	res.death = time.Since(killed)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return res
}

// A 64-process job: sockets per rank stay at the tree and pipeline links, and a kill -9 of one rank stops
// every other rank, each naming it, well within 2 seconds.
func TestProcessJobKillStopsAll(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("starts 64 processes (runs in the plain, non-race go test step)")
	}
	const n, victim = 64, 37
	res := runProcessJob(t, n, victim)
	t.Logf("%d processes: ready after %v, pipeline done after %v, kill -9 of rank %d stopped all in %v; sockets/rank mean %.1f max %d; fds max %d",
		n, res.startup, res.done, victim, res.death, res.meanConns, res.maxConns, res.maxFDs)
	if res.maxConns > treeFanout+1+2 {
		t.Errorf("a rank holds %d connections, want at most %d (tree links + pipeline partners)", res.maxConns, treeFanout+3)
	}
	if res.death > 2*time.Second {
		t.Errorf("the kill took %v to stop every rank, want < 2 s", res.death)
	}
}

// BenchmarkScaleProcesses is BenchmarkScale with one process per rank:
//
//	go test -run '^$' -bench ScaleProcesses -benchtime 1x ./collective
func BenchmarkScaleProcesses(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("ranks=%d", n), func(b *testing.B) {
			var sum procScale
			for range b.N {
				r := runProcessJob(b, n, n/2+1)
				sum.startup += r.startup
				sum.done += r.done
				sum.death += r.death
				sum.maxConns = max(sum.maxConns, r.maxConns)
				sum.maxFDs = max(sum.maxFDs, r.maxFDs)
				sum.meanConns += r.meanConns
			}
			d := float64(b.N)
			b.ReportMetric(float64(sum.startup.Milliseconds())/d, "startup-ms")
			b.ReportMetric(float64(sum.done.Milliseconds())/d, "pipeline-done-ms")
			b.ReportMetric(float64(sum.death.Milliseconds())/d, "kill9-stops-all-ms")
			b.ReportMetric(sum.meanConns/d, "conns/rank")
			b.ReportMetric(float64(sum.maxConns), "max-conns/rank")
			b.ReportMetric(float64(sum.maxFDs), "max-fds/process")
			b.ReportMetric(0, "ns/op")
		})
	}
}
