// Package bench measures the collective layer with real processes on loopback: N ranks run AllToAllV
// (or a single pair streams messages), and the same traffic pattern over plain TCP sockets (no framing,
// no checksums, no authentication) is measured in the same run as the baseline for ratios.
//
// The parent (Run) binds one listener per rank, hands each to a worker process (fd 3) together with a
// JSON spec and the job secret in the environment, and aggregates the one JSON line every worker prints.
package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"jellybean/collective"
)

// Env variables that carry a worker's spec and the job secret (never argv).
const (
	SpecEnv   = "JB_BENCH_COLLECTIVE_SPEC"
	SecretEnv = "JB_BENCH_COLLECTIVE_SECRET"
)

// Options of one benchmark run.
type Options struct {
	Ranks    int
	Bytes    int    // bytes per destination per round (alltoall) or per message (stream)
	Compress string // off|fastest|default|auto
	Data     string // random|features|image|audio
	Mode     string // "alltoall" or "stream" (rank 0 -> rank 1, ranks must be 2)
	Rounds   int    // 0: chosen from Bytes so one sample moves about 768 MiB per rank
	Repeat   int    // samples of each variant, interleaved; medians are reported
	Baseline bool   // also measure plain TCP with the same pattern
	MPI      string // path of a compiled Open MPI alltoallv benchmark to run too ("" = skip)
	Link     string // "" = loopback; else a tc rate (e.g. "100mbit"): 2 ranks in namespaces over a shaped veth
	Command  []string
	// Command runs one worker: e.g. {"/path/jellybean", "collective-worker"}; the worker calls Worker().
}

// Result is printed as one JSON object by `jellybean bench collective`.
type Result struct {
	Mode          string    `json:"mode"`
	Ranks         int       `json:"ranks"`
	Bytes         int       `json:"bytes"`
	Compress      string    `json:"compress"`
	Data          string    `json:"data"`
	Rounds        int       `json:"rounds"`
	Unit          string    `json:"unit"`
	AggregateGBps float64   `json:"aggregate_gbps"`
	PerRankGBps   float64   `json:"per_rank_gbps"`
	Ratio         float64   `json:"ratio"` // raw/wire bytes
	Samples       []float64 `json:"samples_gbps"`
	TCPPairGBps   float64   `json:"tcp_pair_gbps,omitempty"` // plain TCP, 2 processes, 2 streams (one each way)
	VsTCPPair     float64   `json:"vs_tcp_pair,omitempty"`
	TCPGBps       float64   `json:"tcp_aggregate_gbps,omitempty"`
	TCPSamples    []float64 `json:"tcp_samples_gbps,omitempty"`
	VsTCP         float64   `json:"vs_tcp,omitempty"`
	// CPU seconds (user+sys, all rank processes, timed section only) per GB delivered: what a byte costs,
	// which a loaded machine distorts far less than throughput. cpu_vs_tcp < 1 means cheaper than TCP.
	CPUSecPerGB    float64   `json:"cpu_s_per_gb"`
	TCPCPUSecPerGB float64   `json:"tcp_cpu_s_per_gb,omitempty"`
	CPUVsTCP       float64   `json:"cpu_vs_tcp,omitempty"`
	Link           string    `json:"link"`
	OffGBps        float64   `json:"off_gbps,omitempty"` // same run with compression off
	OffSamples     []float64 `json:"off_samples_gbps,omitempty"`
	VsOff          float64   `json:"vs_off,omitempty"`
	MPIGBps        float64   `json:"mpi_aggregate_gbps,omitempty"`
	MPISamples     []float64 `json:"mpi_samples_gbps,omitempty"`
	VsMPI          float64   `json:"vs_mpi,omitempty"`
	CPUs           int       `json:"cpus"`
	Date           string    `json:"date"`
}

// workerSpec is what a worker process receives in SpecEnv.
type workerSpec struct {
	Variant  string // "collective" or "tcp"
	Mode     string
	Rank     int
	Peers    []collective.Peer
	Bytes    int
	Rounds   int
	Compress string
	Data     string
	Listen   string // listen here instead of on the inherited fd 3 (shaped-link runs)
}

// workerReport is the JSON line a worker prints.
type workerReport struct {
	Rank     int     `json:"rank"`
	Seconds  float64 `json:"seconds"`
	CPU      float64 `json:"cpu_seconds"` // user+sys of the whole process during the timed section
	RawSent  int64   `json:"raw_sent"`
	WireSent int64   `json:"wire_sent"`
}

func (o *Options) validate() error {
	switch {
	case o.Ranks < 2:
		return fmt.Errorf("--ranks %d: need at least 2", o.Ranks)
	case o.Ranks > 64:
		return fmt.Errorf("--ranks %d: at most 64 local processes", o.Ranks)
	case o.Bytes < 0 || o.Bytes > collective.DefaultMaxFrameBytes:
		return fmt.Errorf("--bytes %d: want 0..%d", o.Bytes, collective.DefaultMaxFrameBytes)
	case o.Mode != "alltoall" && o.Mode != "stream":
		return fmt.Errorf("--mode %q: want alltoall or stream", o.Mode)
	case o.Mode == "stream" && o.Ranks != 2:
		return fmt.Errorf("--mode stream needs --ranks 2")
	case len(o.Command) == 0:
		return errors.New("no worker command")
	case o.Link != "" && (o.Ranks != 2 || o.MPI != ""):
		return errors.New("--link needs --ranks 2 and no --mpi")
	}
	if _, err := Generate(o.Data, 0, 0); err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	if o.Repeat <= 0 {
		o.Repeat = 3
	}
	if o.Rounds <= 0 {
		perRound := max(o.Bytes, 1) * max(o.Ranks-1, 1)
		target := 768 << 20
		if o.Link != "" {
			target = 24 << 20 // a shaped link is slow
		}
		o.Rounds = min(max(target/perRound, 5), 50000)
	}
	return nil
}

// Run executes the benchmark and returns its result.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	var shaped *shapedPair
	if o.Link != "" {
		var err error
		if shaped, err = newShapedPair(o.Link); err != nil {
			return nil, err
		}
		defer shaped.Close()
	}
	res := &Result{Link: o.Link, Mode: o.Mode, Ranks: o.Ranks, Bytes: o.Bytes, Compress: o.Compress, Data: o.Data, Rounds: o.Rounds,
		Unit: "GB/s = 1e9 payload bytes per second delivered to other ranks", CPUs: runtime.NumCPU(),
		Date: time.Now().UTC().Format(time.RFC3339)}
	if res.Link == "" {
		res.Link = "loopback"
	}
	var ratios, pair, cpu, tcpCPU []float64
	for range o.Repeat {
		if o.Compress != "off" && o.Compress != "" {
			off := o
			off.Compress = "off"
			g, _, _, err := runSample(ctx, off, "collective", shaped)
			if err != nil {
				return nil, fmt.Errorf("compression off: %w", err)
			}
			res.OffSamples = append(res.OffSamples, g)
		}
		if o.Baseline {
			g, _, c, err := runSample(ctx, o, "tcp", shaped)
			if err != nil {
				return nil, fmt.Errorf("tcp baseline: %w", err)
			}
			res.TCPSamples = append(res.TCPSamples, g)
			tcpCPU = append(tcpCPU, c)
			if o.Ranks > 2 && o.Mode == "alltoall" {
				p := o
				p.Ranks = 2
				g, _, _, err := runSample(ctx, p, "tcp", nil)
				if err != nil {
					return nil, fmt.Errorf("tcp pair baseline: %w", err)
				}
				pair = append(pair, g)
			}
		}
		g, ratio, c, err := runSample(ctx, o, "collective", shaped)
		if err != nil {
			return nil, err
		}
		cpu = append(cpu, c)
		res.Samples = append(res.Samples, g)
		ratios = append(ratios, ratio)
		if o.MPI != "" {
			g, err := runMPI(ctx, o)
			if err != nil {
				return nil, fmt.Errorf("open mpi: %w", err)
			}
			res.MPISamples = append(res.MPISamples, g)
		}
	}
	res.AggregateGBps = median(res.Samples)
	res.PerRankGBps = res.AggregateGBps / float64(o.Ranks)
	if o.Mode == "stream" {
		res.PerRankGBps = res.AggregateGBps
	}
	res.Ratio = median(ratios)
	res.CPUSecPerGB = median(cpu)
	if len(tcpCPU) > 0 {
		res.TCPCPUSecPerGB = median(tcpCPU)
		res.CPUVsTCP = res.CPUSecPerGB / res.TCPCPUSecPerGB
	}
	if len(res.TCPSamples) > 0 {
		res.TCPGBps = median(res.TCPSamples)
		res.VsTCP = res.AggregateGBps / res.TCPGBps
	}
	if len(res.OffSamples) > 0 {
		res.OffGBps = median(res.OffSamples)
		res.VsOff = res.AggregateGBps / res.OffGBps
	}
	if len(pair) > 0 {
		res.TCPPairGBps = median(pair)
		res.VsTCPPair = res.AggregateGBps / res.TCPPairGBps
	} else if o.Ranks == 2 && o.Mode == "alltoall" {
		res.TCPPairGBps, res.VsTCPPair = res.TCPGBps, res.VsTCP
	}
	if len(res.MPISamples) > 0 {
		res.MPIGBps = median(res.MPISamples)
		res.VsMPI = res.AggregateGBps / res.MPIGBps
	}
	return res, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// runSample starts one worker per rank and returns the aggregate throughput, the raw/wire ratio and
// the CPU seconds all ranks spent per GB delivered.
func runSample(ctx context.Context, o Options, variant string, shaped *shapedPair) (gbps, ratio, cpuPerGB float64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	lns := make([]*net.TCPListener, o.Ranks)
	peers := make([]collective.Peer, o.Ranks)
	defer func() {
		for _, ln := range lns {
			if ln != nil {
				ln.Close()
			}
		}
	}()
	for i := range lns {
		if shaped != nil { // the workers listen inside their namespaces
			peers[i] = collective.Peer{Rank: i, Host: shaped.ips[i], Port: 47100 + i}
			continue
		}
		ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return 0, 0, 0, err
		}
		lns[i] = ln
		peers[i] = collective.Peer{Rank: i, Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port}
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	type outcome struct {
		rep workerReport
		err error
	}
	results := make(chan outcome, o.Ranks)
	var wg sync.WaitGroup
	cmds := make([]*exec.Cmd, o.Ranks)
	for r := range o.Ranks {
		ws := workerSpec{Variant: variant, Mode: o.Mode, Rank: r, Peers: peers, Bytes: o.Bytes,
			Rounds: o.Rounds, Compress: o.Compress, Data: o.Data}
		argv := o.Command
		var f *os.File
		if shaped != nil {
			ws.Listen = net.JoinHostPort(peers[r].Host, fmt.Sprint(peers[r].Port))
			argv = append([]string{"ip", "netns", "exec", shaped.ns[r]}, o.Command...)
		} else if f, err = lns[r].File(); err != nil {
			return 0, 0, 0, err
		}
		spec, _ := json.Marshal(ws)
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), SpecEnv+"="+string(spec), SecretEnv+"="+hex.EncodeToString(secret))
		if f != nil {
			cmd.ExtraFiles = []*os.File{f}
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			f.Close() // nil-safe
			return 0, 0, 0, err
		}
		if err := cmd.Start(); err != nil {
			f.Close()
			return 0, 0, 0, fmt.Errorf("start rank %d: %w", r, err)
		}
		f.Close()
		cmds[r] = cmd
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rep workerReport
			sc := bufio.NewScanner(out)
			var line string
			for sc.Scan() {
				line = sc.Text()
			}
			werr := cmd.Wait()
			if werr == nil {
				werr = json.Unmarshal([]byte(line), &rep)
			}
			if werr != nil {
				cancel() // one failed rank stops the others
				werr = fmt.Errorf("rank %d: %v: %s", r, werr, strings.TrimSpace(stderr.String()))
			}
			results <- outcome{rep, werr}
		}()
	}
	for _, ln := range lns { // the workers own them now
		if ln != nil {
			ln.Close()
		}
	}
	clear(lns)
	wg.Wait()
	close(results)
	var slowest, cpu float64
	var raw, wire int64
	for res := range results {
		if res.err != nil && err == nil {
			err = res.err
		}
		slowest = max(slowest, res.rep.Seconds)
		cpu += res.rep.CPU
		raw += res.rep.RawSent
		wire += res.rep.WireSent
	}
	if err != nil {
		return 0, 0, 0, err
	}
	delivered := float64(o.Bytes) * float64(o.Rounds) * float64(o.Ranks) * float64(o.Ranks-1)
	if o.Mode == "stream" {
		delivered = float64(o.Bytes) * float64(o.Rounds)
	}
	ratio = 1
	if wire > 0 {
		ratio = float64(raw) / float64(wire)
	}
	return delivered / slowest / 1e9, ratio, cpu / (delivered / 1e9), nil
}
