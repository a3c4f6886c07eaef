package loop

import (
	"fmt"
	"math"
	"strings"

	"jellybean/job/report"
	"jellybean/plan"
)

// DefaultUtilisation is the share of the cores `--rate auto` plans to keep busy: the rest absorbs noise
// and the slow-down of models that share cores with other ranks (the profile runs one model at a time).
const DefaultUtilisation = 0.6

// DefaultRunnerMs is the runner's own CPU time per item over all six ranks of the workflow, besides the
// models: reading and decoding the PNG and WAV files, framing and routing tensors, joining, writing
// results.jsonl. Measured with `jellybean loop` on the 400-item test split (the report's "runner
// ms/item" column, summed over the stages: 2.1 ms; see BENCHMARKS.md "Closing the loop").
const DefaultRunnerMs = 2.0

// DemandMs is the CPU time one item costs a combination: the sum over its model nodes of the profiled
// ms per item, plus that of the nodes without a model (variant "default"), on the slowest host that can
// run each node (every worker runs single-threaded, so one millisecond of latency is one millisecond of
// one core). ok is false when a node's variant was not profiled on any host.
func DemandMs(lat Latencies, c Combo) (ms float64, ok bool) {
	variants := map[string]string{}
	for _, stages := range lat {
		for st, vs := range stages {
			if _, has := vs[defaultVariant]; has && c.Variants[st] == "" {
				variants[st] = defaultVariant
			}
		}
	}
	for st, v := range c.Variants {
		variants[st] = v
	}
	for st, v := range variants {
		worst, found := 0.0, false
		for _, stages := range lat {
			if l, has := stages[st][v]; has {
				worst, found = math.Max(worst, l), true
			}
		}
		if !found {
			return 0, false
		}
		ms += worst
	}
	return ms, true
}

// RateChoice is what `--rate auto` picked, and why.
type RateChoice struct {
	Rate     float64 // items/s into the job
	Slowest  Combo   // the most CPU-hungry combination meeting the target
	DemandMs float64 // its models' CPU ms per item
	RunnerMs float64 // the runner's CPU ms per item
	Why      string
}

// ChooseRate picks an input rate the hosts can really carry. The optimizer models each worker as an
// independent machine, but the ranks of one host share its cores: at rate R the job keeps
// R × (DemandMs + runnerMs) / 1000 cores busy. The rate is chosen so that, whichever combination meeting
// the accuracy threshold the solver picks, that stays below utilisation × cores (rounded down to 0.1
// items/s).
func ChooseRate(lat Latencies, combos []Combo, threshold float64, cores int, utilisation, runnerMs float64) (RateChoice, error) {
	if cores < 1 || !(utilisation > 0) || utilisation > 1 || runnerMs < 0 {
		return RateChoice{}, fmt.Errorf("rate auto: cores %d, utilisation %v, runner %v ms: need cores ≥ 1, 0 < utilisation ≤ 1, runner ms ≥ 0", cores, utilisation, runnerMs)
	}
	rc := RateChoice{RunnerMs: runnerMs}
	best := -1.0
	for _, c := range combos {
		best = math.Max(best, c.Accuracy)
		if c.Accuracy < threshold {
			continue
		}
		d, ok := DemandMs(lat, c)
		if ok && d > rc.DemandMs {
			rc.DemandMs, rc.Slowest = d, c
		}
	}
	if rc.DemandMs == 0 {
		if best < threshold {
			return RateChoice{}, fmt.Errorf("rate auto: no variant combination reaches accuracy %.2f%% on this split (best %.2f%%)", threshold, best)
		}
		return RateChoice{}, fmt.Errorf("rate auto: no combination reaching accuracy %.2f%% has every model profiled", threshold)
	}
	budget := utilisation * float64(cores) * 1000 // core-ms per second
	rc.Rate = math.Floor(budget/(rc.DemandMs+runnerMs)*10) / 10
	if rc.Rate <= 0 {
		return RateChoice{}, fmt.Errorf("rate auto: %s costs %.1f ms of CPU per item: %d core(s) at %.0f%% carry less than 0.1 items/s",
			describe(rc.Slowest), rc.DemandMs, cores, 100*utilisation)
	}
	rc.Why = fmt.Sprintf("%.1f items/s keeps %d core(s) at most %.0f%% busy: the most CPU-hungry combination "+
		"reaching %.2f%% accuracy (%s, %.2f ms of model CPU per item, plus %.2f ms of the runner's) would use %.2f cores",
		rc.Rate, cores, 100*utilisation, threshold, describe(rc.Slowest), rc.DemandMs, runnerMs, rc.Rate*(rc.DemandMs+runnerMs)/1000)
	return rc, nil
}

// defaultVariant is the variant name the profile gives nodes without a model.
const defaultVariant = "default"

// describe names a combination's variants, node by node in name order: "A=x + B=y".
func describe(c Combo) string {
	var parts []string
	for _, st := range sortedKeys(c.Variants) {
		parts = append(parts, st+"="+c.Variants[st])
	}
	return strings.Join(parts, " + ")
}

// Unpace turns a paced plan into one that runs without pacing: input_rate 0 (the sources read as fast as
// they can) and, as its prediction, the maximum mx (source items/s) for the job and mx times each
// stage's items per source item for every stage.
func Unpace(pl *plan.Plan, cm *report.CapacityModel, mx float64) error {
	units, err := report.PlanUnits(pl, cm.Ratios)
	if err != nil {
		return err
	}
	pl.InputRate = 0
	pl.Predicted.ThroughputItemsPerSecond = mx
	for name, sp := range pl.Predicted.Stages {
		if u, ok := units[name]; ok {
			sp.ThroughputItemsPerSecond = mx * u
			pl.Predicted.Stages[name] = sp
		}
	}
	return nil
}
