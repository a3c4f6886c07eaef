package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"jellybean/collective"
	"jellybean/hostfiles"
	"jellybean/job/exitcode"
	"jellybean/job/flow"
	"jellybean/job/runid"
	"jellybean/plan"
	"jellybean/ranks"
)

// Stream edges: the kind of each message between ranks (also the key of per-link byte counters).
const (
	edgeData  uint16 = 1 // a packed batch of items
	edgeEOS   uint16 = 2 // empty: the sender has sent its last item to us
	edgeAbort uint16 = 3 // the sender failed; payload is its error text
	edgeAck   uint16 = 4 // join -> source: u32 count of the source's items joined (frees its window)
	edgePing  uint16 = 5 // empty: an idle receiver checks that an upstream rank is still there
)

// probeInterval is how long a receiver waits for a message before checking that the upstream ranks it
// still expects data from have not left (a rank that failed and could not deliver its abort report).
const probeInterval = 2 * time.Second

// minWindow is the fewest items a source may have between reading and the join: enough to keep every
// stage busy with full micro-batches, small enough that the join's pending halves stay bounded.
const minWindow = 256

// Config is everything one rank needs.
type Config struct {
	Hostfile *hostfiles.Hostfile
	Plan     *plan.Plan
	PlanName string // for messages
	Rank     int
	Root     string // JellyBean root: relative plan paths resolve against it
	RunDir   string // runs/<id>: results, timing, summary (relative to Root unless absolute)
	JobID    string
	Secret   []byte
	Resume   bool
	LockRun  bool      // the sink takes the run directory's lock (no launcher holds it: srun, mpirun)
	Cores    int       // CPU cores of this host (default threads = cores / ranks on the host)
	Device   string    // resolved device ("cuda" -> "cuda:N"); "" = the plan's
	Stdout   io.Writer // progress lines (sink); nil = os.Stdout
	Logf     func(format string, args ...any)

	ConnectTimeout   time.Duration // 0 = collective default
	HeartbeatTimeout time.Duration // 0 = collective default
	Listener         net.Listener  // optional pre-bound listener (tests)
	// Transport, when set, replaces the TCP collective (an in-process MemMesh in tests).
	Transport  Transport
	Rendezvous string // rank 0's host:port: other ranks bind any free port and register there; "" = every rank at base_port + slot
	Window     int    // items a source may have in flight before its window stage (join or fan-in); 0 = default
	// Watermarks, if set, receives what this rank held at most at once when it finishes (tests).
	Watermarks func(Watermarks)
	// ModelsLoaded, if set, is called once this rank's model session exists (the CUDA provider replaces
	// Go's signal handlers when it loads, so the caller re-installs its own).
	ModelsLoaded func()
}

// rank is the running state of one rank.
type rank struct {
	cfg    Config
	layout *ranks.Layout
	me     ranks.Worker
	stage  *plan.Stage
	comm   Transport
	op     stageOp
	logf   func(string, ...any)
	runDir string

	graph    *flow.Graph // the workflow, checked; this rank's node built
	manifest *flow.Manifest
	done     map[int64]bool // items finished by an earlier run (resume)
	timing   *timingWriter
	stats    rankStats
	statsMu  sync.Mutex

	sink    *sinkState  // sink rank only
	runLock *runid.Lock // sink rank only, when it holds the run's lock itself

	// window bounds a source's items that its window stage (a join, or a fan-in back to whole items) has
	// not completed yet: one token per item in flight. Without it a join would buffer the fast branch's
	// output for the whole dataset while the slow branch catches up, and a fan-in could gather the partial
	// families of any number of items (the collective's credit cannot help: receiving is what returns it).
	window chan struct{}
	// ackTo are the source stages whose windows this rank frees, acknowledging each item it completes
	// (a join on receipt, a fan-in as families complete); ackKind says which.
	ackTo   []int
	ackKind windowKind
	gauges  gauges
}

// Run executes one rank of the job until the whole job has finished or failed. The plan must have been
// validated against the hostfile (plan.Validate); Run checks the rank and everything it opens itself.
func Run(ctx context.Context, cfg Config) (err error) {
	r := &rank{cfg: cfg, logf: cfg.Logf}
	if r.logf == nil {
		r.logf = func(string, ...any) {}
	}
	if cfg.Stdout == nil {
		r.cfg.Stdout = os.Stdout
	}
	if r.cfg.Cores <= 0 {
		r.cfg.Cores = 1
	}
	r.layout, err = ranks.NewLayout(cfg.Hostfile, cfg.Plan, r.cfg.Cores)
	if err != nil {
		return err
	}
	if cfg.Rank < 0 || cfg.Rank >= len(r.layout.Workers) {
		return fmt.Errorf("rank %d out of range: hostfile %s has %d slots", cfg.Rank, cfg.Hostfile.Name, len(r.layout.Workers))
	}
	r.me = r.layout.Workers[cfg.Rank]
	if cfg.Device != "" {
		r.me.Device = cfg.Device
	}
	r.stage = &cfg.Plan.Stages[r.me.Stage]
	r.runDir = plan.Resolve(cfg.Root, cfg.RunDir)
	// Connect first, then build and prepare: a rank whose start-up fails (a corrupt model, a dataset it
	// cannot read, a run another job holds) tells every rank at once through the abort flood, so that
	// nobody waits for it until a timeout and nobody else is blamed, with or without a launcher watching.
	if r.comm, err = r.openTransport(ctx); err != nil {
		return err
	}
	defer r.comm.Close()
	if err := r.compile(); err != nil {
		r.abortPeers(err)
		return err
	}
	if err := r.setUpWindows(); err != nil {
		r.graph.Close()
		r.abortPeers(err)
		return err
	}
	r.stats = rankStats{Rank: cfg.Rank, Host: r.me.Host, Stage: r.stage.Name, Op: cfg.Plan.StageKind(r.me.Stage), Worker: r.me.Index,
		Device: r.me.Device, Threads: r.me.Threads}
	r.logf("stage %s (%s) worker %d on %s, device %s, %d threads, port %d",
		r.stage.Name, r.stats.Op, r.me.Index, r.me.Host, r.me.Device, r.me.Threads, r.me.Port)

	if err := r.prepare(); err != nil {
		r.graph.Close()
		r.timing.close()
		if r.sink != nil {
			r.sink.w.close()
		}
		r.runLock.Release()
		r.abortPeers(err)
		return err
	}
	defer func() {
		if r.sink != nil {
			r.sink.w.close()
		}
		r.runLock.Release()
	}()
	defer r.op.close()
	defer r.timing.close()

	if err := r.exchangeDone(ctx); err != nil {
		return err
	}
	r.stats.StartUnixNs = time.Now().UnixNano()
	r.stats.cpuAtStart = processCPUSeconds()
	if err := r.pipeline(ctx); err != nil {
		err = r.rootCause(err)
		r.abortPeers(err)
		return err
	}
	r.stats.EndUnixNs = time.Now().UnixNano()
	r.reportWatermarks()
	r.logf("stage %s done: %d items in %d micro-batches, %.2f s in ONNX Runtime, %.2f s computing, %.1f s wall",
		r.stage.Name, r.stats.Items, r.stats.Batches, r.stats.ModelSeconds, r.stats.ComputeSeconds,
		float64(r.stats.EndUnixNs-r.stats.StartUnixNs)/1e9)
	if err := r.timing.close(); err != nil {
		return err
	}
	if err := r.gatherSummary(ctx); err != nil {
		err = r.rootCause(err)
		r.abortPeers(err)
		return err
	}
	return r.comm.Close()
}

// openTransport connects this rank to the others: through the configured transport, else the TCP
// collective.
func (r *rank) openTransport(ctx context.Context) (Transport, error) {
	if r.cfg.Transport != nil {
		return r.cfg.Transport, nil
	}
	cfg := r.cfg
	peers := make([]collective.Peer, len(r.layout.Workers))
	for i, e := range r.layout.Endpoints() {
		peers[i] = collective.Peer{Rank: e.Rank, Host: e.Host, Port: e.Port}
	}
	listen := r.layout.ListenAddr(cfg.Rank)
	var err error
	if cfg.Rendezvous != "" {
		if peers, listen, err = collective.RendezvousPeers(peers, cfg.Rank, cfg.Rendezvous, listen); err != nil {
			return nil, err
		}
	}
	compress := cfg.Plan.Compress
	if compress == "" {
		compress = "off"
	}
	c, err := collective.Open(ctx, collective.Config{JobID: cfg.JobID, Rank: cfg.Rank, Peers: peers, Sparse: true,
		ListenAddr: listen, Listener: cfg.Listener, Secret: cfg.Secret, Compression: compress,
		ConnectTimeout: cfg.ConnectTimeout, HeartbeatTimeout: cfg.HeartbeatTimeout, Logf: r.logf})
	if err != nil && cfg.Rendezvous != "" {
		return nil, fmt.Errorf("rendezvous %s: %w", cfg.Rendezvous, err)
	} else if err != nil {
		return nil, fmt.Errorf("port %d: %w", r.me.Port, err)
	}
	return c, nil
}

// prepare loads what this rank's stage needs: its data, its model session, the sink's results file. A
// failure here is this rank's own, reported to every peer by the caller.
func (r *rank) prepare() error {
	if err := os.MkdirAll(filepath.Join(r.runDir, "timing"), 0o755); err != nil {
		return fmt.Errorf("creating run directory: %w", err)
	}
	var err error
	r.timing, err = openTiming(filepath.Join(r.runDir, "timing", strconv.Itoa(r.cfg.Rank)+".csv"))
	if err != nil {
		return err
	}
	p := r.cfg.Plan
	node := r.graph.Nodes[p.Flow.Index(r.stage.Name)]
	if p.IsSource(r.me.Stage) || p.IsSink(r.me.Stage) {
		r.manifest, err = flow.LoadManifest(plan.Resolve(r.cfg.Root, p.Dataset))
		if err != nil {
			return fmt.Errorf("plan %s: dataset: %w", r.cfg.PlanName, err)
		}
		if err := r.manifest.CheckFields(node.Fields); err != nil {
			return fmt.Errorf("plan %s: dataset: stage %q reads: %w", r.cfg.PlanName, r.stage.Name, err)
		}
	}
	if !p.IsSink(r.me.Stage) {
		r.op = nodeOp{node}
	} else {
		if r.cfg.LockRun {
			if r.runLock, err = runid.Acquire(r.runDir); err != nil {
				return err
			}
		}
		resultsPath := filepath.Join(r.runDir, "results.jsonl")
		if !r.cfg.Resume {
			if st, err := os.Stat(resultsPath); err == nil && st.Size() > 0 {
				return fmt.Errorf("%s already holds results: pass --resume to finish that run, or use a new run directory", resultsPath)
			}
		}
		r.done, err = ReadResults(resultsPath, func(id int64) bool { _, ok := r.manifest.Record(id); return ok })
		if err != nil {
			return err
		}
		w, err := openResults(resultsPath, r.done)
		if err != nil {
			return err
		}
		all, todo := jobItems(r.manifest, p.Limit, r.done)
		r.sink = &sinkState{node: node, fields: node.Spec.Fields, w: w, total: len(all), todo: len(todo), variants: p.Variants(), out: r.cfg.Stdout}
		r.op = sinkOp{r.sink}
		r.logf("sink: %d items in the job, %d already done, %d to do", len(all), len(all)-len(todo), len(todo))
	}
	if r.cfg.ModelsLoaded != nil {
		r.cfg.ModelsLoaded()
	}
	return nil
}

// compile checks the whole workflow for the plan's variants (model metadata only) and builds this rank's
// node: its steps and, on a model stage, its model session on the rank's device.
func (r *rank) compile() error {
	p := r.cfg.Plan
	if p.Flow == nil {
		if err := p.Bind(r.cfg.Root); err != nil {
			return fmt.Errorf("plan %s: %w", r.cfg.PlanName, err)
		}
	}
	env := flow.Env{Device: r.me.Device, Threads: r.me.Threads, BatchSize: p.BatchSizeOf(r.me.Stage)}
	g, err := flow.Compile(p.Flow, p.Variants(), env, p.Flow.Index(r.stage.Name))
	if err != nil {
		return fmt.Errorf("plan %s: %w", r.cfg.PlanName, err)
	}
	r.graph = g
	return nil
}

// setUpWindows gives a source its window and a join or fan-in its acknowledgement duty (see bounds.go).
func (r *rank) setUpWindows() error {
	p := r.cfg.Plan
	bySource, err := r.windowStages()
	if err != nil {
		return fmt.Errorf("plan %s: %w", r.cfg.PlanName, err)
	}
	if st, ok := bySource[r.me.Stage]; ok {
		w := r.cfg.Window
		if w <= 0 && r.windowKind(st) == joinWindow {
			w = max(minWindow, 32*p.BatchSizeOf(st))
		} else if w <= 0 {
			w = max(8, fanInWindowPerBatch*p.BatchSizeOf(r.me.Stage))
		}
		r.window = make(chan struct{}, w)
		r.gauges.w.WindowCapacity = w
	}
	if r.ackTo = r.ackTargets(bySource); len(r.ackTo) > 0 {
		r.ackKind = r.windowKind(r.me.Stage)
	}
	return nil
}

// exchangeDone tells every rank which items an earlier run already finished (resume): the sink, which
// owns results.jsonl, sends the ids to all ranks in one AllToAllV.
func (r *rank) exchangeDone(ctx context.Context) error {
	sinkRank := r.layout.SinkRank()
	send := make([][]byte, r.comm.Size())
	if r.cfg.Rank == sinkRank {
		var ids []byte
		for id := range r.done {
			ids = binary.LittleEndian.AppendUint64(ids, uint64(id))
		}
		for i := range send {
			send[i] = ids
		}
	}
	recv, err := r.comm.SparseAllToAllV(ctx, send)
	if err != nil {
		return fmt.Errorf("start-up exchange: %w", err)
	}
	got := recv[sinkRank]
	if len(got)%8 != 0 {
		return fmt.Errorf("start-up exchange: %d bytes of done ids from the sink", len(got))
	}
	if r.done == nil {
		r.done = make(map[int64]bool, len(got)/8)
		for i := 0; i < len(got); i += 8 {
			r.done[int64(binary.LittleEndian.Uint64(got[i:]))] = true
		}
	}
	return nil
}

// abortPeers tells every rank, through the collective's fault flood, that this rank failed, so that ranks
// waiting for our data stop with our error instead of waiting.
func (r *rank) abortPeers(cause error) {
	r.comm.Abort(fmt.Errorf("rank %d (%s, stage %s) failed: %v", r.cfg.Rank, r.me.Host, r.stage.Name, cause))
}

// rootCause replaces an error caused by a peer leaving (it stopped because another rank failed) by the
// failure report that rank sent us, if one is waiting in our queue: every rank then names the rank that
// failed first, not the one that happened to leave first.
func (r *rank) rootCause(err error) error {
	if !isPeerFault(err) {
		return err
	}
	var ae *collective.AbortError
	if errors.As(err, &ae) && ae.Rank != r.cfg.Rank {
		// The failure report of the rank that started it: this rank followed it (exit status 3).
		return &exitcode.PeerFailure{Peer: ae.Rank, Err: errors.New(ae.Reason)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	for i := 0; i < 10000; i++ {
		m, rerr := r.comm.Recv(ctx)
		if rerr != nil {
			return err
		}
		if m.Edge == edgeAbort {
			return &exitcode.PeerFailure{Peer: m.Src, Err: fmt.Errorf("%s", m.Payload)}
		}
	}
	return err
}

// isPeerFault reports whether err came from the collective (a peer's failure), as opposed to our own.
func isPeerFault(err error) bool {
	var pe *collective.PeerError
	return errors.As(err, &pe)
}
