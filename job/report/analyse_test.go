package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jellybean/plan"
)

// run builds a Run of one source stage and one model stage with the given capacities and spans.
func testRun(predicted, inputRate float64, measuredSeconds [2]float64, capacity [2]float64) *Run {
	const items = 100
	s := Summary{Job: "t", Items: items, Completed: items, CompletedThisRun: items, WallSeconds: 1,
		ThroughputItemsPerSecond: items / measuredSeconds[1], LatencyMs: map[string]float64{"p50": 5, "p90": 9, "p99": 12}}
	for i, name := range []string{"Read", "Model"} {
		s.Stages = append(s.Stages, StageSummary{Name: name, Workers: 1, Items: items, CapacityItemsPerSecond: capacity[i], ModelMsPerItem: 2})
		s.Ranks = append(s.Ranks, RankSummary{Rank: i, Stage: name, Items: items, StartUnixNs: 1e9, EndUnixNs: 1e9 + int64(measuredSeconds[i]*1e9)})
	}
	s.Links = []LinkSummary{{Src: 0, Dst: 1, BytesRaw: 4000, BytesWire: 1000, Messages: 10}}
	p := &plan.Plan{Job: "t", InputRate: inputRate, Predicted: plan.Predicted{ThroughputItemsPerSecond: predicted, Accuracy: 0.5},
		Stages: []plan.Stage{{Name: "Read", Workers: []plan.Worker{{Host: "h"}}}, {Name: "Model", Inputs: []string{"Read"}, Workers: []plan.Worker{{Host: "h"}}}}}
	return &Run{Summary: s, Plan: p, Eval: &Eval{Items: items, AccuracyMetric: "vqa_accuracy", Accuracy: 50.4, Metrics: map[string]float64{"vqa_accuracy": 50.4, "asr_wer": 1.2}}}
}

func TestAnalyseExplanations(t *testing.T) {
	tests := []struct {
		name      string
		predicted float64
		spans     [2]float64 // seconds each stage was active (100 items)
		capacity  [2]float64
		want      [2]string // substring of each stage's explanation ("" = within tolerance)
	}{
		{"within tolerance", 100, [2]float64{1.05, 0.95}, [2]float64{500, 200}, [2]string{"", ""}},
		{"slow model", 100, [2]float64{1, 2}, [2]float64{500, 50}, [2]string{"", "can sustain only 50.0 items/s"}},
		{"starved by upstream", 100, [2]float64{2, 2}, [2]float64{40, 500}, [2]string{"can sustain only 40.0", "starved by Read"}},
		{"faster in batch mode", 50, [2]float64{1, 1}, [2]float64{500, 500}, [2]string{"batch mode", "batch mode"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := Analyse(testRun(tc.predicted, 0, tc.spans, tc.capacity))
			for i, want := range tc.want {
				got := a.Stages[i].Explanation
				if (want == "") != (got == "") || !strings.Contains(got, want) {
					t.Errorf("stage %s: explanation %q, want one containing %q", a.Stages[i].Name, got, want)
				}
			}
			if a.Links[0].Compression != 4 || a.Links[0].Label != "0 Read → 1 Model" {
				t.Errorf("link row %+v", a.Links[0])
			}
			if a.PredictedAccuracy != 50 || a.AccuracyNote != "" {
				t.Errorf("accuracy predicted %.2f (want 50: fraction scaled), note %q (want none: 0.4 points apart)", a.PredictedAccuracy, a.AccuracyNote)
			}
		})
	}
}

func TestAnalyseAccuracyAndNoPrediction(t *testing.T) {
	r := testRun(0, 0, [2]float64{1, 1}, [2]float64{100, 100})
	r.Eval.Accuracy = 40
	a := Analyse(r)
	if !strings.Contains(a.ThroughputNote, "no predicted throughput") || a.Stages[1].Ratio != 0 {
		t.Errorf("no prediction: note %q, ratio %v", a.ThroughputNote, a.Stages[1].Ratio)
	}
	if !strings.Contains(a.AccuracyNote, "10.00 points apart") {
		t.Errorf("accuracy note %q", a.AccuracyNote)
	}
	// Rate mode without an optimizer figure: the plan's input rate per source is the prediction.
	r = testRun(0, 80, [2]float64{1, 1}, [2]float64{100, 100})
	r.Eval = nil
	a = Analyse(r)
	if a.PredictedThroughput != 80 || !strings.Contains(a.Stages[1].Explanation, "above the predicted 80.0") || !strings.Contains(a.AccuracyNote, "no eval.json") {
		t.Errorf("rate mode: predicted %v, explanation %q, accuracy %q", a.PredictedThroughput, a.Stages[1].Explanation, a.AccuracyNote)
	}
}

// Each stage is compared with its own [predicted.stage.<Name>] figure when the plan has one, and with the
// job's figure otherwise.
func TestAnalysePerStagePrediction(t *testing.T) {
	tests := []struct {
		name       string
		stages     map[string]plan.StagePrediction
		want       [2]float64 // predicted items/s per stage
		own        [2]bool
		wantNoteOn [2]bool // explanation expected (measured 100 items/s on both)
	}{
		{"job figure only", nil, [2]float64{100, 100}, [2]bool{false, false}, [2]bool{false, false}},
		{"own figure for the model", map[string]plan.StagePrediction{"Model": {ThroughputItemsPerSecond: 50, CapacityItemsPerSecond: 70}},
			[2]float64{100, 50}, [2]bool{false, true}, [2]bool{false, true}},
		{"own figures for both", map[string]plan.StagePrediction{"Read": {ThroughputItemsPerSecond: 105}, "Model": {ThroughputItemsPerSecond: 95}},
			[2]float64{105, 95}, [2]bool{true, true}, [2]bool{false, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRun(100, 100, [2]float64{1, 1}, [2]float64{500, 500})
			r.Plan.Predicted.Stages = tc.stages
			a := Analyse(r)
			for i := range a.Stages {
				row := a.Stages[i]
				if row.Predicted != tc.want[i] || row.OwnPrediction != tc.own[i] || (row.Explanation != "") != tc.wantNoteOn[i] {
					t.Errorf("stage %s: predicted %v (own %v), explanation %q; want %v (own %v), explanation %v",
						row.Name, row.Predicted, row.OwnPrediction, row.Explanation, tc.want[i], tc.own[i], tc.wantNoteOn[i])
				}
			}
			if sp, ok := tc.stages["Model"]; ok && a.Stages[1].PredictedCapacity != sp.CapacityItemsPerSecond {
				t.Errorf("predicted capacity %v, want %v", a.Stages[1].PredictedCapacity, sp.CapacityItemsPerSecond)
			}
			page, err := HTML(a, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(page), `<tr id="stage-Model"`) {
				t.Error("page has no row for stage Model")
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	v := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for q, want := range map[float64]float64{50: 5, 90: 9, 99: 10, 0: 1, 100: 10} {
		if got := Percentile(v, q); got != want {
			t.Errorf("p%g = %g, want %g", q, got, want)
		}
	}
	if Percentile(nil, 50) != 0 {
		t.Error("empty")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := copyFixture(t)
	if err := os.WriteFile(filepath.Join(dir, "timing", "2.csv"), []byte("rank,stage,item,batch,start_unix_ns,end_unix_ns\n2,S,0,1,10,20\n2,S,x,1,10,20\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "2.csv: line 3: column item") {
		t.Fatalf("bad timing row: %v", err)
	}
	os.Remove(filepath.Join(dir, "summary.json"))
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "summary.json") {
		t.Fatalf("missing summary: %v", err)
	}
}

func TestLoadFixture(t *testing.T) {
	r, err := Load("testdata/run")
	if err != nil {
		t.Fatal(err)
	}
	// Timing rows are the runner's first 80 per rank: items 0..79 cross every stage.
	if len(r.Latency) != 80 || r.Latency[0] <= 0 || r.Eval == nil || r.Eval.Accuracy != 32.5 || r.Eval.Metrics["asr_wer"] != 9.27 || len(r.Summary.Stages) != 6 {
		t.Fatalf("latencies %d (first %v), eval %+v, stages %d", len(r.Latency), r.Latency[:1], r.Eval, len(r.Summary.Stages))
	}
}

// copyFixture copies testdata/run (a real run's files, timing trimmed) into a temporary directory.
func copyFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.Walk("testdata/run", func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata/run", p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestEdgesAgainstProfile compares a real run across emulated tiers (edge 100 Mbit/s, cloud 1 Gbit/s,
// compression on) with a real profile of the same models: every data edge is within 10 % of the profiled
// size, and compression shows on the wire.
func TestEdgesAgainstProfile(t *testing.T) {
	r, err := Load("testdata/tiers-run")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.LoadProfile("testdata/profile"); err != nil {
		t.Fatal(err)
	}
	a := Analyse(r)
	got := map[string]EdgeRow{}
	for _, e := range a.Edges {
		got[e.From+"→"+e.To] = e
	}
	for _, edge := range []string{"ReadImage→ImageFeatures", "ReadSpeech→SpeechRecognition", "ImageFeatures→VQA", "SpeechRecognition→VQA"} {
		e, ok := got[edge]
		if !ok {
			t.Errorf("edge %s missing from %v", edge, a.Edges)
			continue
		}
		if e.Ratio < 0.9 || e.Ratio > 1.1 || e.Explanation != "" {
			t.Errorf("%s: measured %.3f KB vs profiled %.3f KB (ratio %.3f, %q)", edge, e.RawKB, e.ProfileRawKB, e.Ratio, e.Explanation)
		}
	}
	if e := got["ReadImage→ImageFeatures"]; e.WireKB >= e.RawKB*0.9 {
		t.Errorf("images travelled uncompressed: %.1f KB wire vs %.1f raw", e.WireKB, e.RawKB)
	}
	// A profile far off the run is explained.
	r.Messages[[3]string{"ReadSpeech", "SpeechRecognition", "default"}] = ProfiledMessage{RawKB: 60, ZstdKB: 30}
	for _, e := range Analyse(r).Edges {
		if e.From == "ReadSpeech" && !strings.Contains(e.Explanation, "profiled items differ in size") {
			t.Errorf("off profile not explained: %+v", e)
		}
	}
}

func TestLoadProfileErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "message_sizes.csv"), []byte("A,B,default,default,1.5\nA,C,default,default,x\n"), 0o644)
	r := &Run{}
	if err := r.LoadProfile(dir); err == nil || !strings.Contains(err.Error(), "message_sizes.csv: line 2") {
		t.Fatalf("bad KB: %v", err)
	}
}
