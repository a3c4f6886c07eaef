package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"jellybean/collective"
	"jellybean/plan"
)

// rankStats is what each rank reports to the sink at the end of the job.
type rankStats struct {
	Rank            int                    `json:"rank"`
	Host            string                 `json:"host"`
	Stage           string                 `json:"stage"`
	Op              string                 `json:"op"`
	Worker          int                    `json:"worker"`
	Device          string                 `json:"device"`
	Threads         int                    `json:"threads"`
	Items           int64                  `json:"items"`
	Batches         int64                  `json:"batches"`
	ModelSeconds    float64                `json:"model_seconds"`              // inside ONNX Runtime
	ComputeSeconds  float64                `json:"compute_seconds"`            // the op on micro-batches, model included
	RunnerIOSeconds float64                `json:"runner_io_seconds"`          // decoding, joining, packing (not waiting)
	JoinMaxPending  int                    `json:"join_max_pending,omitempty"` // most half-joined items held
	StartUnixNs     int64                  `json:"start_unix_ns"`
	EndUnixNs       int64                  `json:"end_unix_ns"`
	Links           []collective.LinkStats `json:"links"`
}

// Summary is summary.json.
type Summary struct {
	Job                      string             `json:"job"`
	Items                    int                `json:"items"`     // items in the job
	Completed                int                `json:"completed"` // lines in results.jsonl
	CompletedThisRun         int                `json:"completed_this_run"`
	WallSeconds              float64            `json:"wall_seconds"` // this run: first source start to last result
	ThroughputItemsPerSecond float64            `json:"throughput_items_per_second"`
	LatencyMs                map[string]float64 `json:"latency_ms"`
	BytesRaw                 int64              `json:"bytes_raw"`  // stream bytes sent between ranks
	BytesWire                int64              `json:"bytes_wire"` // the same after compression and framing
	RunnerOverheadMsPerItem  float64            `json:"runner_overhead_ms_per_item"`
	Stages                   []stageSummary     `json:"stages"`
	Links                    []linkSummary      `json:"links"`
	Ranks                    []rankStats        `json:"ranks"`
	Predicted                plan.Predicted     `json:"predicted"`
	ThroughputVsPredicted    float64            `json:"throughput_vs_predicted,omitempty"`
	InputRate                float64            `json:"input_rate"`
}

type stageSummary struct {
	Name    string `json:"name"`
	Op      string `json:"op"`
	Variant string `json:"variant,omitempty"`
	Workers int    `json:"workers"`
	Items   int64  `json:"items"`
	Batches int64  `json:"batches"`
	// MeanBatch is items per micro-batch; ModelMsPerItem the ONNX Runtime time per item; OverheadMsPerItem
	// the runner's own time per item (compute minus model, plus decode/join/pack) — file reading and
	// result writing count as overhead for sources and the sink.
	MeanBatch   float64 `json:"mean_batch"`
	BusySeconds float64 `json:"busy_seconds"` // the op on micro-batches, all workers
	// CapacityItemsPerSecond is what the stage's workers could sustain if never starved: the sum over
	// workers of items / busy seconds (compare with the optimizer's per-worker capacity).
	CapacityItemsPerSecond float64 `json:"capacity_items_per_second"`
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
	mine, err := json.Marshal(r.stats)
	if err != nil {
		return err
	}
	sinkRank := r.layout.SinkRank()
	send := make([][]byte, r.comm.Size())
	send[sinkRank] = mine
	recv, err := r.comm.AllToAllV(ctx, send)
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
	for si, st := range p.Stages {
		ss := stageSummary{Name: st.Name, Op: p.StageKind(si), Variant: st.Variant, Workers: len(st.Workers)}
		var runner float64
		for _, rs := range all {
			if rs.Stage != st.Name {
				continue
			}
			ss.Items += rs.Items
			ss.Batches += rs.Batches
			ss.ModelSeconds += rs.ModelSeconds
			ss.BusySeconds += rs.ComputeSeconds
			if rs.ComputeSeconds > 0 {
				ss.CapacityItemsPerSecond += float64(rs.Items) / rs.ComputeSeconds
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
