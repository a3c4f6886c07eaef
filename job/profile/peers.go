package profile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"jellybean/collective"
	"jellybean/job/flow"
	"jellybean/job/pipeline"
)

// The runner's per-message work is mostly not the codec: each message a rank receives or sends also
// costs the collective's framing and flow-control credits, deadline timers, and waking parked goroutines
// (the network poller's, the stage's own), which on a virtual machine costs far more than decoding a
// small tensor. runnerCostCollective therefore runs the worker's side of the real path, the real
// collective over loopback TCP, in this process, with its upstream and downstream ranks in a child
// process (PeersCommand of the same executable), so that this process's CPU time is the worker's alone.

// PeersCommand is the hidden subcommand that runs the two peer ranks of runnerCostCollective.
const PeersCommand = "profile-peers"

const (
	peersSpecEnv             = "JELLYBEAN_PROFILE_PEERS"
	peersSecretEnv           = "JELLYBEAN_PROFILE_PEERS_SECRET"
	edgeIn, edgeOut, edgeAck = 1, 2, 3
)

type peersSpec struct {
	Port    int    // the worker's (rank 0's) port
	InFile  string // the input messages, each as 8 hex digits of length then the bytes
	Lengths []int  // of the input messages, in order (one round)
	OutMsgs int    // messages the worker sends per round
	Acks    int    // acknowledgements the worker sends upstream per round (a join: one per input)
	Rounds  int
	JobID   string
	// Pause, when set, is how long the upstream peer waits before the messages PauseBefore lists (each
	// input's micro-batch), long enough for the worker's threads to park: the starved worker's case.
	Pause       time.Duration
	PauseBefore []int
}

// coldRounds asks runnerCostCollective for a starved worker's cost: every micro-batch reaches a parked
// worker (the upstream pauses before each one), and the worker runs the node's op on every round (op,
// unless nil), so that the figure is the op and the runner's path together, from cold.
type coldRounds struct {
	Pause       time.Duration
	PauseBefore []int                 // indexes of the input messages the upstream pauses before
	Op          func(round int) error // runs the node's op on the round's items; nil: the op is timed apart
}

// coldPause is long enough for a worker that has nothing to do to park every thread (the Go scheduler
// spins for microseconds, then sleeps) and for the polluter to evict its caches, and short enough to keep
// the profile quick. A starved stage in a run waits tens of milliseconds between micro-batches; with a 2 ms
// pause the figure of a join whose op takes 0.01 ms per item came out lower and less steady (0.08–0.12 ms
// per item at batch 8) than with 20 ms (0.12 twice).
const coldPause = 10 * time.Millisecond

// runnerCostCollective is runnerCost over the real collective: per round (one micro-batch) the upstream
// peer sends the input messages ins to this process's rank, which receives, decodes and unpacks them,
// hands the items to a computing goroutine and on to a sending one, packs out and sends it to the
// downstream peer; the peers start the next round as soon as the downstream one has the whole output, as
// a saturated worker finds its next micro-batch waiting. bin is the jellybean executable.
//
// With cold set, the rounds are a starved worker's instead (see coldRounds).
func runnerCostCollective(bin string, ins [][]byte, outs [][]*flow.Item, repeats int, cold *coldRounds) ([]float64, error) {
	var outMsgs [][]byte
	for _, out := range outs {
		m, err := packMessages(out)
		if err != nil {
			return nil, err
		}
		outMsgs = append(outMsgs, m...)
	}
	rounds := repeats + 1
	dir, err := os.MkdirTemp("", "jellybean-peers-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	spec := peersSpec{InFile: filepath.Join(dir, "in"), OutMsgs: len(outMsgs), Rounds: rounds, JobID: "profile-runner"}
	if len(ins) > 1 {
		spec.Acks = len(ins)
	}
	if cold != nil {
		spec.Pause, spec.PauseBefore = cold.Pause, cold.PauseBefore
	}
	var blob []byte
	for _, m := range ins {
		spec.Lengths = append(spec.Lengths, len(m))
		blob = append(blob, m...)
	}
	if err := os.WriteFile(spec.InFile, blob, 0o600); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	spec.Port = ln.Addr().(*net.TCPAddr).Port
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		ln.Close()
		return nil, err
	}
	js, _ := json.Marshal(spec)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, PeersCommand)
	cmd.Env = append(os.Environ(), peersSpecEnv+"="+string(js), peersSecretEnv+"="+hex.EncodeToString(secret))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		ln.Close()
		return nil, err
	}
	c, err := collective.Open(ctx, collective.Config{JobID: spec.JobID, Rank: 0, Peers: peersOf(spec.Port), Listener: ln,
		Secret: secret, ConnectTimeout: time.Minute})
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("the runner's path: %w (peers: %s)", err, stderr.String())
	}
	samples := make([]float64, 0, repeats)
	work := func() error {
		received, computed, acked := make(chan []pipeline.Item), make(chan struct{}), make(chan struct{}, 1)
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { // receiving goroutine: input messages from rank 1, round acknowledgements from rank 2
			defer close(received)
			var items []pipeline.Item
			got, inRounds, ackRounds := 0, 0, 0
			for inRounds < rounds || ackRounds < rounds {
				// As the runner's receiver does, every receive has a deadline (its probe of silent peers).
				rctx, cancel := context.WithTimeout(gctx, 2*time.Second)
				m, err := c.Recv(rctx)
				cancel()
				if errors.Is(err, context.DeadlineExceeded) && gctx.Err() == nil {
					continue // a quiet while (a slow op on a cold round); the runner probes its peers then
				}
				if err != nil {
					return err
				}
				if m.Src == 2 {
					ackRounds++
					acked <- struct{}{}
					continue
				}
				b, err := collective.DecodeBatch(m.Payload)
				if err != nil {
					return err
				}
				its, err := pipeline.Unpack(b)
				if err != nil {
					return err
				}
				items = append(items, its...)
				if got++; got == len(ins) {
					// A join tells the sources of its items that they left it (window tokens): one small
					// message per input, as many as the node has inputs.
					for k := 0; len(ins) > 1 && k < len(ins); k++ {
						if err := c.Send(gctx, 1, edgeAck, []byte{1, 0, 0, 0}); err != nil {
							return err
						}
					}
					select {
					case received <- items:
					case <-gctx.Done():
						return gctx.Err()
					}
					items, got = nil, 0
					inRounds++
				}
			}
			return nil
		})
		g.Go(func() error { // computing goroutine: the op is timed apart (timeNode) unless the rounds are cold
			defer close(computed)
			r := 0
			for range received {
				if cold != nil && cold.Op != nil {
					if err := cold.Op(r); err != nil {
						return err
					}
				}
				r++
				computed <- struct{}{}
			}
			return nil
		})
		g.Go(func() error { // sending goroutine
			var buf []byte
			r, p0 := 0, processCPU()
			for range computed {
				for _, chunk := range outChunks(outs) {
					p, err := pipeline.Pack(chunk)
					if err != nil {
						return err
					}
					buf = collective.AppendBatch(buf[:0], &p)
					if err := c.Send(gctx, 2, edgeOut, buf); err != nil {
						return err
					}
				}
				// The round ends when the downstream peer acknowledges the whole output.
				select {
				case <-acked:
				case <-gctx.Done():
					return gctx.Err()
				}
				p1 := processCPU()
				if r > 0 {
					samples = append(samples, (p1-p0).Seconds()*1000)
				}
				r, p0 = r+1, p1
			}
			return nil
		})
		return g.Wait()
	}
	err = work()
	c.Close()
	werr := cmd.Wait()
	if err != nil {
		return nil, fmt.Errorf("the runner's path: %w (peers: %s)", err, stderr.String())
	}
	if werr != nil {
		return nil, fmt.Errorf("the runner's path: peers: %w: %s", werr, stderr.String())
	}
	return samples, nil
}

// polluter stands for the other ranks of a busy host while a starved worker waits: for a pause, one
// goroutine per core streams through a buffer larger than a core's cache, so that the worker, woken next,
// finds its caches cold as it does between micro-batches in a run. The buffers are made once: fresh ones
// every pause would cost page faults and garbage collection instead.
type polluter struct{ bufs [][]byte }

func newPolluter() *polluter {
	p := &polluter{}
	for range runtime.NumCPU() {
		p.bufs = append(p.bufs, make([]byte, 16<<20))
	}
	return p
}

func (p *polluter) pollute(d time.Duration) {
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for _, buf := range p.bufs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				for i := 0; i < len(buf); i += 64 {
					buf[i]++
				}
			}
		}()
	}
	wg.Wait()
}

func peersOf(port int) []collective.Peer {
	return []collective.Peer{{Rank: 0, Host: "127.0.0.1", Port: port}, {Rank: 1, Host: "127.0.0.1"}, {Rank: 2, Host: "127.0.0.1"}}
}

// PeersMain is the body of the hidden `jellybean profile-peers` command: ranks 1 (upstream) and 2
// (downstream) of runnerCostCollective.
func PeersMain() error {
	var s peersSpec
	if err := json.Unmarshal([]byte(os.Getenv(peersSpecEnv)), &s); err != nil {
		return fmt.Errorf("%s: %w (this command is started by `jellybean profile`)", peersSpecEnv, err)
	}
	secret, err := hex.DecodeString(os.Getenv(peersSecretEnv))
	if err != nil || len(secret) == 0 {
		return fmt.Errorf("%s: missing or not hex", peersSecretEnv)
	}
	blob, err := os.ReadFile(s.InFile)
	if err != nil {
		return err
	}
	var ins [][]byte
	for _, n := range s.Lengths {
		if n > len(blob) {
			return fmt.Errorf("%s: shorter than its lengths", s.InFile)
		}
		ins, blob = append(ins, blob[:n]), blob[n:]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	open := func(rank int) (*collective.Comm, error) {
		return collective.Open(ctx, collective.Config{JobID: s.JobID, Rank: rank, Peers: peersOf(s.Port), ListenAddr: "127.0.0.1:0",
			Secret: secret, ConnectTimeout: time.Minute})
	}
	var up, down *collective.Comm
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { up, err = open(1); return err })
	g.Go(func() (err error) { down, err = open(2); return err })
	if err := g.Wait(); err != nil {
		return err
	}
	defer up.Close()
	defer down.Close()
	next := make(chan struct{}, 1)
	next <- struct{}{}
	g, gctx = errgroup.WithContext(ctx)
	g.Go(func() error { // the worker's acknowledgements (joins only) to the upstream rank
		for range s.Rounds * s.Acks {
			if _, err := up.Recv(gctx); err != nil {
				return err
			}
		}
		return nil
	})
	var pol *polluter
	if s.Pause > 0 {
		pol = newPolluter()
	}
	g.Go(func() error {
		for range s.Rounds {
			select {
			case <-next:
			case <-gctx.Done():
				return gctx.Err()
			}
			pauses := 0
			for i, m := range ins {
				if pauses < len(s.PauseBefore) && s.PauseBefore[pauses] == i {
					pauses++
					pol.pollute(s.Pause)
				}
				if err := up.Send(gctx, 0, edgeIn, m); err != nil {
					return err
				}
			}
		}
		return nil
	})
	g.Go(func() error {
		for range s.Rounds {
			for range s.OutMsgs {
				if _, err := down.Recv(gctx); err != nil {
					return err
				}
			}
			if err := down.Send(gctx, 0, edgeOut, []byte{1}); err != nil {
				return err
			}
			next <- struct{}{}
		}
		return nil
	})
	return g.Wait()
}
