package report

import (
	"math"
	"strings"
	"testing"

	"jellybean/job/profile/capacity"
	"jellybean/plan"
)

// ocrRun is an unpaced OCR-shaped run: pages fan out into 20 pieces at Crop (Recognise counts pieces, two
// workers) and Assemble regroups them; the capacity model has the profile's points and ratios.
func ocrRun() (*Run, *CapacityModel) {
	p := &plan.Plan{Job: "ocr", BatchSize: 2, Stages: []plan.Stage{
		{Name: "ReadPage", Workers: []plan.Worker{{Host: "h"}}},
		{Name: "Detect", Variant: "det960", Workers: []plan.Worker{{Host: "h"}}},
		{Name: "Crop", Workers: []plan.Worker{{Host: "h"}}},
		{Name: "Recognise", Variant: "rec-full", Workers: []plan.Worker{{Host: "h"}, {Host: "h"}}},
		{Name: "Assemble", Workers: []plan.Worker{{Host: "h"}}},
		{Name: "Sink", Workers: []plan.Worker{{Host: "h"}}},
	}}
	pts := func(op1, op2 float64) []capacity.Point {
		return []capacity.Point{{Batch: 1, Op: op1}, {Batch: 2, Op: op2}}
	}
	cm := &CapacityModel{Costs: &capacity.Model{CPU: true, Points: map[capacity.Key][]capacity.Point{
		{Host: "h", Stage: "Detect", Variant: "det960"}:      pts(200, 400), // 5 pages/s at any batch
		{Host: "h", Stage: "Crop", Variant: "default"}:       pts(10, 20),
		{Host: "h", Stage: "Recognise", Variant: "rec-full"}: pts(25, 40), // 50 pieces/s per worker at 2
		{Host: "h", Stage: "Assemble", Variant: "default"}:   pts(1, 2),
	}}, Ratios: []capacity.Ratio{
		{From: "ReadPage", To: "Detect", Ratio: 1}, {From: "Detect", To: "Crop", Ratio: 1},
		{From: "Crop", To: "Recognise", Variants: map[string]string{"Detect": "det960"}, Ratio: 20},
		{From: "Crop", To: "Recognise", Variants: map[string]string{"Detect": "det480"}, Ratio: 10},
		{From: "Recognise", To: "Assemble", Variants: map[string]string{"Detect": "det960"}, Ratio: 1.0 / 20},
	}}
	r := &Run{Plan: p, Capacity: cm, Summary: Summary{Job: "ocr", Items: 10, Completed: 10, CompletedThisRun: 10, WallSeconds: 4, ThroughputItemsPerSecond: 2.4,
		Ranks: []RankSummary{
			{Rank: 1, Stage: "Detect", CPUSeconds: 3.6, StartUnixNs: 1e9, EndUnixNs: 5e9},
			{Rank: 2, Stage: "Crop", CPUSeconds: 0.4, StartUnixNs: 1e9, EndUnixNs: 5e9},
		},
		Stages: []StageSummary{
			{Name: "ReadPage", Items: 10},
			{Name: "Detect", Items: 10, Batches: 5, MeanBatch: 2, CapacityItemsPerSecond: 4.9, CapacityBasis: "cpu", CapacityUnit: "items"},
			{Name: "Crop", Items: 10, Batches: 5, MeanBatch: 2, CapacityItemsPerSecond: 60, CapacityBasis: "cpu", CapacityUnit: "items"},
			{Name: "Recognise", Workers: 2, Items: 200, Batches: 100, MeanBatch: 2, CapacityItemsPerSecond: 70, CapacityBasis: "cpu", CapacityUnit: "items"},
			{Name: "Assemble", Items: 200, ItemsOut: 10, Batches: 5, MeanBatch: 40, CapacityItemsPerSecond: 1000, CapacityBasis: "cpu", CapacityUnit: "parents"},
			{Name: "Sink", Items: 10},
		}}}
	return r, cm
}

func TestCapacityRowsAndMaximum(t *testing.T) {
	r, cm := ocrRun()
	mx, b, ok, err := PredictedMaximum(r.Plan, cm)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	// Detect: 5 pages/s; Recognise: 2 × 50 pieces/s ÷ 20 pieces per page, also 5 pages/s.
	if math.Abs(mx-5) > 1e-9 {
		t.Errorf("maximum %v (%s), want 5", mx, b)
	}
	cm.Costs.Points[capacity.Key{Host: "h", Stage: "Recognise", Variant: "rec-full"}] = []capacity.Point{{Batch: 1, Op: 25}, {Batch: 2, Op: 50}}
	if mx, b, _, _ = PredictedMaximum(r.Plan, cm); math.Abs(mx-4) > 1e-9 || b != "Recognise" {
		t.Errorf("maximum %v set by %s, want 4 by Recognise (2 × 40 pieces/s ÷ 20)", mx, b)
	}

	a := Analyse(r)
	if a.PredictedMaximum != mx || a.Bottleneck != "Recognise" || a.PredictedThroughput != mx {
		t.Errorf("unpaced prediction %v/%v by %s", a.PredictedThroughput, a.PredictedMaximum, a.Bottleneck)
	}
	rows := map[string]CapacityRow{}
	for _, c := range a.Capacity {
		rows[c.Stage] = c
	}
	if len(rows) != 4 {
		t.Fatalf("rows %+v: want the four profiled stages", a.Capacity)
	}
	if c := rows["Recognise"]; c.Units != 20 || math.Abs(c.Predicted-80) > 1e-9 || math.Abs(c.Ratio-70.0/80) > 1e-9 || c.Explanation != "" {
		t.Errorf("Recognise %+v: want 20 per page, 80 predicted, 88 %% within tolerance", c)
	}
	// Assemble counts pages (parents), its batch is pieces per call (40: beyond the profiled 2, so the
	// figure at 2 holds); 1000 pages/s measured vs 1000 predicted.
	if c := rows["Assemble"]; c.Units != 1 || c.MeanBatch != 40 || math.Abs(c.Ratio-1) > 1e-9 {
		t.Errorf("Assemble %+v", c)
	}
	// Crop: predicted 100/s, measured 60/s: explained, and among the findings. Its worker was on the CPU
	// 10 % of the run: starved. Detect's was 90 %: busy, and within tolerance.
	if c := rows["Crop"]; math.Abs(c.Busy-0.1) > 1e-9 || !strings.Contains(c.Explanation, "the stage was starved (its workers were on the CPU 10% of the run;") {
		t.Errorf("Crop %+v: want the starved explanation", c)
	}
	if c := rows["Detect"]; math.Abs(c.Busy-0.9) > 1e-9 || c.Explanation != "" {
		t.Errorf("Detect %+v", c)
	}
	r.Summary.Ranks[1].CPUSeconds = 3.6 // Crop busy 90 %: the same shortfall is then no starvation
	if rows, _ := compareCapacity(r, cm); !strings.Contains(rows[1].Explanation, "more CPU per item than the profile") {
		t.Errorf("busy Crop %+v", rows[1])
	}
	r.Summary.Ranks[1].CPUSeconds = 0.4
	found := false
	for _, f := range a.Findings {
		found = found || strings.HasPrefix(f, "Crop capacity: ")
	}
	if !found {
		t.Errorf("findings %v lack Crop's capacity", a.Findings)
	}
	charts, err := Charts(a)
	if err != nil {
		t.Fatal(err)
	}
	names := ""
	for _, c := range charts {
		names += c.Name + " "
	}
	if !strings.Contains(names, "capacity ") {
		t.Errorf("charts %s: no capacity chart", names)
	}
	page, err := HTML(a, charts)
	if err != nil || !strings.Contains(string(page), `id="capacity-Recognise"`) || !strings.Contains(string(page), `id="predicted-maximum">4.0 items/s`) {
		t.Errorf("page lacks the capacity table or the maximum (%v)", err)
	}
	// A paced plan keeps its own prediction (the rate), and the maximum is still shown.
	r.Plan.InputRate, r.Plan.Predicted.ThroughputItemsPerSecond = 1.5, 1.5
	if a := Analyse(r); a.PredictedThroughput != 1.5 || a.PredictedMaximum != 4 {
		t.Errorf("paced: predicted %v, maximum %v", a.PredictedThroughput, a.PredictedMaximum)
	}
}

// On one host of 2 cores the OCR plan needs, per page, 200 + 10 + 20 pieces × 20 ms (two workers sharing the
// pieces) + 1 CPU ms at batch 2: 2 cores carry 2000/611 pages/s, below the 5 its slowest stage sustains.
func TestCoresBound(t *testing.T) {
	r, cm := ocrRun()
	b, ok, err := CoresBound(r.Plan, cm, func(string) int { return 2 })
	if err != nil || !ok || math.Abs(b-2000.0/611) > 1e-9 {
		t.Errorf("bound %v %v %v, want %v", b, ok, err, 2000.0/611)
	}
	if _, ok, _ := CoresBound(r.Plan, cm, func(string) int { return 0 }); ok {
		t.Error("no cores known: want no bound")
	}
	if _, ok, _ := CoresBound(r.Plan, cm, func(string) int { return 5 }); ok {
		t.Error("a core for each of the 5 profiled workers: want no bound")
	}
	// Crop starved costs 10× its warm figure: at the old bound (3.27 pages/s) it is busy 3.3 % of the
	// time warm, so nearly all its micro-batches find it parked and it needs ~25 % of a core, not 3 %.
	cm.Costs.Points[capacity.Key{Host: "h", Stage: "Crop", Variant: "default"}] = []capacity.Point{{Batch: 1, Op: 10, Cold: 100}, {Batch: 2, Op: 20, Cold: 200}}
	cold, ok, err := CoresBound(r.Plan, cm, func(string) int { return 2 })
	if err != nil || !ok || !(cold < b*0.95) {
		t.Fatalf("with a starved Crop: bound %v %v %v, want below %v", cold, ok, err, 0.95*b)
	}
	// At the bound the workers' busy shares add up to the two cores.
	need := Busy(cold, 200, 200) + Busy(cold, 10, 100) + 2*Busy(cold*10, 20, 20) + Busy(cold, 1, 1)
	if math.Abs(need-2) > 1e-9 {
		t.Errorf("busy shares at the bound %v add up to %v cores, want 2", cold, need)
	}
}

// Busy solves ρ = rate × ((1 − s) × warm + s × cold) / 1000 with s = 1 − ρ, and saturates at 1.
func TestBusy(t *testing.T) {
	for _, tc := range []struct{ rate, warm, cold float64 }{{5, 10, 10}, {5, 10, 50}, {50, 10, 50}, {90, 10, 12}, {30, 10, 5}} {
		rho := Busy(tc.rate, tc.warm, tc.cold)
		s := 1 - rho
		if want := tc.rate * ((1-s)*tc.warm + s*tc.cold) / 1000; math.Abs(rho-want) > 1e-12 || rho <= 0 || rho >= 1 {
			t.Errorf("Busy(%v, %v, %v) = %v, the model gives %v", tc.rate, tc.warm, tc.cold, rho, want)
		}
	}
	if rho := Busy(100, 10, 50); rho != 1 {
		t.Errorf("at 1000/warm items/s: busy %v, want 1 (saturated)", rho)
	}
	if rho := Busy(500, 10, 5); rho != 1 {
		t.Errorf("beyond saturation: busy %v, want 1", rho)
	}
	if rho := Busy(0, 10, 50); rho != 0 {
		t.Errorf("no items: busy %v, want 0", rho)
	}
}

// An unpaced plan whose prediction `jellybean loop` lowered to its cores bound names the cores.
func TestMaximumSetByTheCores(t *testing.T) {
	r, _ := ocrRun()
	r.Plan.Predicted.ThroughputItemsPerSecond = 3
	a := Analyse(r)
	if a.PredictedMaximum != 3 || a.Bottleneck != CoresBottleneck || a.PredictedThroughput != 3 {
		t.Errorf("maximum %v set by %q (prediction %v), want 3 by the cores", a.PredictedMaximum, a.Bottleneck, a.PredictedThroughput)
	}
}

// A stage whose micro-batches all found its worker parked is predicted at the profile's cold figure,
// one half of them starved at the mean of the two.
func TestStarvedPrediction(t *testing.T) {
	r, cm := ocrRun()
	key := capacity.Key{Host: "h", Stage: "Crop", Variant: "default"}
	cm.Costs.Points[key] = []capacity.Point{{Batch: 1, Op: 10, Cold: 40}, {Batch: 2, Op: 20, Cold: 80}}
	for _, tc := range []struct {
		starved int64
		want    float64
	}{{0, 100}, {5, 25}, {2, 1000 / (0.6*10 + 0.4*40)}} {
		r.Summary.Stages[2].StarvedBatches = tc.starved // Crop: 5 batches
		rows, err := compareCapacity(r, cm)
		if err != nil {
			t.Fatal(err)
		}
		if c := rows[1]; c.Stage != "Crop" || math.Abs(c.Predicted-tc.want) > 1e-9 || math.Abs(c.Starved-float64(tc.starved)/5) > 1e-9 || math.Abs(c.AtPlanBatch-100) > 1e-9 {
			t.Errorf("%d of 5 starved: %+v, want %v predicted (100 at the plan's batch)", tc.starved, c, tc.want)
		}
	}
}

// Unpaced, the run is compared with the predicted maximum (a rate) by its steady throughput, from the
// first result to the last; the whole-run figure, which counts filling the pipeline, stays on the page.
func TestUnpacedComparesSteadyThroughput(t *testing.T) {
	r, _ := ocrRun() // predicted maximum 5 pages/s, 2.4 over the whole run
	for _, tc := range []struct {
		steady float64
		note   string
	}{
		{0, "End-to-end throughput 2.4 items/s is 48% of the predicted 5.0"}, // an older run: no steady figure
		{4.6, ""},
		{3.5, "Steady throughput 3.5 items/s (first to last result; 2.4 over the whole run) is 70% of the predicted maximum 5.0"},
	} {
		r.Summary.SteadyThroughputItemsPerSecond = tc.steady
		a := Analyse(r)
		if (tc.note == "") != (a.ThroughputNote == "") || !strings.Contains(a.ThroughputNote, tc.note) {
			t.Errorf("steady %v: note %q, want %q", tc.steady, a.ThroughputNote, tc.note)
		}
		charts, _ := Charts(a)
		page, err := HTML(a, charts)
		if err != nil || strings.Contains(string(page), `id="steady-throughput"`) != (tc.steady > 0) {
			t.Errorf("steady %v: the page shows it: %v (%v)", tc.steady, !(tc.steady > 0), err)
		}
	}
}
