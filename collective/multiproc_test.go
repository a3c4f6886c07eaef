package collective

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Multi-process tests re-execute this test binary as extra ranks: TestMain sees helperEnv and runs
// helperMain instead of the tests. The parent is rank 0 (in-process, so it can assert directly); each
// child gets its pre-bound listener as fd 3 and its settings through the environment (the secret too,
// never argv).
const helperEnv = "JB_COLLECTIVE_HELPER"

type helperSpec struct {
	Mode          string // "exchange", "victim", "until-error"
	Rank          int
	Peers         []Peer
	Rounds        int
	MaxBlock      int
	MaxFrameBytes int
	Compression   string
	Seed          uint64
	Heartbeat     time.Duration
	Messages      int // stream messages per peer pair in "exchange"
}

func TestMain(m *testing.M) {
	if raw := os.Getenv(helperEnv); raw != "" {
		os.Exit(helperMain(raw))
	}
	if raw := os.Getenv(scaleEnv); raw != "" {
		os.Exit(scaleRankMain(raw))
	}
	os.Exit(m.Run())
}

func helperConfig(s helperSpec) (Config, error) {
	f := os.NewFile(3, "listener")
	ln, err := net.FileListener(f)
	if err != nil {
		return Config{}, fmt.Errorf("inherit listener: %w", err)
	}
	f.Close()
	return Config{JobID: "mp-job", Rank: s.Rank, Peers: s.Peers, Listener: ln, Secret: []byte(os.Getenv("JB_COLLECTIVE_SECRET")),
		Compression: s.Compression, MaxFrameBytes: s.MaxFrameBytes, ConnectTimeout: 20 * time.Second,
		HeartbeatTimeout: s.Heartbeat, CreditBytes: 256 << 10}, nil
}

func helperMain(raw string) int {
	var s helperSpec
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		fmt.Fprintln(os.Stderr, "helper spec:", err)
		return 2
	}
	cfg, err := helperConfig(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	c, err := Open(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Open:", err)
		return 1
	}
	fmt.Println("ready")
	switch s.Mode {
	case "exchange":
		err = exchange(ctx, c, s)
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	case "victim":
		select {} // wait to be killed or stopped
	case "until-error":
		send := make([][]byte, c.Size())
		for i := range send {
			send[i] = make([]byte, 1000)
		}
		for err == nil {
			_, err = c.AllToAllV(ctx, send)
		}
		c.Close() // tells the others who was at fault
		fmt.Printf("ERR %v\n", err)
		return 3
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "rank %d: %v\n", s.Rank, err)
		return 1
	}
	return 0
}

// mpBlockSize is the size of the block src sends dst in a round; every rank computes the same sizes.
// It mixes empty blocks, 1-byte blocks, blocks at the frame limit and random sizes.
func mpBlockSize(s helperSpec, src, dst, round int) int {
	h := s.Seed ^ uint64(src)*0x9E3779B97F4A7C15 ^ uint64(dst)*0xC2B2AE3D27D4EB4F ^ uint64(round)*0x165667B19E3779F9
	h ^= h >> 31
	h *= 0xD6E8FEB86659FD93
	h ^= h >> 29
	switch h % 8 {
	case 0:
		return 0
	case 1:
		return 1
	case 2:
		return s.MaxBlock
	}
	return int(h>>8) % (s.MaxBlock + 1)
}

// exchange runs rounds of AllToAllV with byte-exact checks, then every rank streams s.Messages messages
// to every other rank and checks order and content.
func exchange(ctx context.Context, c *Comm, s helperSpec) error {
	n, me := c.Size(), c.Rank()
	recv := make([][]byte, n)
	for round := range s.Rounds {
		send := make([][]byte, n)
		for dst := range send {
			send[dst] = pattern(make([]byte, mpBlockSize(s, me, dst, round)), me, dst, round)
		}
		if err := c.AllToAllVInto(ctx, send, recv); err != nil {
			return err
		}
		for src, got := range recv {
			want := pattern(make([]byte, mpBlockSize(s, src, me, round)), src, me, round)
			if !bytes.Equal(got, want) {
				return fmt.Errorf("round %d: block from rank %d: got %d bytes, want %d, content equal=%v",
					round, src, len(got), len(want), bytes.Equal(got, want))
			}
		}
	}
	// Streaming: everyone sends to everyone (including itself) concurrently with receiving.
	errc := make(chan error, 1)
	go func() {
		for i := range s.Messages {
			for k := range n {
				dst := (me + k) % n
				p := pattern(make([]byte, mpBlockSize(s, me, dst, 1000+i)%(64<<10)), me, dst, 1000+i)
				if err := c.Send(ctx, dst, uint16(i%3), p); err != nil {
					errc <- err
					return
				}
			}
		}
		errc <- nil
	}()
	next := make([]int, n)
	for got := 0; got < n*s.Messages; got++ {
		m, err := c.Recv(ctx)
		if err != nil {
			return fmt.Errorf("Recv after %d messages: %w", got, err)
		}
		i := next[m.Src]
		want := pattern(make([]byte, mpBlockSize(s, m.Src, me, 1000+i)%(64<<10)), m.Src, me, 1000+i)
		if !bytes.Equal(m.Payload, want) || m.Edge != uint16(i%3) {
			return fmt.Errorf("stream message %d from rank %d differs (%d bytes, want %d)", i, m.Src, len(m.Payload), len(want))
		}
		next[m.Src]++
		Release(m.Payload)
	}
	if err := <-errc; err != nil {
		return err
	}
	return c.Barrier(ctx)
}

// child is one helper process.
type child struct {
	rank   int
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startJob binds n listeners, starts ranks 1..n-1 as child processes and returns rank 0's config.
// Children are killed (by PID) and reaped at cleanup.
func startJob(t *testing.T, n int, spec helperSpec, modeOf func(rank int) string) (Config, []*child) {
	t.Helper()
	lns, peers := listenLocal(t, n)
	spec.Peers = peers
	children := make([]*child, n)
	for r := 1; r < n; r++ {
		s := spec
		s.Rank, s.Mode = r, modeOf(r)
		raw, _ := json.Marshal(s)
		f, err := lns[r].(*net.TCPListener).File()
		if err != nil {
			t.Fatalf("listener file: %v", err)
		}
		lns[r].Close()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+string(raw), "JB_COLLECTIVE_SECRET="+string(testSecret))
		cmd.ExtraFiles = []*os.File{f}
		ch := &child{rank: r, cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
		cmd.Stdout, cmd.Stderr = ch.stdout, ch.stderr
		if err := cmd.Start(); err != nil {
			t.Fatalf("start rank %d: %v", r, err)
		}
		f.Close()
		go func() { ch.done <- cmd.Wait() }()
		children[r] = ch
		t.Cleanup(func() {
			select {
			case <-ch.done:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				<-ch.done
				t.Errorf("rank %d (pid %d) did not exit; killed. stderr:\n%s", r, cmd.Process.Pid, ch.stderr.String())
			}
		})
	}
	cfg := Config{JobID: "mp-job", Rank: 0, Peers: peers, Listener: lns[0], Secret: testSecret,
		Compression: spec.Compression, MaxFrameBytes: spec.MaxFrameBytes, ConnectTimeout: 20 * time.Second,
		HeartbeatTimeout: spec.Heartbeat, CreditBytes: 256 << 10, Logf: t.Logf}
	return cfg, children
}

func (ch *child) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-ch.done:
		ch.done <- err // keep it for cleanup
		return err
	case <-time.After(timeout):
		ch.cmd.Process.Kill()
		t.Fatalf("rank %d did not finish within %v; stderr:\n%s", ch.rank, timeout, ch.stderr.String())
		return nil
	}
}

func TestMultiProcessExchange(t *testing.T) {
	cases := []struct {
		name     string
		ranks    int
		maxBlock int
		maxFrame int
		comp     string
	}{
		{"2ranks-off", 2, 300_000, 0, "off"},
		{"3ranks-frame-limit", 3, 128 << 10, 128 << 10, "off"}, // blocks exactly at MaxFrameBytes
		{"5ranks-fastest", 5, 100_000, 0, "fastest"},
		{"8ranks-auto", 8, 50_000, 0, "auto"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			spec := helperSpec{Rounds: 8, MaxBlock: tc.maxBlock, MaxFrameBytes: tc.maxFrame, Compression: tc.comp,
				Seed: uint64(time.Now().UnixNano()) + uint64(i), Heartbeat: 5 * time.Second, Messages: 30}
			t.Logf("seed %d", spec.Seed)
			cfg, children := startJob(t, tc.ranks, spec, func(int) string { return "exchange" })
			c, err := Open(context.Background(), cfg)
			if err != nil {
				t.Fatalf("rank 0 Open: %v", err)
			}
			spec.Rank = 0
			if err := exchange(context.Background(), c, spec); err != nil {
				t.Errorf("rank 0: %v", err)
			}
			if err := c.Close(); err != nil {
				t.Errorf("rank 0 Close: %v", err)
			}
			for _, ch := range children[1:] {
				if err := ch.wait(t, 60*time.Second); err != nil {
					t.Errorf("rank %d exited with %v; stderr:\n%s", ch.rank, err, ch.stderr.String())
				}
			}
			tot := c.Totals()
			if tot.RawBytesSent == 0 || tot.RawBytesRecv == 0 {
				t.Errorf("byte counters not updated: %+v", tot)
			}
			if tc.comp == "off" && tot.WireBytesSent != tot.RawBytesSent {
				t.Errorf("compression off but wire %d != raw %d", tot.WireBytesSent, tot.RawBytesSent)
			}
		})
	}
}

// TestMultiProcessPeerDeath kills (or freezes) one rank while the others are inside AllToAllV: every
// survivor must fail with an error naming the victim, within the heartbeat timeout, and exit.
func TestMultiProcessPeerDeath(t *testing.T) {
	for _, how := range []string{"kill", "freeze"} {
		t.Run(how, func(t *testing.T) {
			checkGoroutines(t)
			const n, victim = 4, 2
			hb := 1500 * time.Millisecond
			spec := helperSpec{Heartbeat: hb}
			cfg, children := startJob(t, n, spec, func(r int) string {
				if r == victim {
					return "victim"
				}
				return "until-error"
			})
			c, err := Open(context.Background(), cfg)
			if err != nil {
				t.Fatalf("rank 0 Open: %v", err)
			}
			defer c.Close()
			// Wait until every rank finished Open (each prints "ready"), then strike: a rank still
			// inside Open would fail there, before the operation whose error this test checks.
			for r := 1; r < n; r++ {
				waitFor(t, func() bool { return strings.Contains(children[r].stdout.String(), "ready") })
			}
			vp := children[victim].cmd.Process
			start := time.Now()
			if how == "kill" {
				vp.Kill()
			} else {
				vp.Signal(stopSignal)
				defer func() { vp.Kill() }()
			}
			_, err = c.AllToAllV(context.Background(), make([][]byte, n))
			for err == nil {
				_, err = c.AllToAllV(context.Background(), make([][]byte, n))
			}
			elapsed := time.Since(start)
			var pe *PeerError
			if !errors.As(err, &pe) || pe.Rank != victim {
				t.Fatalf("rank 0 got %v, want a PeerError naming rank %d", err, victim)
			}
			if !strings.Contains(err.Error(), "rank "+strconv.Itoa(victim)) || !strings.Contains(err.Error(), "127.0.0.1:") {
				t.Errorf("error %q does not name rank %d and its address", err, victim)
			}
			if limit := hb + time.Second; elapsed > limit {
				t.Errorf("fault detected after %v, want within heartbeat timeout %v (+1s slack)", elapsed, hb)
			}
			t.Logf("rank 0 detected %s after %v: %v", how, elapsed, err)
			// Later operations fail too, immediately.
			if err := c.Send(context.Background(), 1, 0, []byte("x")); err == nil {
				t.Errorf("Send after fault succeeded")
			}
			if how == "freeze" {
				vp.Kill()
			}
			for r := 1; r < n; r++ {
				if r == victim {
					continue
				}
				ch := children[r]
				werr := ch.wait(t, 10*time.Second)
				out := ch.stdout.String()
				if werr == nil || !strings.Contains(out, "ERR") || !strings.Contains(out, "rank "+strconv.Itoa(victim)) {
					t.Errorf("rank %d: exit %v, stdout %q: want an error naming rank %d", r, werr, out, victim)
				}
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var _ = io.EOF
