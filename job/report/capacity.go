package report

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"jellybean/job/profile/capacity"
	"jellybean/plan"
)

// StarvedBusy is the share of the run below which a stage's workers count as starved: they mostly
// waited for items, and their CPU per item includes waking up for every micro-batch.
const StarvedBusy = 0.5

// CapacityTolerance is how far a stage's measured capacity may be from the profile's prediction before
// the page explains it.
const CapacityTolerance = 0.15

// CapacityRow compares what one stage's workers sustain, predicted from the profile and measured in the
// run, in the stage's own items per second (sub-items after a fan-out, parents after a fan-in).
type CapacityRow struct {
	Stage, Variant string
	Workers        int
	Units          float64 // items the stage handles per source item (ratios.csv)
	MeanBatch      float64 // items per micro-batch in the run
	Starved        float64 // share of the run's micro-batches that waited for their first items
	PlanBatch      int     // the plan's micro-batch size
	AtPlanBatch    float64 // predicted capacity of its workers at the plan's batch size (the optimizer's figure)
	Predicted      float64 // predicted capacity at the run's mean batch size and starved share
	Measured       float64 // items / busy seconds, summed over workers (summary.json)
	Basis          string  // the run's busy time: "cpu" (process CPU time) or "wall" (op + runner)
	Busy           float64 // share of its workers' time in the run spent on the CPU (cpu basis only; 0: unknown)
	Ratio          float64 // Measured / Predicted
	Explanation    string
}

// CapacityModel is what the page needs from a profile to predict capacities: cost points per node
// variant and host, and the rate ratios between nodes.
type CapacityModel struct {
	Costs  *capacity.Model
	Ratios []capacity.Ratio
}

// LoadCapacityModel reads latency.csv and ratios.csv from a profile directory; nil, nil when the folder
// has no latency.csv.
func LoadCapacityModel(dir string) (*CapacityModel, error) {
	m, err := capacity.Read(filepath.Join(dir, "latency.csv"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rs, err := capacity.ReadRatios(filepath.Join(dir, "ratios.csv"))
	if err != nil {
		return nil, err
	}
	return &CapacityModel{Costs: m, Ratios: rs}, nil
}

// PlanUnits is the items each stage of the plan handles per source item, with the ratios of the trace
// whose variants are closest to the plan's (capacity.ChooseTrace). The graph is the profile's: ratios.csv has a row for every edge between the nodes it
// traced (sources included, the sink left out), so the plan need not be bound to its workflow; a stage
// the profile has no edge into counts as a source (1 item per item), as does every stage of a profile
// without ratios.csv.
func PlanUnits(p *plan.Plan, ratios []capacity.Ratio) (map[string]float64, error) {
	inputs := map[string][]string{}
	for _, st := range p.Stages {
		inputs[st.Name] = nil
	}
	seen := map[[2]string]bool{}
	for _, r := range ratios {
		if _, ok := inputs[r.From]; !ok {
			inputs[r.From] = nil
		}
		if k := [2]string{r.From, r.To}; !seen[k] {
			seen[k] = true
			inputs[r.To] = append(inputs[r.To], r.From)
		}
	}
	chosen := map[string]string{} // the plan's model variants (Variants needs a bound plan)
	for _, st := range p.Stages {
		if st.Variant != "" {
			chosen[st.Name] = st.Variant
		}
	}
	trace := capacity.ChooseTrace(ratios, chosen)
	return capacity.Units(inputs, func(from, to string) float64 { return capacity.TraceRatio(trace, from, to) })
}

// StageCapacity is the predicted capacity of the stage's workers at batch size b: the sum over its
// workers of what one worker of that host sustains when never starved. ok is false when some worker's
// host (or the variant) is not in the profile.
func StageCapacity(m *capacity.Model, st *plan.Stage, b float64) (float64, bool) {
	return StarvedCapacity(m, st, b, 0)
}

// StarvedCapacity is the capacity of the stage's workers at batch size b in a run in which a share
// starved of the micro-batches found their worker parked (capacity.Model.StarvedMsPerItem): what their
// CPU time buys in that run. Starved 0 is StageCapacity.
func StarvedCapacity(m *capacity.Model, st *plan.Stage, b, starved float64) (float64, bool) {
	v := st.Variant
	if v == "" {
		v = "default"
	}
	sum := 0.0
	for _, w := range st.Workers {
		ms, ok := m.StarvedMsPerItem(w.Host, st.Name, v, b, starved)
		if !ok || !(ms > 0) {
			return 0, false
		}
		sum += 1000 / ms
	}
	return sum, len(st.Workers) > 0
}

// PredictedMaximum is the most items per second (of the sources) the plan carries when the sources do not
// pace: what its slowest stage sustains at the plan's batch size, each stage's capacity divided by the
// items it handles per source item. bottleneck names that stage; ok is false when no stage of the plan
// was profiled.
func PredictedMaximum(p *plan.Plan, cm *CapacityModel) (max float64, bottleneck string, ok bool, err error) {
	units, err := PlanUnits(p, cm.Ratios)
	if err != nil {
		return 0, "", false, err
	}
	max = math.Inf(1)
	for i := range p.Stages {
		st := &p.Stages[i]
		c, has := StageCapacity(cm.Costs, st, float64(p.BatchSizeOf(i)))
		if !has || !(units[st.Name] > 0) {
			continue
		}
		if t := c / units[st.Name]; t < max {
			max, bottleneck, ok = t, st.Name, true
		}
	}
	if !ok {
		return 0, "", false, nil
	}
	return max, bottleneck, true, nil
}

// compareCapacity builds the capacity rows of the stages the profile knows. Pure.
func compareCapacity(r *Run, cm *CapacityModel) ([]CapacityRow, error) {
	units, err := PlanUnits(r.Plan, cm.Ratios)
	if err != nil {
		return nil, err
	}
	byName := map[string]StageSummary{}
	for _, s := range r.Summary.Stages {
		byName[s.Name] = s
	}
	var rows []CapacityRow
	for i := range r.Plan.Stages {
		st := &r.Plan.Stages[i]
		ss, ran := byName[st.Name]
		bs := r.Plan.BatchSizeOf(i)
		at, ok := StageCapacity(cm.Costs, st, float64(bs))
		if !ok || !ran {
			continue
		}
		row := CapacityRow{Stage: st.Name, Variant: st.Variant, Workers: len(st.Workers), Units: units[st.Name], PlanBatch: bs,
			AtPlanBatch: at, Measured: ss.CapacityItemsPerSecond, Basis: ss.CapacityBasis, MeanBatch: ss.MeanBatch}
		if row.MeanBatch <= 0 {
			row.MeanBatch = float64(bs)
		}
		if ss.Batches > 0 {
			row.Starved = float64(ss.StarvedBatches) / float64(ss.Batches)
		}
		row.Predicted, _ = StarvedCapacity(cm.Costs, st, row.MeanBatch, row.Starved)
		if row.Basis == "cpu" {
			var cpu, wall float64
			for _, rk := range r.Summary.Ranks {
				if rk.Stage == st.Name && rk.EndUnixNs > rk.StartUnixNs {
					cpu, wall = cpu+rk.CPUSeconds, wall+float64(rk.EndUnixNs-rk.StartUnixNs)/1e9
				}
			}
			if wall > 0 {
				row.Busy = cpu / wall
			}
		}
		if row.Predicted > 0 && row.Measured > 0 {
			row.Ratio = row.Measured / row.Predicted
			if math.Abs(row.Ratio-1) > CapacityTolerance {
				row.Explanation = explainCapacity(row, cm.Costs.CPU)
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func explainCapacity(row CapacityRow, cpuProfile bool) string {
	what := fmt.Sprintf("measured capacity %.1f items/s is %.0f%% of the %.1f predicted at the run's mean batch of %.1f items", row.Measured, 100*row.Ratio, row.Predicted, row.MeanBatch)
	switch {
	case row.Basis != "cpu":
		return what + ": the run's ranks shared a process, so busy time is wall time of op and runner, which other work on the cores inflates; the profile's figure is CPU time."
	case !cpuProfile:
		return what + ": the profile predates CPU-time figures (wall clock, no runner cost); profile again."
	case row.Ratio < 1 && row.Busy > 0 && row.Busy < StarvedBusy:
		return what + fmt.Sprintf(": the stage was starved (its workers were on the CPU %.0f%% of the run; %.0f%% of its micro-batches waited for their items). The prediction counts the profile's cost of waking a parked worker with cold caches for those, but not the CPU a process spends while idle (runtime timers, probes of silent peers), nor longer gaps and heavier neighbours than the profile's; the measured figure is its cost when starved, not what it sustains when saturated.", 100*row.Busy, 100*row.Starved)
	case row.Ratio < 1:
		return what + ": the worker spent more CPU per item than the profile measured: runner work the profile does not reproduce (per-message bookkeeping, garbage collection, timing files), cores shared with other busy ranks (caches, memory bandwidth), or a profile taken on a faster or less loaded core."
	default:
		return what + ": the worker spent less CPU per item than the profile measured (the profile's single-item timings are noisy for ops this small, or the run's batches were fuller than their mean suggests)."
	}
}

// CoresBottleneck is what a plan's predicted maximum names when the cores its ranks share bound it
// before any one stage does.
const CoresBottleneck = "the shared cores"

// CoresBound is the most source items per second the plan's profiled stages can carry when the ranks of
// each host share its cores: a host with cores(h) cores gives cores(h) CPU seconds per second, and at
// source rate R each of its workers is on the CPU a share Busy of the time (below) for the items its
// stage hands it, R × units(v) / workers(v) per second. The bound is the R at which the host's workers
// together need all its cores, when that comes before any of them saturates (ok is false when no host's
// cores run out first). The optimizer's model gives every worker a machine of its own; on a host
// with more busy ranks than cores this bound is the lower one. Sources and the sink are not profiled, so
// their CPU is left out (the bound is optimistic by that much: 1–2 % in the embedded workloads' runs).
//
// A stage with slack is starved for part of its micro-batches, and a starved micro-batch costs the
// profile's cold figure, not the warm one (capacity.Model.StarvedMsPerItem): counting every stage at its
// warm figure made the bound ~10 % too high on a 2-core OCR run whose crop and regroup steps mostly
// waited.
func CoresBound(p *plan.Plan, cm *CapacityModel, cores func(host string) int) (float64, bool, error) {
	units, err := PlanUnits(p, cm.Ratios)
	if err != nil {
		return 0, false, err
	}
	type load struct{ share, warm, cold float64 } // items per source item, ms per item warm and starved
	byHost := map[string][]load{}
	for i := range p.Stages {
		st := &p.Stages[i]
		v := st.Variant
		if v == "" {
			v = "default"
		}
		b := float64(p.BatchSizeOf(i))
		for _, w := range st.Workers {
			warm, ok := cm.Costs.StarvedMsPerItem(w.Host, st.Name, v, b, 0)
			cold, _ := cm.Costs.StarvedMsPerItem(w.Host, st.Name, v, b, 1)
			if ok && warm > 0 && units[st.Name] > 0 {
				byHost[w.Host] = append(byHost[w.Host], load{units[st.Name] / float64(len(st.Workers)), warm, cold})
			}
		}
	}
	bound, ok := math.Inf(1), false
	for h, loads := range byHost {
		c := float64(cores(h))
		if c <= 0 || float64(len(loads)) <= c { // every worker can have a core of its own
			continue
		}
		need := func(rate float64) float64 {
			sum := 0.0
			for _, l := range loads {
				sum += Busy(rate*l.share, l.warm, l.cold)
			}
			return sum
		}
		// need grows with the rate. Beyond the rate at which a worker saturates, its stage caps the plan
		// anyway (PredictedMaximum): the cores bind only if they run out before that; then bisect.
		hi := math.Inf(1)
		for _, l := range loads {
			hi = math.Min(hi, 1000/(l.share*l.warm))
		}
		if need(hi) < c {
			continue
		}
		lo := 0.0
		for range 200 {
			mid := (lo + hi) / 2
			if need(mid) < c {
				lo = mid
			} else {
				hi = mid
			}
		}
		bound, ok = math.Min(bound, hi), true
	}
	if !ok {
		return 0, false, nil
	}
	return bound, true, nil
}

// Busy is the share of its time a worker is on the CPU when rate items per second reach it, each
// costing warm ms when the worker was busy and cold ms when its micro-batch found it parked (starved).
// Which share of micro-batches starves is taken from a single queue with random arrivals (M/M/1): a
// worker finishing a micro-batch finds its queue empty with probability 1 − ρ, ρ being its busy share.
// So ρ = rate × ((1 − s) × warm + s × cold) / 1000 with s = 1 − ρ, whose solution is below; at rate ≥
// 1000 / warm the worker is saturated (ρ = 1, never starved). Measured on a 2-core VM, the starved share
// of the runs' stages followed 1 − ρ within ~10 points except where items arrive in bursts (a recogniser
// fed ~115 line pieces per page at once: busy 85 %, starved 0 %), which this overstates, erring towards
// more CPU and a lower bound.
func Busy(rate, warm, cold float64) float64 {
	if !(rate > 0) {
		return 0
	}
	if rate*warm >= 1000 {
		return 1
	}
	return math.Min(1, rate*cold/(1000+rate*(cold-warm)))
}
