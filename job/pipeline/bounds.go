package pipeline

import (
	"slices"
	"sync"
)

// How a rank's memory stays bounded, whatever the dataset's size and however many sub-items a fan-out
// makes of one item (a page of thousands of text lines):
//
//   - Messages: a rank hands its results on in chunks of at most b items (its stage's batch size) and about
//     maxChunkBytes (one item larger than that travels alone), and each chunk becomes at most one message
//     per destination. A fan-out thus never makes one message of a whole page's sub-items.
//   - Links: the collective lets at most CreditBytes (8 MiB) of messages, or one larger message when
//     nothing else is, travel from one rank to another unreceived (MemMesh: memInbox messages per rank).
//   - Queues: receive -> compute holds at most inQueue messages, compute -> send at most outQueue chunks
//     (plus one in each end's hands); compute holds at most b + (one message) items not processed yet.
//   - Fan-outs: a node whose fan-out step streams (flow.Streamer) hands its sub-items on a chunk at a time
//     as it makes them, blocking while the queues are full, so it holds one chunk and not a whole family;
//     other fan-outs hold one micro-batch's sub-items (b items times the largest family).
//   - State: a join holds half-joined items and a fan-in holds incomplete families. Both are bounded by
//     the sources' windows: each source worker admits at most W items that the last join or fan-in back to
//     whole items downstream of it (its window stage) has not completed yet, and that stage acknowledges
//     every item it completes. A fan-in holds whole families, each of at most flow.MaxFamily sub-items (a
//     larger family is an error naming the item).
//
// So a rank holds at most, in items (b = the largest micro-batch of the plan's stages, F = the largest
// family, S = the source workers, W = their window, U = the ranks sending to this one):
//
//	links:   U x max(CreditBytes, one message of b items)                  bytes
//	queues:  (inQueue + 2) x b + (outQueue + 2) x b + 2b                   items (+ b x F for a fan-out that does not stream)
//	state:   S x W whole items (join) or S x W families of at most F sub-items (fan-in)
//
// with W = Config.Window, by default max(256, 32 x the join's batch) for a join (its branches run at
// different speeds) and max(8, 4 x the source's batch) for a fan-in (items that fan out are heavy). Every
// term is independent of the number of items in the job, and only the fan-in's depends on F. The sink's per-item bookkeeping
// (result ids for duplicate checks, latencies) is a few bytes per item, not buffered data.
const maxChunkBytes = 4 << 20

// fanInWindowPerBatch sets the default window of sources whose window stage is a fan-in: that many of
// the source's micro-batches. Items that fan out are heavy (a page of lines), so a few batches in flight
// keep every stage busy.
const fanInWindowPerBatch = 4

// Watermarks are the most a rank held at once, for tests and the rank's log: items in its queues and
// state, and the largest message it sent.
type Watermarks struct {
	Rank            int    `json:"-"`
	Stage           string `json:"-"`
	InQueueItems    int    `json:"in_queue_items"`    // items received, not yet taken by compute
	PendingItems    int    `json:"pending_items"`     // items taken by compute, not yet processed
	OutQueueItems   int    `json:"out_queue_items"`   // results not yet sent
	FanInFamilies   int    `json:"fan_in_families"`   // incomplete families held by the node's fan-in
	FanInSubItems   int    `json:"fan_in_sub_items"`  // their sub-items
	JoinPending     int    `json:"join_pending"`      // half-joined items
	MessageItems    int    `json:"message_items"`     // items in the largest message sent
	MessageBytes    int    `json:"message_bytes"`     // bytes of the largest message sent
	WindowCapacity  int    `json:"window_capacity"`   // the source's window (0: none)
	WindowMaxInUse  int    `json:"window_max_in_use"` // most window tokens held at once
	SubItemsEmitted int64  `json:"sub_items_emitted"`
}

// gauges tracks a rank's current and highest queue contents; goroutines of the rank update it.
type gauges struct {
	mu           sync.Mutex
	inQ, outQ    int
	w            Watermarks
	windowTokens int
}

func (g *gauges) addIn(n int) {
	g.mu.Lock()
	g.inQ += n
	g.w.InQueueItems = max(g.w.InQueueItems, g.inQ)
	g.mu.Unlock()
}

func (g *gauges) addOut(n int) {
	g.mu.Lock()
	g.outQ += n
	g.w.OutQueueItems = max(g.w.OutQueueItems, g.outQ)
	g.mu.Unlock()
}

func (g *gauges) note(f func(w *Watermarks)) {
	g.mu.Lock()
	f(&g.w)
	g.mu.Unlock()
}

func (g *gauges) snapshot() Watermarks {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.w
}

// chunks splits items into runs of at most n items and about maxBytes of tensor data (an item larger than
// that forms a run of its own), in order.
func chunks(items []Item, n, maxBytes int) [][]Item {
	n = max(n, 1)
	var out [][]Item
	lo, bytes := 0, 0
	for i := range items {
		b := 0
		for _, t := range items[i].Tensors {
			b += len(t.Data)
		}
		if i > lo && (i-lo == n || bytes+b > maxBytes) {
			out = append(out, items[lo:i:i])
			lo, bytes = i, 0
		}
		bytes += b
	}
	if lo < len(items) {
		out = append(out, items[lo:len(items):len(items)])
	}
	return out
}

// windowStages decides, for every source stage, which stage acknowledges its items: among the stages
// that turn items back into whole dataset items downstream of the source — a join of whole items
// (acknowledged as they are joined) or a fan-in back to depth 0 (as families complete) — the last in
// the workflow's order, which is downstream of the others on the source's path. A source without one
// needs no window: no stage between it and the sink holds state.
func (r *rank) windowStages() (bySource map[int]int, err error) {
	p := r.cfg.Plan
	order, err := p.Flow.TopoOrder()
	if err != nil {
		return nil, err
	}
	pos := map[int]int{} // stage -> position in the workflow's order
	for k, node := range order {
		if s := p.StageIndex(p.Flow.Nodes[node].Name); s >= 0 {
			pos[s] = k
		}
	}
	bySource = map[int]int{}
	for s := range p.Stages {
		if r.windowKind(s) == noWindow {
			continue
		}
		for _, src := range p.SourcesOf(s) {
			if cur, ok := bySource[src]; !ok || pos[s] > pos[cur] {
				bySource[src] = s
			}
		}
	}
	return bySource, nil
}

type windowKind int

const (
	noWindow    windowKind = iota
	joinWindow             // a join of whole items: acknowledged on receipt
	fanInWindow            // a fan-in back to whole items: acknowledged as families complete
)

// windowKind says whether stage s completes whole items that it can acknowledge, and how.
func (r *rank) windowKind(s int) windowKind {
	p := r.cfg.Plan
	node := r.graph.Nodes[p.Flow.Index(p.Stages[s].Name)]
	inputs := p.InputIndexes(s)
	depthIn := -1
	for _, in := range inputs {
		depthIn = r.graph.Nodes[p.Flow.Index(p.Stages[in].Name)].Depth
	}
	switch {
	case len(node.Spec.FanIn) > 0 && depthIn == 1:
		return fanInWindow
	case len(inputs) > 1 && depthIn == 0:
		return joinWindow
	}
	return noWindow
}

// ackTargets returns the source stages whose windows this rank's stage frees.
func (r *rank) ackTargets(bySource map[int]int) []int {
	var out []int
	for src, s := range bySource {
		if s == r.me.Stage {
			out = append(out, src)
		}
	}
	slices.Sort(out)
	return out
}
