package bench

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"jellybean/collective"
)

// Worker is the body of one benchmark rank (the hidden `jellybean collective-worker` command): it reads
// its spec from the environment and its listener from fd 3, runs, and prints one JSON report line.
func Worker(ctx context.Context) error {
	var s workerSpec
	if err := json.Unmarshal([]byte(os.Getenv(SpecEnv)), &s); err != nil {
		return fmt.Errorf("%s: %w (this command is started by `jellybean bench collective`)", SpecEnv, err)
	}
	secret, err := hex.DecodeString(os.Getenv(SecretEnv))
	if err != nil || len(secret) == 0 {
		return fmt.Errorf("%s: missing or not hex", SecretEnv)
	}
	ln, err := workerListener(s)
	if err != nil {
		return err
	}
	n := len(s.Peers)
	send := make([][]byte, n)
	for dst := range send {
		if send[dst], err = Generate(s.Data, s.Bytes, uint64(s.Rank*1000+dst)); err != nil {
			return err
		}
	}
	var rep workerReport
	switch s.Variant {
	case "collective":
		rep, err = runCollective(ctx, s, ln, secret, send)
	case "tcp":
		rep, err = runTCP(ctx, s, ln, send)
	default:
		err = fmt.Errorf("unknown variant %q", s.Variant)
	}
	if err != nil {
		return fmt.Errorf("rank %d: %w", s.Rank, err)
	}
	rep.Rank = s.Rank
	return json.NewEncoder(os.Stdout).Encode(rep)
}

func workerListener(s workerSpec) (net.Listener, error) {
	if s.Listen != "" {
		return net.Listen("tcp", s.Listen)
	}
	f := os.NewFile(3, "listener")
	if f == nil {
		return nil, errors.New("no listener on fd 3")
	}
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("listener on fd 3: %w", err)
	}
	return ln, nil
}

func runCollective(ctx context.Context, s workerSpec, ln net.Listener, secret []byte, send [][]byte) (workerReport, error) {
	c, err := collective.Open(ctx, collective.Config{JobID: "bench-collective", Rank: s.Rank, Peers: s.Peers, Listener: ln,
		Secret: secret, Compression: s.Compress, ConnectTimeout: time.Minute, HeartbeatTimeout: 30 * time.Second,
		Logf: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }})
	if err != nil {
		return workerReport{}, err
	}
	defer c.Close()
	n := c.Size()
	recv := make([][]byte, n)
	if s.Mode == "stream" {
		return streamCollective(ctx, c, s, send[1-s.Rank])
	}
	for range 2 { // warm-up: pools, codecs, TCP windows
		if err := c.AllToAllVInto(ctx, send, recv); err != nil {
			return workerReport{}, err
		}
	}
	if err := c.Barrier(ctx); err != nil {
		return workerReport{}, err
	}
	before := c.Totals()
	t0, cpu0 := time.Now(), cpuSeconds()
	for range s.Rounds {
		if err := c.AllToAllVInto(ctx, send, recv); err != nil {
			return workerReport{}, err
		}
	}
	secs, cpu := time.Since(t0).Seconds(), cpuSeconds()-cpu0
	after := c.Totals()
	if err := c.Barrier(ctx); err != nil {
		return workerReport{}, err
	}
	return workerReport{Seconds: secs, CPU: cpu, RawSent: after.RawBytesSent - before.RawBytesSent, WireSent: after.WireBytesSent - before.WireBytesSent}, nil
}

// streamCollective: rank 1 streams s.Rounds messages to rank 0; rank 0's time is the measurement.
func streamCollective(ctx context.Context, c *collective.Comm, s workerSpec, msg []byte) (workerReport, error) {
	if err := c.Barrier(ctx); err != nil {
		return workerReport{}, err
	}
	before := c.Totals()
	t0, cpu0 := time.Now(), cpuSeconds()
	if s.Rank == 1 {
		for range s.Rounds {
			if err := c.Send(ctx, 0, 1, msg); err != nil {
				return workerReport{}, err
			}
		}
	} else {
		for range s.Rounds {
			m, err := c.Recv(ctx)
			if err != nil {
				return workerReport{}, err
			}
			collective.Release(m.Payload)
		}
	}
	secs, cpu := time.Since(t0).Seconds(), cpuSeconds()-cpu0
	after := c.Totals()
	if err := c.Barrier(ctx); err != nil {
		return workerReport{}, err
	}
	return workerReport{Seconds: secs, CPU: cpu, RawSent: after.RawBytesSent - before.RawBytesSent, WireSent: after.WireBytesSent - before.WireBytesSent}, nil
}

// runTCP is the baseline: the same pattern over plain TCP, no framing, checksums or authentication.
func runTCP(ctx context.Context, s workerSpec, ln net.Listener, send [][]byte) (workerReport, error) {
	n, me := len(s.Peers), s.Rank
	conns, err := tcpMesh(ctx, s, ln)
	if err != nil {
		return workerReport{}, err
	}
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if err := tcpBarrier(conns, me); err != nil {
		return workerReport{}, err
	}
	if s.Mode == "stream" {
		t0, cpu0 := time.Now(), cpuSeconds()
		if me == 1 {
			for range s.Rounds {
				if _, err := conns[0].Write(send[0]); err != nil {
					return workerReport{}, err
				}
			}
		} else {
			buf := make([]byte, s.Bytes)
			for range s.Rounds {
				if _, err := io.ReadFull(conns[1], buf); err != nil {
					return workerReport{}, err
				}
			}
		}
		secs, cpu := time.Since(t0).Seconds(), cpuSeconds()-cpu0
		return workerReport{Seconds: secs, CPU: cpu}, tcpBarrier(conns, me)
	}
	// One reader per peer signals each completed round.
	done := make(chan error, n*s.Rounds)
	var wg sync.WaitGroup
	for src, c := range conns {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, s.Bytes)
			for range s.Rounds {
				_, err := io.ReadFull(c, buf)
				done <- err
				if err != nil {
					return
				}
			}
			_ = src
		}()
	}
	local := make([]byte, s.Bytes)
	t0, cpu0 := time.Now(), cpuSeconds()
	for range s.Rounds {
		for k := 1; k < n; k++ {
			dst := (me + k) % n
			if _, err := conns[dst].Write(send[dst]); err != nil {
				return workerReport{}, err
			}
		}
		copy(local, send[me])
		for k := 1; k < n; k++ {
			if err := <-done; err != nil {
				return workerReport{}, err
			}
		}
	}
	secs, cpu := time.Since(t0).Seconds(), cpuSeconds()-cpu0
	wg.Wait()
	return workerReport{Seconds: secs, CPU: cpu}, tcpBarrier(conns, me)
}

// tcpMesh connects every pair (higher rank dials lower, sending its rank as 4 bytes).
func tcpMesh(ctx context.Context, s workerSpec, ln net.Listener) ([]net.Conn, error) {
	n, me := len(s.Peers), s.Rank
	conns := make([]net.Conn, n)
	errc := make(chan error, 1)
	go func() {
		for got := 0; got < n-1-me; got++ {
			c, err := ln.Accept()
			if err != nil {
				errc <- err
				return
			}
			var id [4]byte
			if _, err := io.ReadFull(c, id[:]); err != nil {
				errc <- err
				return
			}
			conns[binary.LittleEndian.Uint32(id[:])] = c
		}
		errc <- nil
	}()
	for r := 0; r < me; r++ {
		var c net.Conn
		var err error
		deadline := time.Now().Add(time.Minute)
		for {
			var d net.Dialer
			if c, err = d.DialContext(ctx, "tcp", net.JoinHostPort(s.Peers[r].Host, fmt.Sprint(s.Peers[r].Port))); err == nil {
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("dial rank %d: %w", r, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		var id [4]byte
		binary.LittleEndian.PutUint32(id[:], uint32(me))
		if _, err := c.Write(id[:]); err != nil {
			return nil, err
		}
		conns[r] = c
	}
	if err := <-errc; err != nil {
		return nil, err
	}
	ln.Close()
	return conns, nil
}

// tcpBarrier: one byte to and from every peer.
func tcpBarrier(conns []net.Conn, me int) error {
	for r, c := range conns {
		if r != me {
			if _, err := c.Write([]byte{1}); err != nil {
				return err
			}
		}
	}
	var b [1]byte
	for r, c := range conns {
		if r != me {
			if _, err := io.ReadFull(c, b[:]); err != nil {
				return err
			}
		}
	}
	return nil
}

// cpuSeconds is this process's user+system CPU time so far (all threads).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
