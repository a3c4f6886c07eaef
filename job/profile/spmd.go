package profile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"jellybean/collective"
	"jellybean/hostfiles"
)

// Over a hostfile the profiler is an SPMD job (`jellybean launch` machinery, one rank per slot). Every
// rank measures on its own host; ranks on the same machine take turns, with a barrier between turns, so
// that their measurements do not disturb each other; rank 0 gathers every rank's result and writes the
// merged files. "The same machine" is decided from each rank's kernel boot id, which ranks exchange
// first: hosts emulated on one machine (network namespaces, 127.0.0.x) share it, real hosts do not.

// DefaultBasePort is where profiling ranks listen (base + slot index on the host): apart from the
// runner's default (29500), so that a profile can run beside a job.
const DefaultBasePort = 29700

// peerFailureGrace is how long a rank that lost a peer waits before it exits with that error.
const peerFailureGrace = 3 * time.Second

// RankConfig is one rank of a profiling job.
type RankConfig struct {
	Hostfile *hostfiles.Hostfile
	Rank     int
	JobID    string
	Secret   []byte
	BasePort int // default DefaultBasePort
	// MachineKey identifies the machine the rank runs on (default: the kernel's boot id).
	MachineKey string
	// Measure profiles this rank's host; called during the rank's turn.
	Measure func(slot hostfiles.Slot) (*Result, error)
	// Say receives progress lines meant for the user (the launcher shows them).
	Say              io.Writer
	ConnectTimeout   time.Duration // default 60s: ranks start at different speeds over ssh
	HeartbeatTimeout time.Duration // default 60s: a rank busy measuring must not look dead
}

// RunRank runs one rank: exchange machine keys, measure in turn, gather at rank 0. Rank 0 returns the
// merged result of every rank (in rank order); other ranks return nil.
func RunRank(ctx context.Context, cfg RankConfig) (res *Result, err error) {
	defer func() {
		// A rank that lost a peer lets the launcher see the peer's own failure first, so that the job's
		// error names the rank at fault, not the ones that merely noticed; the launcher stops it meanwhile.
		if pe := (*collective.PeerError)(nil); errors.As(err, &pe) {
			time.Sleep(peerFailureGrace)
		}
	}()
	hf := cfg.Hostfile
	slot, err := hf.Slot(cfg.Rank)
	if err != nil {
		return nil, err
	}
	say := func(format string, a ...any) {
		if cfg.Say != nil {
			fmt.Fprintf(cfg.Say, "rank %d (%s): %s\n", cfg.Rank, slot.Host, fmt.Sprintf(format, a...))
		}
	}
	base := cfg.BasePort
	if base == 0 {
		base = DefaultBasePort
	}
	key := cfg.MachineKey
	if key == "" {
		key = MachineKey()
	}
	slots := hf.Ranks()
	peers := make([]collective.Peer, len(slots))
	for i, s := range slots {
		peers[i] = collective.Peer{Rank: s.Rank, Host: s.Host, Port: base + s.LocalIndex}
	}
	comm, err := collective.Open(ctx, collective.Config{JobID: cfg.JobID, Rank: cfg.Rank, Peers: peers,
		ListenAddr: listenAddr(slot.Host, base+slot.LocalIndex), Secret: cfg.Secret,
		ConnectTimeout: orDefault(cfg.ConnectTimeout, time.Minute), HeartbeatTimeout: orDefault(cfg.HeartbeatTimeout, time.Minute)})
	if err != nil {
		return nil, fmt.Errorf("rank %d (%s), port %d: %w", cfg.Rank, slot.Host, base+slot.LocalIndex, err)
	}
	defer comm.Close()

	keys, err := allGather(ctx, comm, []byte(key))
	if err != nil {
		return nil, err
	}
	turn, turns := Turns(keys)
	var mine *Result
	for t := range turns {
		if t == turn[cfg.Rank] {
			say("measuring (turn %d of %d on its machine)", t+1, turns)
			start := time.Now()
			if mine, err = cfg.Measure(slot); err != nil {
				return nil, err
			}
			mine.Turns = []Turn{{Rank: cfg.Rank, Turn: t, Host: slot.Host, Start: start, End: time.Now()}}
			say("done")
		}
		if err := comm.Barrier(ctx); err != nil {
			return nil, err
		}
	}
	data, err := json.Marshal(mine)
	if err != nil {
		return nil, err
	}
	send := make([][]byte, comm.Size())
	send[0] = data
	recv, err := comm.AllToAllV(ctx, send)
	if err != nil {
		return nil, err
	}
	if cfg.Rank != 0 {
		return nil, nil
	}
	results := make([]*Result, len(recv))
	for r, b := range recv {
		var res Result
		if err := json.Unmarshal(b, &res); err != nil {
			return nil, fmt.Errorf("rank %d's profile: %w", r, err)
		}
		results[r] = &res
	}
	return Merge(results), nil
}

// allGather gives every rank every rank's block.
func allGather(ctx context.Context, comm *collective.Comm, b []byte) ([][]byte, error) {
	send := make([][]byte, comm.Size())
	for i := range send {
		send[i] = b
	}
	return comm.AllToAllV(ctx, send)
}

// Turns assigns each rank (index into keys, its machine key) a turn: ranks on the same machine take
// turns 0, 1, … in rank order; ranks on different machines measure at the same time. It returns every
// rank's turn and the number of turns. Pure.
func Turns(keys [][]byte) ([]int, int) {
	seen := map[string]int{}
	turn := make([]int, len(keys))
	n := 0
	for r, k := range keys {
		turn[r] = seen[string(k)]
		seen[string(k)]++
		n = max(n, turn[r]+1)
	}
	return turn, n
}

// MachineKey identifies this machine: the kernel's boot id (shared by network namespaces, different on
// every other machine), or the host name where there is none.
func MachineKey() string {
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b))
	}
	h, _ := os.Hostname()
	return "host:" + h
}

// listenAddr binds the host itself when it is an IP literal or "localhost" (so that 127.0.0.2 and
// 127.0.0.3 can act as two hosts on one machine), else every interface (a host name may resolve to a
// loopback address on its own machine that peers cannot reach); as the runner does.
func listenAddr(host string, port int) string {
	if host == "localhost" || net.ParseIP(host) != nil {
		return net.JoinHostPort(host, strconv.Itoa(port))
	}
	return ":" + strconv.Itoa(port)
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Merge combines per-rank results in rank order: every latency keeps its host (and rank); message sizes
// and rate ratios (properties of the models and data, not of the host) come from the first result.
func Merge(results []*Result) *Result {
	out := &Result{}
	for i, r := range results {
		for _, l := range r.Latencies {
			if l.Host == "" {
				l.Host = r.Host
			}
			out.Latencies = append(out.Latencies, l)
		}
		out.Turns = append(out.Turns, r.Turns...)
		if i == 0 {
			out.Host, out.Messages, out.Ratios = r.Host, r.Messages, r.Ratios
		}
	}
	return out
}

// LinePrefixer returns a writer that writes each Write to w as lines starting with prefix (progress lines
// for the launcher, which shows lines starting with launch.SayPrefix).
func LinePrefixer(w io.Writer, prefix string) io.Writer { return prefixer{w, prefix} }

type prefixer struct {
	w      io.Writer
	prefix string
}

func (p prefixer) Write(b []byte) (int, error) {
	var out strings.Builder
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line != "" {
			out.WriteString(p.prefix + line)
		}
	}
	if s := out.String(); !strings.HasSuffix(s, "\n") && s != "" {
		out.WriteString("\n")
	}
	if _, err := io.WriteString(p.w, out.String()); err != nil {
		return 0, err
	}
	return len(b), nil
}
