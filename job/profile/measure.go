package profile

import (
	"fmt"
	"io"
	"time"

	"github.com/klauspost/compress/zstd"

	"jellybean/collective"
	"jellybean/job/flow"
	"jellybean/job/pipeline"
)

// Options say what to measure.
type Options struct {
	Host    string // worker (type) name in the CSVs
	Rank    int    // rank measuring (0 without a hostfile)
	Batches []int
	Repeats int // timed runs per node variant and batch size (after one warm-up run)
	// MinTime, when set, is the least time the timed runs of one node variant and batch size span: more
	// runs than Repeats (cycling over the traced items) when those take less. On a shared machine an op's
	// CPU time per item moves by 10–30 % from one second to the next (what else runs on the other cores,
	// the host's other guests), so a figure taken in a fraction of a second catches one moment.
	MinTime  time.Duration
	Threads  int    // intra-op threads per session, as a plan's worker would use (0 = ONNX Runtime's default)
	Device   string // "cpu" (default) or "cuda:N"
	Progress io.Writer
	// PeerBinary, when set, is the jellybean executable whose hidden PeersCommand plays a node's upstream
	// and downstream ranks, so that the runner's cost is timed over the real collective
	// (runnerCostCollective); without it the cost is timed on plain loopback sockets (runnerCost), which
	// misses the collective's per-message work.
	PeerBinary string
	// Variants, when set, restricts the profile to these variants of the model nodes (node → variant,
	// every model node named; ChosenAssignment): one trace with the plan's variants instead of every
	// variant of every node. The loop profiles its chosen variants this way (confirm), and again right
	// after the run with --recheck.
	Variants map[string]string
}

// Measure profiles every variant of every processing node of the workflow (model nodes per variant,
// nodes without a model as variant "default") at each batch size, on inputs made by running the
// upstream nodes on the items (see Assignments), and the message size of every edge between the
// optimizer's nodes (the sink, which only writes results, is left out). A latency is the wall time of
// the node's whole work on a micro-batch: its steps, model and post steps, as a worker runs them.
func Measure(in Items, o Options) (*Result, error) {
	if len(in.IDs) == 0 {
		return nil, fmt.Errorf("profile: no items to profile with")
	}
	if o.Repeats < 1 {
		return nil, fmt.Errorf("profile: repeats must be at least 1")
	}
	if len(o.Batches) == 0 {
		return nil, fmt.Errorf("profile: no batch sizes")
	}
	if o.Device == "" {
		o.Device = "cpu"
	}
	w := in.Workflow
	env := flow.Env{Device: o.Device, Threads: o.Threads, BatchSize: maxOf(o.Batches)}
	res := &Result{Host: o.Host}
	// The level the runner compresses with when the loop turns compression on (compress = "fastest").
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false))
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	seen := map[[3]string]bool{}
	sink := w.Sink()
	assignments := Assignments(w)
	if o.Variants != nil {
		a, err := ChosenAssignment(w, o.Variants)
		if err != nil {
			return nil, fmt.Errorf("profile: %w", err)
		}
		assignments = []Assignment{a}
	}
	for _, a := range assignments {
		tr, err := RunTrace(in, a.Variants, env)
		if err != nil {
			return nil, err
		}
		for _, i := range tr.Order {
			from := variantOf(tr.Graph.Nodes[i])
			for _, c := range w.Consumers(i) {
				key := [3]string{w.Nodes[i].Name, w.Nodes[c].Name, from}
				if c == sink || seen[key] {
					continue
				}
				seen[key] = true
				m, err := messageSizes(enc, key, tr.Emitted[i], env.BatchSize)
				if err != nil {
					tr.Close()
					return nil, err
				}
				res.Messages = append(res.Messages, m)
			}
		}
		received := tr.Received
		if len(in.CountIDs) > len(in.IDs) {
			if received, err = countReceived(in, in.CountIDs, a.Variants, env, tr); err != nil {
				tr.Close()
				return nil, fmt.Errorf("profile: counting items for the rate ratios: %w", err)
			}
		}
		res.Ratios = appendRatios(res.Ratios, tr, received, a.Variants)
		for _, nv := range a.For {
			i := w.Index(nv[0])
			var ups [][]*flow.Item
			for _, u := range w.Nodes[i].Inputs {
				ups = append(ups, tr.Emitted[w.Index(u)])
			}
			for _, b := range o.Batches {
				l, err := timeNode(tr.Graph.Nodes[i], tr.Received[i], ups, b, o.Repeats, o.MinTime, o.PeerBinary)
				if err != nil {
					tr.Close()
					return nil, err
				}
				l.Host, l.Rank, l.Device, l.Threads, l.Stage, l.Variant = o.Host, o.Rank, o.Device, o.Threads, nv[0], nv[1]
				res.Latencies = append(res.Latencies, l)
				if o.Progress != nil {
					fmt.Fprintf(o.Progress, "profile: %s %s batch %d: median %.2f ms (p90 %.2f) over %d runs, runner %.3f ms, starved %.3f ms\n", l.Stage, l.Variant, l.Batch, l.Stats.Median, l.Stats.P90, l.Stats.Runs, l.Runner.Median, l.Cold.Median)
				}
			}
		}
		if err := tr.Close(); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// timeNode runs the node on a micro-batch of b of its traced inputs (reused cyclically), once to warm
// up and then repeats times (more for a cheap node with many traced items: sampleBudget) on windows of b
// spread over the traced inputs, timing the wall clock (latency) and the process's CPU time (what the op
// costs a core, unaffected by other processes taking turns on the cores). ups holds, per input of the
// node, the items its upstream node emitted (in the order the node received them when it has one input);
// the runner's cost of receiving the batch's share of them and of sending the batch's output is timed
// too (runnerCostCollective, or runnerCost without a peer binary).
//
// A node that regroups sub-items (fan_in) is timed as the runner runs it: the sub-items of all traced
// parents arrive in messages of b (the upstream's micro-batches) and are processed in calls of b, and
// its cost is per parent: the row's per-item figures are per parent, its batch the sub-items per call.
func timeNode(n *flow.Node, received []*flow.Item, ups [][]*flow.Item, b, repeats int, minTime time.Duration, peerBinary string) (Latency, error) {
	if len(received) == 0 {
		return Latency{}, fmt.Errorf("profile: node %q received no items (did a fan-out upstream make none?)", n.Spec.Name)
	}
	var batch []*flow.Item
	var idx []int // indexes into received (and each ups list) of the batch's items
	per := 1.0    // items (parents, for a fan-in) the timed work stands for, per item of the batch
	fanIn := len(n.Spec.FanIn) > 0
	if fanIn {
		fams := families(received)
		batch, per = received, float64(len(fams))/float64(len(received))
		for k := range received {
			idx = append(idx, k)
		}
	} else {
		for k := range b {
			batch = append(batch, received[k%len(received)])
			idx = append(idx, k%len(received))
		}
	}
	// The node runs as a worker with micro-batches of b would: its model takes b items a run (and on a GPU
	// fills a partial batch up to b, not up to the trace's batch size).
	if prev := n.SetBatchSize(b); prev > 0 {
		defer n.SetBatchSize(prev)
	}
	// A GPU model prepares each input shape once per session (the OCR recogniser ~0.6 s a width, against
	// ~10 ms a prepared batch): the timed windows would mostly be first sightings of their shapes, at batch
	// 1 nearly all of them. The figure is for a worker in its steady state, so the node first runs over all
	// its traced items, in micro-batches of b, untimed.
	if !fanIn && n.PreparesShapes() {
		for lo := 0; lo < len(received); lo += b {
			if _, _, err := n.Process(Clone(received[lo:min(lo+b, len(received))])); err != nil {
				return Latency{}, err
			}
		}
	}
	// perBatch turns the time of the whole work into time per micro-batch of b (parents, for a fan-in).
	perBatch := float64(b) / (per * float64(len(batch)))
	var samples, cpu []float64
	var emitted [][]*flow.Item // the output of each call
	runs := repeats
	var timed time.Duration // the timed runs' wall time so far
	// spread is the runs the windows are spread over, fixed once the warm-up sized them: runs added to
	// span MinTime walk the same spread again rather than crowd its end (which had timed the last,
	// narrowest recogniser pieces over and over: 5.5 ms per piece against 7.3–11).
	spread := runs
	for r := -1; r < runs; r++ {
		items := Clone(batch)
		if !fanIn && r >= 0 {
			// Items differ in cost (a long line, a wide piece): the timed runs take windows of b spread
			// over all the traced items, not the same first b every time.
			start := (r * len(received) / spread) % len(received)
			for k := range items {
				items[k] = Clone(received[(start+k)%len(received) : (start+k)%len(received)+1])[0]
			}
		}
		var outs [][]*flow.Item
		c0, t0 := processCPU(), time.Now()
		for lo := 0; lo < len(items); lo += b {
			out, _, err := n.Process(items[lo:min(lo+b, len(items))])
			if err != nil {
				return Latency{}, err
			}
			if len(out) > 0 {
				outs = append(outs, out)
			}
			if !fanIn {
				break // one call on the batch
			}
		}
		if r >= 0 {
			took := time.Since(t0)
			samples = append(samples, took.Seconds()*1000*perBatch)
			cpu = append(cpu, (processCPU()-c0).Seconds()*1000*perBatch)
			// The warm-up call, which sized runs, can be much slower than the others (an op's first call
			// on a shape sets up kernels): the timed runs go on until they span MinTime.
			if timed += took; r == runs-1 && timed < minTime && runs < maxRuns {
				runs++
			}
		} else {
			emitted = outs
			once := max(time.Since(t0), time.Microsecond)
			if !fanIn {
				// A cheap node with many traced items (a recogniser's line pieces) gets more windows, up to
				// one per b items within sampleBudget, so that its figure stands for the items, not a few.
				fit := int(sampleBudget / once)
				runs = max(repeats, min(fit, len(received)/b))
			}
			if minTime > 0 { // and the runs span MinTime (Options.MinTime), within maxRuns
				runs = max(runs, min(maxRuns, int(minTime/once)))
			}
			spread = runs
		}
	}
	var ins [][]byte
	var batchStarts []int // index in ins of each input's micro-batch's first message
	for _, up := range ups {
		var mine []*flow.Item
		for _, k := range idx {
			if len(up) > 0 {
				mine = append(mine, up[k%len(up)])
			}
		}
		for lo := 0; lo < len(mine); lo += b { // the upstream sends its micro-batches of b
			msgs, err := packMessages(mine[lo:min(lo+b, len(mine))])
			if err != nil {
				return Latency{}, fmt.Errorf("profile: node %q: packing its input: %w", n.Spec.Name, err)
			}
			batchStarts = append(batchStarts, len(ins))
			ins = append(ins, msgs...)
		}
	}
	var runner []float64
	var err error
	if peerBinary != "" {
		runner, err = runnerCostCollective(peerBinary, ins, emitted, repeats, nil)
	} else {
		runner, err = runnerCost(ins, emitted, repeats)
	}
	if err != nil {
		return Latency{}, fmt.Errorf("profile: node %q: %w", n.Spec.Name, err)
	}
	for i := range runner {
		runner[i] *= perBatch
	}
	l := Latency{Batch: b, Variant: variantOf(n), Stats: Summarise(samples), CPU: Summarise(cpu), Runner: Summarise(runner)}
	if peerBinary != "" {
		cold, err := coldCost(n, received, batch, ins, emitted, batchStarts, repeats, peerBinary)
		if err != nil {
			return Latency{}, fmt.Errorf("profile: node %q, starved: %w", n.Spec.Name, err)
		}
		for i := range cold {
			cold[i] *= perBatch
			if fanIn { // its op is not rerun cold (it regroups, in small steps): add the warm figure
				cold[i] += l.CPU.Mean
			}
		}
		l.Cold = Summarise(cold)
	}
	return l, nil
}

// coldCost times a starved worker of the node (coldRounds): the runner's path with a pause before each
// input's micro-batch (the messages at batchStarts: a join's inputs come from different ranks at different
// times, so each wakes the worker), and, but for a fan-in node, the op itself on a window of b traced
// items per round, in the same process CPU figure. It returns CPU ms per round.
func coldCost(n *flow.Node, received, batch []*flow.Item, ins [][]byte, emitted [][]*flow.Item, batchStarts []int, repeats int, peerBinary string) ([]float64, error) {
	cold := &coldRounds{Pause: coldPause, PauseBefore: batchStarts}
	if len(n.Spec.FanIn) == 0 {
		rounds := make([][]*flow.Item, repeats+1) // cloned beforehand: the timed rounds only run the op
		for r := range rounds {
			start := r * len(received) / len(rounds)
			rounds[r] = make([]*flow.Item, len(batch))
			for k := range batch {
				rounds[r][k] = Clone(received[(start+k)%len(received) : (start+k)%len(received)+1])[0]
			}
		}
		cold.Op = func(r int) error {
			_, _, err := n.Process(rounds[r%len(rounds)])
			return err
		}
	}
	return runnerCostCollective(peerBinary, ins, emitted, repeats, cold)
}

// maxRuns bounds the timed runs MinTime adds for a very cheap op.
const maxRuns = 2000

// sampleBudget is about how long timeNode may spend on the extra windows of a cheap node with many
// traced items.
const sampleBudget = 500 * time.Millisecond

// families groups sub-items by their parent (the item without the innermost fan-out level), in order.
func families(items []*flow.Item) [][]*flow.Item {
	var out [][]*flow.Item
	index := map[string]int{}
	for _, it := range items {
		key := fmt.Sprint(it.ID)
		if len(it.Sub) > 0 {
			key = fmt.Sprint(it.ID, it.Sub[:len(it.Sub)-1])
		}
		k, ok := index[key]
		if !ok {
			k = len(out)
			index[key] = k
			out = append(out, nil)
		}
		out[k] = append(out[k], it)
	}
	return out
}

// messageSizes is the mean size per item of the messages that carry the emitted items to the next
// stage, as the runner frames them (item ids, start times, shapes of ragged tensors, tensor headers) in
// micro-batches of batch items: raw, and with each message zstd-compressed as the runner compresses
// them. For large tensors this is their bytes; for small ones (a recognised sentence) the framing
// counts too.
func messageSizes(enc *zstd.Encoder, key [3]string, items []*flow.Item, batch int) (Message, error) {
	var raw, z float64
	add := func(chunk []*flow.Item) error {
		wire := make([]pipeline.Item, len(chunk))
		for i, it := range chunk {
			wire[i].Item = *it
		}
		b, err := pipeline.Pack(wire)
		if err != nil {
			return err
		}
		buf := collective.AppendBatch(nil, &b)
		raw += float64(len(buf))
		z += float64(len(enc.EncodeAll(buf, nil)))
		return nil
	}
	batch = max(batch, 1)
	for lo := 0; lo < len(items); lo += batch {
		chunk := items[lo:min(lo+batch, len(items))]
		if err := add(chunk); err != nil {
			// Items with different tensors (a parent without sub-items among sub-items) travel apart.
			for _, it := range chunk {
				if err := add([]*flow.Item{it}); err != nil {
					return Message{}, fmt.Errorf("profile: edge %s -> %s: %w", key[0], key[1], err)
				}
			}
		}
	}
	n := float64(max(len(items), 1)) * 1024
	return Message{From: key[0], To: key[1], FromVariant: key[2], RawKB: raw / n, ZstdKB: z / n}, nil
}

func variantOf(n *flow.Node) string {
	if n.Variant == "" {
		return DefaultVariant
	}
	return n.Variant
}

func maxOf(v []int) int {
	m := 0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
