package ranks

import (
	"fmt"
	"net"

	"jellybean/hostfiles"
	"jellybean/plan"
)

// Worker is one rank's role in the job.
type Worker struct {
	Rank       int
	Host       string
	LocalIndex int    // slot index on Host
	Port       int    // base_port + LocalIndex
	Stage      int    // index into Plan.Stages
	Index      int    // worker index within the stage
	Device     string // "cpu" or "cuda:N"
	Threads    int    // intra-op threads for model stages
	Weight     float64
}

// Layout is the whole job's placement: every rank's role and the routing schedules. All ranks compute
// the same Layout from the same hostfile and plan.
type Layout struct {
	Plan       *plan.Plan
	Hostfile   *hostfiles.Hostfile
	Workers    []Worker   // indexed by rank
	StageRanks [][]int    // stage index -> ranks of its workers, in worker order
	schedules  []Schedule // stage index -> routing of item ids to its workers
}

// NewLayout maps plan workers onto hostfile slots: for each host, the plan's workers that name it (in
// plan order: stage order, then worker order) take the host's slots in order. The plan must already be
// validated against the hostfile (every host's worker count equals its slot count); cores is the number
// of CPU cores of a host, used for the default thread count (cores / ranks on the host).
func NewLayout(h *hostfiles.Hostfile, p *plan.Plan, cores int) (*Layout, error) {
	slotsOf := map[string][]hostfiles.Slot{}
	for _, s := range h.Ranks() {
		slotsOf[s.Host] = append(slotsOf[s.Host], s)
	}
	l := &Layout{Plan: p, Hostfile: h, Workers: make([]Worker, h.WorldSize()),
		StageRanks: make([][]int, len(p.Stages)), schedules: make([]Schedule, len(p.Stages))}
	taken := map[string]int{}
	for si, st := range p.Stages {
		weights := make([]float64, len(st.Workers))
		for wi, pw := range st.Workers {
			slots := slotsOf[pw.Host]
			n := taken[pw.Host]
			if n >= len(slots) {
				return nil, fmt.Errorf("stage %q worker[%d]: host %q has %d slots in %s, all taken by earlier workers",
					st.Name, wi, pw.Host, len(slots), h.Name)
			}
			taken[pw.Host] = n + 1
			slot := slots[n]
			dev := pw.Device
			if dev == "" {
				dev = "cpu"
			}
			threads := pw.Threads
			if threads == 0 {
				threads = max(1, cores/len(slots))
			}
			l.Workers[slot.Rank] = Worker{Rank: slot.Rank, Host: slot.Host, LocalIndex: slot.LocalIndex,
				Port: p.Port() + slot.LocalIndex, Stage: si, Index: wi, Device: dev, Threads: threads, Weight: pw.Weight}
			l.StageRanks[si] = append(l.StageRanks[si], slot.Rank)
			weights[wi] = pw.Weight
		}
		l.schedules[si] = NewSchedule(weights)
	}
	for _, host := range h.Hosts {
		if taken[host.Name] != host.Slots {
			return nil, fmt.Errorf("host %q has %d slots in %s but the plan places %d workers on it",
				host.Name, host.Slots, h.Name, taken[host.Name])
		}
	}
	return l, nil
}

// Route returns the rank of the stage's worker that handles item id.
func (l *Layout) Route(stage int, id int64) int {
	return l.StageRanks[stage][l.schedules[stage].Worker(id)]
}

// Owns reports whether rank handles item id in its stage (a source's data shard is the items it owns).
func (l *Layout) Owns(rank int, id int64) bool {
	return l.Route(l.Workers[rank].Stage, id) == rank
}

// Upstream returns the ranks that send to rank: every worker of every input stage of its stage.
func (l *Layout) Upstream(rank int) []int {
	var up []int
	for _, si := range l.Plan.InputIndexes(l.Workers[rank].Stage) {
		up = append(up, l.StageRanks[si]...)
	}
	return up
}

// Downstream returns the stages that consume rank's output (none for the sink). A node read by several
// nodes sends each of them every item.
func (l *Layout) Downstream(rank int) []int {
	return l.Plan.Consumers(l.Workers[rank].Stage)
}

// SinkRank is the rank of the sink's (single) worker; it writes results and the summary.
func (l *Layout) SinkRank() int {
	return l.StageRanks[l.Plan.SinkIndex()][0]
}

// Endpoint is where a rank listens.
type Endpoint struct {
	Rank int
	Host string
	Port int
}

// Endpoints lists every rank's address, by rank.
func (l *Layout) Endpoints() []Endpoint {
	e := make([]Endpoint, len(l.Workers))
	for r, w := range l.Workers {
		e[r] = Endpoint{Rank: r, Host: w.Host, Port: w.Port}
	}
	return e
}

// ListenAddr is the address rank binds: the host itself when it is an IP literal or "localhost" (so that
// 127.0.0.2 and 127.0.0.3 can act as two hosts on one machine), else every interface, because a host
// name may resolve to a loopback address on its own machine (Debian's 127.0.1.1) that peers cannot reach.
func (l *Layout) ListenAddr(rank int) string {
	w := l.Workers[rank]
	if w.Host == "localhost" || net.ParseIP(w.Host) != nil {
		return net.JoinHostPort(w.Host, fmt.Sprint(w.Port))
	}
	return fmt.Sprintf(":%d", w.Port)
}

// ResolveDevice returns the device rank runs on, given how many GPUs its host has: "cuda" without an
// ordinal spreads the host's cuda workers over its GPUs round-robin in slot order (local rank -> GPU),
// an explicit "cuda:N" or "cpu" is kept as written.
func (l *Layout) ResolveDevice(rank, gpus int) string {
	w := l.Workers[rank]
	if w.Device != "cuda" {
		return w.Device
	}
	k := 0
	for _, o := range l.Workers {
		if o.Host == w.Host && o.Device == "cuda" && o.LocalIndex < w.LocalIndex {
			k++
		}
	}
	return fmt.Sprintf("cuda:%d", k%max(gpus, 1))
}
