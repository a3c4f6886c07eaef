package pipeline

import (
	"math"
	"path/filepath"
	"testing"

	"jellybean/collective"
	"jellybean/plan"
)

func TestBuildSummary(t *testing.T) {
	p, err := plan.Load("../../plan/examples/default.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Bind("../.."); err != nil {
		t.Fatal(err)
	}
	p.Predicted.ThroughputItemsPerSecond = 8
	w, err := openResults(filepath.Join(t.TempDir(), "r.jsonl"), map[int64]bool{100: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	if err := w.write([]int64{1, 2, 3, 4}, [][]byte{[]byte("{}"), []byte("{}"), []byte("{}"), []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	const s0 = int64(1_000_000_000)
	// The first result (one item) came 0.25 s in, the last at 0.5 s: 3 items in 0.25 s once full.
	sink := &sinkState{w: w, total: 5, latencies: []float64{40, 10, 30, 20}, lastUnix: s0 + 500_000_000, firstUnix: s0 + 250_000_000, firstCount: 1}
	ranks := []rankStats{
		{Rank: 0, Stage: "ReadImage", Items: 4, Batches: 1, ComputeSeconds: 0.04, StartUnixNs: s0,
			Links: []collective.LinkStats{{Peer: 2, Edge: edgeData, RawBytesSent: 1000, WireBytesSent: 400, Messages: 2}, {Peer: 2, Edge: edgeEOS, Messages: 1}}},
		{Rank: 1, Stage: "ReadSpeech", Items: 4, Batches: 2, StartUnixNs: s0 + 10},
		{Rank: 2, Stage: "ImageFeatures", Items: 4, Batches: 2, ModelSeconds: 0.02, ComputeSeconds: 0.03, RunnerIOSeconds: 0.002,
			Links: []collective.LinkStats{{Peer: 4, Edge: edgeData, RawBytesSent: 200, WireBytesSent: 200, Messages: 2}, {Peer: 0, RawBytesRecv: 1000}}},
		{Rank: 3, Stage: "SpeechRecognition", Items: 4, Batches: 4, ModelSeconds: 0.04, ComputeSeconds: 0.041},
		{Rank: 4, Stage: "VQA", Items: 4, Batches: 1, ModelSeconds: 0.001, ComputeSeconds: 0.002},
		{Rank: 5, Stage: "Sink", Items: 4, Batches: 1, ComputeSeconds: 0.01},
	}
	s := buildSummary(p, ranks, sink)
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if s.Items != 5 || s.Completed != 5 || s.CompletedThisRun != 4 {
		t.Errorf("items %d completed %d this run %d", s.Items, s.Completed, s.CompletedThisRun)
	}
	near("wall", s.WallSeconds, 0.5)
	near("throughput", s.ThroughputItemsPerSecond, 8)
	near("vs predicted", s.ThroughputVsPredicted, 1)
	near("steady throughput", s.SteadyThroughputItemsPerSecond, 12)
	near("p50", s.LatencyMs["p50"], 20)
	near("p99", s.LatencyMs["p99"], 40)
	near("mean", s.LatencyMs["mean"], 25)
	if s.BytesRaw != 1200 || s.BytesWire != 600 {
		t.Errorf("bytes raw %d wire %d", s.BytesRaw, s.BytesWire)
	}
	if len(s.Links) != 2 || s.Links[0] != (linkSummary{Src: 0, Dst: 2, BytesRaw: 1000, BytesWire: 400, Messages: 3}) {
		t.Errorf("links %+v", s.Links)
	}
	// Model stages' own time: IF 0.03-0.02+0.002, SR 0.001, VQA 0.001 = 0.014 s over 4 items.
	near("overhead", s.RunnerOverheadMsPerItem, 3.5)
	if st := s.Stages[2]; st.Name != "ImageFeatures" || st.MeanBatch != 2 || math.Abs(st.ModelMsPerItem-5) > 1e-9 ||
		math.Abs(st.CapacityItemsPerSecond-4/0.032) > 1e-6 || st.CapacityBasis != "wall" {
		t.Errorf("stage %+v", st)
	}
}
