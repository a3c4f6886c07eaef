package report

import (
	"fmt"
	"maps"
	"math"
	"slices"
)

// Tolerances beyond which a difference between prediction and measurement is explained in words.
const (
	ThroughputTolerance = 0.15 // relative
	AccuracyTolerance   = 1.0  // percentage points
)

// StageRow compares one stage's predicted and measured throughput.
type StageRow struct {
	Name, Op, Variant string
	Workers           int
	Items             int64
	Predicted         float64 // items/s the plan expects this stage to carry (0: no prediction)
	Measured          float64 // items / the stage's active span (first start to last end of its ranks)
	Capacity          float64 // items/s its workers could sustain if never starved
	PredictedCapacity float64 // items/s the optimizer expects its workers to sustain (0: not in the plan)
	OwnPrediction     bool    // Predicted comes from the plan's [predicted.stage.<Name>], not the job's figure
	ModelMs, OtherMs  float64 // per item
	Ratio             float64 // Measured/Predicted (0 without prediction)
	Explanation       string  // set when |Ratio-1| > tolerance, or no prediction
}

// LinkRow is the traffic of one rank-to-rank link.
type LinkRow struct {
	Label               string
	BytesRaw, BytesWire int64
	Messages            int64
	Compression         float64 // raw / wire
}

// EdgeRow compares the bytes per item measured on a stage-to-stage edge with the profiled message size
// (the optimizer's communication model).
type EdgeRow struct {
	From, To, Variant           string
	Items                       int64
	RawKB, WireKB               float64 // measured per item (framing included)
	ProfileRawKB, ProfileZstdKB float64
	Ratio                       float64 // measured raw / profiled raw
	Explanation                 string
}

// EdgeTolerance is how far measured bytes per item may be from the profile before it is explained.
const EdgeTolerance = 0.10

// Analysis is the pure comparison the page shows.
type Analysis struct {
	Job                 string
	Items, Completed    int
	WallSeconds         float64
	Throughput          float64
	SteadyThroughput    float64 // from the first result to the last: what an unpaced run compares
	PredictedThroughput float64
	ThroughputNote      string
	Stages              []StageRow
	Links               []LinkRow
	Edges               []EdgeRow // only when a profile was loaded
	BytesRaw, BytesWire int64
	Latency             []float64 // ms, sorted
	LatencyPercentiles  [][2]float64
	PredictedAccuracy   float64 // percent; 0 when the plan has none
	MeasuredAccuracy    float64 // percent; -1 when eval.json is absent
	AccuracyMetric      string  // the evaluator's name for it
	OtherMetrics        []Metric
	AccuracyNote        string
	PredictedCost       [3]float64 // compute, communication, total
	// Capacity compares each profiled stage's predicted and measured capacity (only with a profile);
	// PredictedMaximum is the plan's throughput without pacing, set by its slowest stage or the cores
	// its ranks share (Bottleneck).
	Capacity         []CapacityRow
	PredictedMaximum float64
	Bottleneck       string
	Findings         []string // every explanation, in page order
}

// Metric is one named figure of eval.json besides the accuracy.
type Metric struct {
	Name  string
	Value float64
}

// Analyse compares the run with its plan's prediction. Pure.
func Analyse(r *Run) *Analysis {
	s, p := r.Summary, r.Plan
	a := &Analysis{Job: s.Job, Items: s.Items, Completed: s.Completed, WallSeconds: s.WallSeconds,
		Throughput: s.ThroughputItemsPerSecond, SteadyThroughput: s.SteadyThroughputItemsPerSecond, PredictedThroughput: p.Predicted.ThroughputItemsPerSecond,
		BytesRaw: s.BytesRaw, BytesWire: s.BytesWire, Latency: r.Latency, MeasuredAccuracy: -1,
		PredictedCost: [3]float64{p.Predicted.ComputeCost, p.Predicted.CommunicationCost, p.Predicted.TotalCost}}
	if a.Job == "" {
		a.Job = p.Job
	}
	if r.Capacity != nil {
		var err error
		if a.Capacity, err = compareCapacity(r, r.Capacity); err != nil {
			a.Findings = append(a.Findings, "Capacity model: "+err.Error())
		}
		if mx, b, ok, err := PredictedMaximum(p, r.Capacity); err == nil && ok {
			a.PredictedMaximum, a.Bottleneck = mx, b
			// `jellybean loop --unpaced` writes the lower of that and its cores bound (CoresBound, which
			// needs the hosts' core counts, not in the run's files) as the plan's prediction.
			if pr := p.Predicted.ThroughputItemsPerSecond; p.InputRate == 0 && pr > 0 && pr < mx*(1-1e-9) {
				a.PredictedMaximum, a.Bottleneck = pr, CoresBottleneck
			}
		}
	}
	// In rate mode every stage must carry the sources' input rate; the optimizer's figure, when present,
	// is the same rate it planned for. Without pacing (input_rate = 0) and with a profile, the plan's
	// slowest stage sets the prediction.
	pred := a.PredictedThroughput
	if pred == 0 && p.InputRate == 0 && a.PredictedMaximum > 0 {
		pred = a.PredictedMaximum
		a.PredictedThroughput = pred
	}
	if pred == 0 && p.InputRate > 0 {
		pred = p.InputRate * float64(sourceWorkers(r))
		a.PredictedThroughput = pred
	}
	switch {
	case pred == 0:
		a.ThroughputNote = "The plan carries no predicted throughput (batch mode, input_rate = 0, and no [predicted] table), so measured figures are shown without comparison; run a plan written by `jellybean optimize` to compare."
	case p.InputRate == 0 && a.SteadyThroughput > 0 && math.Abs(a.SteadyThroughput/pred-1) > ThroughputTolerance:
		// Unpaced, the prediction is a rate (the slowest stage's): compared with the pipeline full.
		a.ThroughputNote = fmt.Sprintf("Steady throughput %.1f items/s (first to last result; %.1f over the whole run) is %.0f%% of the predicted maximum %.1f items/s.", a.SteadyThroughput, a.Throughput, 100*a.SteadyThroughput/pred, pred)
	case (p.InputRate > 0 || a.SteadyThroughput == 0) && math.Abs(a.Throughput/pred-1) > ThroughputTolerance:
		a.ThroughputNote = fmt.Sprintf("End-to-end throughput %.1f items/s is %.0f%% of the predicted %.1f items/s.", a.Throughput, 100*a.Throughput/pred, pred)
	}
	if a.ThroughputNote != "" {
		a.Findings = append(a.Findings, a.ThroughputNote)
	}

	rankStage := map[int]string{}
	span := map[string][2]int64{}
	for _, rk := range s.Ranks {
		rankStage[rk.Rank] = rk.Stage
		sp := span[rk.Stage]
		if rk.StartUnixNs > 0 && (sp[0] == 0 || rk.StartUnixNs < sp[0]) {
			sp[0] = rk.StartUnixNs
		}
		if rk.EndUnixNs > sp[1] {
			sp[1] = rk.EndUnixNs
		}
		span[rk.Stage] = sp
	}
	bottleneck := ""
	minCap := math.Inf(1)
	for _, st := range s.Stages {
		row := StageRow{Name: st.Name, Op: st.Op, Variant: st.Variant, Workers: st.Workers, Items: st.Items,
			Predicted: pred, Capacity: st.CapacityItemsPerSecond, ModelMs: st.ModelMsPerItem, OtherMs: st.OverheadMsPerItem}
		// A stage's own prediction (joins and ratios give stages different rates) beats the job's figure.
		if sp, ok := p.Predicted.Stages[st.Name]; ok && sp.ThroughputItemsPerSecond > 0 {
			row.Predicted, row.PredictedCapacity, row.OwnPrediction = sp.ThroughputItemsPerSecond, sp.CapacityItemsPerSecond, true
		}
		if row.Capacity == 0 { // older summaries: rebuild it from the ranks
			for _, rk := range s.Ranks {
				if rk.Stage == st.Name && rk.ComputeSeconds > 0 {
					row.Capacity += float64(rk.Items) / rk.ComputeSeconds
				}
			}
		}
		if sp := span[st.Name]; sp[1] > sp[0] && sp[0] > 0 {
			n := st.Items
			if st.CapacityUnit == "parents" { // a fan-in stage is predicted in the parents it regroups
				n = st.ItemsOut
			}
			row.Measured = float64(n) / (float64(sp[1]-sp[0]) / 1e9)
		}
		if row.Capacity > 0 && row.Capacity < minCap {
			minCap, bottleneck = row.Capacity, st.Name
		}
		a.Stages = append(a.Stages, row)
	}
	for i := range a.Stages {
		row := &a.Stages[i]
		if row.Predicted > 0 && row.Measured > 0 {
			row.Ratio = row.Measured / row.Predicted
			row.Explanation = explainStage(*row, bottleneck, minCap, p.InputRate)
			if row.Explanation != "" {
				a.Findings = append(a.Findings, row.Name+": "+row.Explanation)
			}
		}
	}

	for _, c := range a.Capacity {
		if c.Explanation != "" {
			a.Findings = append(a.Findings, c.Stage+" capacity: "+c.Explanation)
		}
	}

	for _, l := range s.Links {
		lr := LinkRow{Label: fmt.Sprintf("%d %s → %d %s", l.Src, rankStage[l.Src], l.Dst, rankStage[l.Dst]),
			BytesRaw: l.BytesRaw, BytesWire: l.BytesWire, Messages: l.Messages}
		if l.BytesWire > 0 {
			lr.Compression = float64(l.BytesRaw) / float64(l.BytesWire)
		}
		a.Links = append(a.Links, lr)
	}

	if r.Messages != nil {
		a.Edges = compareEdges(r, rankStage)
		for _, e := range a.Edges {
			if e.Explanation != "" {
				a.Findings = append(a.Findings, fmt.Sprintf("Edge %s → %s: %s", e.From, e.To, e.Explanation))
			}
		}
	}

	for _, q := range []float64{50, 75, 90, 99} {
		if v, ok := s.LatencyMs[fmt.Sprintf("p%g", q)]; ok {
			a.LatencyPercentiles = append(a.LatencyPercentiles, [2]float64{q, v})
		} else if len(r.Latency) > 0 {
			a.LatencyPercentiles = append(a.LatencyPercentiles, [2]float64{q, Percentile(r.Latency, q)})
		}
	}

	a.PredictedAccuracy = p.Predicted.Accuracy
	if a.PredictedAccuracy > 0 && a.PredictedAccuracy <= 1 { // the optimizer's profiles hold fractions
		a.PredictedAccuracy *= 100
	}
	if r.Eval != nil {
		a.MeasuredAccuracy, a.AccuracyMetric = r.Eval.Accuracy, r.Eval.AccuracyMetric
		for _, name := range slices.Sorted(maps.Keys(r.Eval.Metrics)) {
			if name != r.Eval.AccuracyMetric {
				a.OtherMetrics = append(a.OtherMetrics, Metric{name, r.Eval.Metrics[name]})
			}
		}
	}
	a.AccuracyNote = explainAccuracy(a.PredictedAccuracy, a.MeasuredAccuracy, r.Eval, s.Completed)
	if a.AccuracyNote != "" {
		a.Findings = append(a.Findings, "Accuracy: "+a.AccuracyNote)
	}
	return a
}

func sourceWorkers(r *Run) int {
	n := 0
	for _, st := range r.Plan.Stages {
		if len(st.Inputs) == 0 {
			n = max(n, len(st.Workers))
		}
	}
	return max(n, 1)
}

// explainStage says why a stage's measured throughput is off its prediction by more than the tolerance.
func explainStage(row StageRow, bottleneck string, minCap, inputRate float64) string {
	if math.Abs(row.Ratio-1) <= ThroughputTolerance {
		return ""
	}
	if row.Ratio > 1 {
		if inputRate == 0 {
			return fmt.Sprintf("measured %.1f items/s is %.0f%% above the predicted %.1f: in batch mode (input_rate = 0) the sources read as fast as they can, so stages run above the planned rate.", row.Measured, 100*(row.Ratio-1), row.Predicted)
		}
		return fmt.Sprintf("measured %.1f items/s is %.0f%% above the predicted %.1f: items arrived in bursts (queued upstream), so the stage's active span was shorter than the run.", row.Measured, 100*(row.Ratio-1), row.Predicted)
	}
	if row.Capacity > 0 && row.Capacity < row.Predicted*(1-ThroughputTolerance) {
		return fmt.Sprintf("measured %.1f items/s is %.0f%% below the predicted %.1f because the stage's %d worker(s) can sustain only %.1f items/s here (%.2f ms/item in the model, %.2f ms/item in the runner): the latency profile the optimizer used is faster than this host.", row.Measured, 100*(1-row.Ratio), row.Predicted, row.Workers, row.Capacity, row.ModelMs, row.OtherMs)
	}
	if bottleneck != "" && bottleneck != row.Name {
		return fmt.Sprintf("measured %.1f items/s is %.0f%% below the predicted %.1f although its workers could sustain %.1f items/s: it was starved by %s, the slowest stage (%.1f items/s).", row.Measured, 100*(1-row.Ratio), row.Predicted, row.Capacity, bottleneck, minCap)
	}
	return fmt.Sprintf("measured %.1f items/s is %.0f%% below the predicted %.1f although its workers could sustain %.1f items/s: time went to waiting on the network or on joins rather than computing.", row.Measured, 100*(1-row.Ratio), row.Predicted, row.Capacity)
}

func explainAccuracy(pred, meas float64, ev *Eval, completed int) string {
	switch {
	case ev == nil:
		return "no eval.json in the run directory: run `jellybean eval --run DIR` to measure accuracy."
	case pred == 0:
		return fmt.Sprintf("measured accuracy (%s) %.2f%%; the plan carries no predicted accuracy to compare with.", ev.AccuracyMetric, meas)
	case math.Abs(pred-meas) <= AccuracyTolerance:
		return ""
	case ev.Items < completed || ev.Items == 0:
		return fmt.Sprintf("measured %.2f%% vs predicted %.2f%%: only %d of %d completed items were evaluated.", meas, pred, ev.Items, completed)
	default:
		return fmt.Sprintf("measured %.2f%% vs predicted %.2f%% (%.2f points apart): the accuracy profile was measured on a different data split or with different model variants than this run; profile the same split with `jellybean eval --profile` to compare like with like.", meas, pred, meas-pred)
	}
}

// Percentile of sorted values (nearest rank).
func Percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// compareEdges sums the links between the ranks of each pair of stages and divides by the items the
// receiving stage handled; edges the profile does not know (acknowledgements, control) are left out.
func compareEdges(r *Run, rankStage map[int]string) []EdgeRow {
	variant := map[string]string{}
	items := map[string]int64{}
	for _, st := range r.Plan.Stages {
		variant[st.Name] = st.Variant
	}
	for _, st := range r.Summary.Stages {
		items[st.Name] = st.Items
	}
	type key struct{ from, to string }
	raw, wire := map[key]int64{}, map[key]int64{}
	var order []key
	for _, l := range r.Summary.Links {
		k := key{rankStage[l.Src], rankStage[l.Dst]}
		if _, seen := raw[k]; !seen {
			order = append(order, k)
		}
		raw[k] += l.BytesRaw
		wire[k] += l.BytesWire
	}
	var rows []EdgeRow
	for _, k := range order {
		v := variant[k.from]
		if v == "" {
			v = "default"
		}
		pm, ok := r.Messages[[3]string{k.from, k.to, v}]
		n := items[k.to]
		if !ok || n == 0 || pm.RawKB == 0 {
			continue
		}
		e := EdgeRow{From: k.from, To: k.to, Variant: v, Items: n, RawKB: float64(raw[k]) / float64(n) / 1024,
			WireKB: float64(wire[k]) / float64(n) / 1024, ProfileRawKB: pm.RawKB, ProfileZstdKB: pm.ZstdKB}
		e.Ratio = e.RawKB / e.ProfileRawKB
		if math.Abs(e.Ratio-1) > EdgeTolerance {
			why := "the profiled items differ in size from this run's (e.g. longer utterances), or the profile was taken for another variant"
			if e.Ratio > 1 && (e.RawKB-e.ProfileRawKB)*1024 < 64 {
				why = "the runner's per-message framing (names, shapes) is large next to such a small tensor"
			}
			e.Explanation = fmt.Sprintf("%.2f KB per item measured vs %.2f KB profiled (%.0f%%): %s.", e.RawKB, e.ProfileRawKB, 100*e.Ratio, why)
		}
		rows = append(rows, e)
	}
	return rows
}
