package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"jellybean/collective"
	"jellybean/plan"
)

// rankStats is what each rank reports to the sink at the end of the job.
type rankStats struct {
	Rank     int    `json:"rank"`
	Host     string `json:"host"`
	Stage    string `json:"stage"`
	Op       string `json:"op"`
	Worker   int    `json:"worker"`
	Device   string `json:"device"`
	Threads  int    `json:"threads"`
	Items    int64  `json:"items"`
	ItemsOut int64  `json:"items_out"` // what the op emitted (a fan-in: parents; a fan-out: sub-items)
	Batches  int64  `json:"batches"`
	// StarvedBatches counts the micro-batches that found nothing queued and waited for their first
	// items: the worker's threads had parked, and waking them costs CPU a saturated worker does not pay
	// (the capacity model's starved cost, latency.csv's cold_ms_per_item).
	StarvedBatches  int64                  `json:"starved_batches"`
	ModelSeconds    float64                `json:"model_seconds"`              // inside ONNX Runtime
	ComputeSeconds  float64                `json:"compute_seconds"`            // the op on micro-batches, model included
	RunnerIOSeconds float64                `json:"runner_io_seconds"`          // decoding, joining, packing (not waiting)
	JoinMaxPending  int                    `json:"join_max_pending,omitempty"` // most half-joined items held
	StartUnixNs     int64                  `json:"start_unix_ns"`
	EndUnixNs       int64                  `json:"end_unix_ns"`
	CPUSeconds      float64                `json:"cpu_seconds"` // the process's CPU time (all threads) from the stream's start to the summary
	PID             int                    `json:"pid"`         // whether the rank had a process of its own (see busySeconds)
	Links           []collective.LinkStats `json:"links"`
	HeldAtMost      *Watermarks            `json:"held_at_most,omitempty"` // the most the rank held at once (see bounds.go)
	cpuAtStart      float64
}

// Summary is summary.json.
type Summary struct {
	Job                      string  `json:"job"`
	Items                    int     `json:"items"`     // items in the job
	Completed                int     `json:"completed"` // lines in results.jsonl
	CompletedThisRun         int     `json:"completed_this_run"`
	WallSeconds              float64 `json:"wall_seconds"` // this run: first source start to last result
	ThroughputItemsPerSecond float64 `json:"throughput_items_per_second"`
	// SteadyThroughputItemsPerSecond is the rate once the pipeline is full: the items finished after the
	// first result, per second from the first result to the last. A short run spends a good part of its
	// wall time filling the pipeline (OCR: a page's detection and its hundred line pieces before the first
	// result), which the whole-run figure counts and a rate model (the plan's predicted maximum) does not.
	SteadyThroughputItemsPerSecond float64            `json:"steady_throughput_items_per_second,omitempty"`
	LatencyMs                      map[string]float64 `json:"latency_ms"`
	BytesRaw                       int64              `json:"bytes_raw"`  // stream bytes sent between ranks
	BytesWire                      int64              `json:"bytes_wire"` // the same after compression and framing
	RunnerOverheadMsPerItem        float64            `json:"runner_overhead_ms_per_item"`
	Stages                         []stageSummary     `json:"stages"`
	Links                          []linkSummary      `json:"links"`
	Ranks                          []rankStats        `json:"ranks"`
	Predicted                      plan.Predicted     `json:"predicted"`
	ThroughputVsPredicted          float64            `json:"throughput_vs_predicted,omitempty"`
	InputRate                      float64            `json:"input_rate"`
	// Attempts lists every attempt of the run, earlier ones (kept under attempts/<n>/ by the launcher
	// when a run is resumed) first and this one last; Completed above counts the items of all of them.
	Attempts []Attempt `json:"attempts"`
}

// Attempt is one attempt's share of a run.
type Attempt struct {
	Attempt                  int     `json:"attempt"`
	Completed                int     `json:"completed"` // items this attempt finished
	WallSeconds              float64 `json:"wall_seconds"`
	ThroughputItemsPerSecond float64 `json:"throughput_items_per_second"`
	BytesRaw                 int64   `json:"bytes_raw"`
}

// earlierAttempts reads the summaries the launcher moved to runDir/attempts/<n>/ before this attempt,
// in attempt order. A missing folder means this is the first attempt; an unreadable summary (an attempt
// killed before it wrote one) counts with what results.jsonl says it finished, which the caller knows.
func earlierAttempts(runDir string) ([]Attempt, error) {
	var out []Attempt
	for n := 1; ; n++ {
		dir := filepath.Join(runDir, "attempts", fmt.Sprint(n))
		if _, err := os.Stat(dir); err != nil {
			return out, nil
		}
		a := Attempt{Attempt: n}
		data, err := os.ReadFile(filepath.Join(dir, "summary.json"))
		if err == nil {
			var prev Summary
			if err := json.Unmarshal(data, &prev); err != nil {
				return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "summary.json"), err)
			}
			a.Completed, a.WallSeconds, a.ThroughputItemsPerSecond, a.BytesRaw = prev.CompletedThisRun, prev.WallSeconds, prev.ThroughputItemsPerSecond, prev.BytesRaw
		}
		out = append(out, a)
	}
}

type stageSummary struct {
	Name    string `json:"name"`
	Op      string `json:"op"`
	Variant string `json:"variant,omitempty"`
	Workers int    `json:"workers"`
	Items   int64  `json:"items"`
	Batches int64  `json:"batches"`
	// StarvedBatches: micro-batches that waited for their first items (rankStats.StarvedBatches).
	StarvedBatches int64 `json:"starved_batches"`
	// MeanBatch is items per micro-batch; ModelMsPerItem the ONNX Runtime time per item; OverheadMsPerItem
	// the runner's own time per item (compute minus model, plus decode/join/pack) — file reading and
	// result writing count as overhead for sources and the sink.
	MeanBatch   float64 `json:"mean_batch"`
	BusySeconds float64 `json:"busy_seconds"` // the op on micro-batches, all workers
	// CapacityItemsPerSecond is what the stage's workers could sustain if never starved, each on a core
	// of its own: the sum over workers of items / the worker's busy seconds (see busySeconds). Compare
	// with the optimizer's per-worker capacity. CapacityBasis says which busy time ("cpu" or "wall"),
	// CapacityUnit what it counts: "items" received, or the "parents" a fan-in stage emitted.
	CapacityItemsPerSecond float64 `json:"capacity_items_per_second"`
	CapacityBasis          string  `json:"capacity_basis,omitempty"`
	CapacityUnit           string  `json:"capacity_unit,omitempty"`
	ItemsOut               int64   `json:"items_out"`
	ModelSeconds           float64 `json:"model_seconds"`
	ModelMsPerItem         float64 `json:"model_ms_per_item"`
	OverheadMsPerItem      float64 `json:"overhead_ms_per_item"`
}

type linkSummary struct {
	Src       int   `json:"src"`
	Dst       int   `json:"dst"`
	BytesRaw  int64 `json:"bytes_raw"`
	BytesWire int64 `json:"bytes_wire"`
	Messages  int64 `json:"messages"`
}

// gatherSummary sends every rank's statistics to the sink (one AllToAllV, which is also the job's final
// synchronisation) and has the sink write summary.json.
func (r *rank) gatherSummary(ctx context.Context) error {
	r.stats.Links = r.comm.Stats()
	r.stats.CPUSeconds, r.stats.PID = processCPUSeconds()-r.stats.cpuAtStart, os.Getpid()
	mine, err := json.Marshal(r.stats)
	if err != nil {
		return err
	}
	sinkRank := r.layout.SinkRank()
	send := make([][]byte, r.comm.Size())
	send[sinkRank] = mine
	recv, err := r.comm.SparseAllToAllV(ctx, send)
	if err != nil {
		return fmt.Errorf("gathering statistics: %w", err)
	}
	if r.cfg.Rank != sinkRank {
		return nil
	}
	all := make([]rankStats, len(recv))
	for i, b := range recv {
		if err := json.Unmarshal(b, &all[i]); err != nil {
			return fmt.Errorf("statistics of rank %d: %w", i, err)
		}
	}
	s := buildSummary(r.cfg.Plan, all, r.sink)
	if s.Attempts, err = earlierAttempts(r.runDir); err != nil {
		return err
	}
	// An attempt killed before its summary finished the items results.jsonl holds beyond the others'.
	known, unknown := s.CompletedThisRun, -1
	for i, a := range s.Attempts {
		known += a.Completed
		if a.Completed == 0 && a.WallSeconds == 0 {
			unknown = i
		}
	}
	if unknown >= 0 && s.Completed > known {
		s.Attempts[unknown].Completed = s.Completed - known
	}
	s.Attempts = append(s.Attempts, Attempt{Attempt: len(s.Attempts) + 1, Completed: s.CompletedThisRun,
		WallSeconds: s.WallSeconds, ThroughputItemsPerSecond: s.ThroughputItemsPerSecond, BytesRaw: s.BytesRaw})
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(r.runDir, "summary.json")
	if err := os.WriteFile(path+".tmp", append(data, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return err
	}
	r.logf("sink: %d/%d items done, %.1f items/s, p50 latency %.1f ms; wrote %s",
		s.Completed, s.Items, s.ThroughputItemsPerSecond, s.LatencyMs["p50"], path)
	return nil
}

// buildSummary is pure: statistics of all ranks and the sink's state in, summary out.
func buildSummary(p *plan.Plan, all []rankStats, sink *sinkState) Summary {
	s := Summary{Job: p.Job, Items: sink.total, Completed: sink.w.count(), CompletedThisRun: len(sink.latencies),
		Predicted: p.Predicted, InputRate: p.InputRate, Ranks: all}
	start := int64(0)
	for _, rs := range all {
		if rs.StartUnixNs > 0 && (start == 0 || rs.StartUnixNs < start) {
			start = rs.StartUnixNs
		}
	}
	if sink.lastUnix > start && start > 0 {
		s.WallSeconds = float64(sink.lastUnix-start) / 1e9
		s.ThroughputItemsPerSecond = float64(s.CompletedThisRun) / s.WallSeconds
	}
	if sink.lastUnix > sink.firstUnix && sink.firstUnix > 0 && s.CompletedThisRun > sink.firstCount {
		s.SteadyThroughputItemsPerSecond = float64(s.CompletedThisRun-sink.firstCount) / (float64(sink.lastUnix-sink.firstUnix) / 1e9)
	}
	lat := sortedCopy(sink.latencies)
	s.LatencyMs = map[string]float64{"p50": percentile(lat, 50), "p90": percentile(lat, 90), "p99": percentile(lat, 99)}
	if len(lat) > 0 {
		sum := 0.0
		for _, v := range lat {
			sum += v
		}
		s.LatencyMs["mean"] = sum / float64(len(lat))
		s.LatencyMs["max"] = lat[len(lat)-1]
	}
	if p.Predicted.ThroughputItemsPerSecond > 0 {
		s.ThroughputVsPredicted = s.ThroughputItemsPerSecond / p.Predicted.ThroughputItemsPerSecond
	}
	overheadSeconds := 0.0
	cpu := ownProcesses(all)
	for si, st := range p.Stages {
		ss := stageSummary{Name: st.Name, Op: p.StageKind(si), Variant: st.Variant, Workers: len(st.Workers), CapacityUnit: "items"}
		fanIn := false
		if p.Flow != nil {
			if n := p.Flow.Node(st.Name); n != nil && len(n.FanIn) > 0 {
				fanIn, ss.CapacityUnit = true, "parents"
			}
		}
		var runner float64
		for _, rs := range all {
			if rs.Stage != st.Name {
				continue
			}
			ss.Items += rs.Items
			ss.ItemsOut += rs.ItemsOut
			ss.Batches += rs.Batches
			ss.StarvedBatches += rs.StarvedBatches
			ss.ModelSeconds += rs.ModelSeconds
			ss.BusySeconds += rs.ComputeSeconds
			if busy, basis := busySeconds(rs, cpu); busy > 0 {
				n := rs.Items
				if fanIn {
					n = rs.ItemsOut
				}
				ss.CapacityItemsPerSecond += float64(n) / busy
				ss.CapacityBasis = basis
			}
			runner += rs.ComputeSeconds - rs.ModelSeconds + rs.RunnerIOSeconds
		}
		if ss.Batches > 0 {
			ss.MeanBatch = float64(ss.Items) / float64(ss.Batches)
		}
		if ss.Items > 0 {
			ss.ModelMsPerItem = ss.ModelSeconds * 1000 / float64(ss.Items)
			ss.OverheadMsPerItem = runner * 1000 / float64(ss.Items)
		}
		if p.IsModel(si) {
			overheadSeconds += runner
		}
		s.Stages = append(s.Stages, ss)
	}
	if s.CompletedThisRun > 0 {
		s.RunnerOverheadMsPerItem = overheadSeconds * 1000 / float64(s.CompletedThisRun)
	}
	for _, rs := range all {
		byDst := map[int]*linkSummary{}
		for _, l := range rs.Links {
			if l.Peer == rs.Rank || (l.RawBytesSent == 0 && l.Messages == 0) {
				continue
			}
			ls := byDst[l.Peer]
			if ls == nil {
				ls = &linkSummary{Src: rs.Rank, Dst: l.Peer}
				byDst[l.Peer] = ls
			}
			ls.BytesRaw += l.RawBytesSent
			ls.BytesWire += l.WireBytesSent
			ls.Messages += l.Messages
			s.BytesRaw += l.RawBytesSent
			s.BytesWire += l.WireBytesSent
		}
		for dst := 0; dst < len(all); dst++ {
			if ls := byDst[dst]; ls != nil && ls.BytesRaw > 0 {
				s.Links = append(s.Links, *ls)
			}
		}
	}
	return s
}

// ownProcesses says whether every rank ran in a process of its own (distinct PIDs, CPU time recorded),
// so that each rank's process CPU time is that rank's alone; ranks sharing a process (in-process jobs,
// tests) share one figure.
func ownProcesses(all []rankStats) bool {
	seen := map[int]bool{}
	for _, rs := range all {
		if rs.PID == 0 || seen[rs.PID] || !(rs.CPUSeconds > 0) {
			return false
		}
		seen[rs.PID] = true
	}
	return len(all) > 0
}

// busySeconds is the time a worker spent on its items, the denominator of its capacity. With a process
// of its own it is the process's CPU time ("cpu"): the op and all of the runner's per-item work (decode,
// join, pack, sockets, garbage collection), unaffected by other processes taking turns on the cores, so
// items / CPU seconds is what the worker sustains on a core of its own, as the optimizer's capacity
// assumes. Otherwise it is the wall time of the op plus the runner's timed work ("wall").
func busySeconds(rs rankStats, ownProcess bool) (float64, string) {
	if ownProcess {
		return rs.CPUSeconds, "cpu"
	}
	return rs.ComputeSeconds + rs.RunnerIOSeconds, "wall"
}

// processCPUSeconds is this process's user + system CPU time so far (0 if the system cannot say).
func processCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
