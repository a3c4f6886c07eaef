// Package capacity is the capacity model shared by `jellybean loop` (what it tells the optimizer) and
// the report (what it compares with the run): how many items per second one worker sustains, from a
// `jellybean profile`, and how many items each node handles per item of the sources.
//
// A worker's capacity at micro-batch size b is 1000 / c(b) items/s, where c(b) is the milliseconds one
// item costs it: the node's op (steps, model, post steps) plus the runner's own work on the batch
// (receiving and decoding the input messages, handing items between goroutines, packing and sending the
// output), both per batch, divided by b. The profile measures both as CPU time at a few batch sizes
// (latency.csv: cpu_ms_per_item, runner_ms_per_item); between them the cost per batch is interpolated
// linearly (a fixed cost per call plus a cost per item), beyond them the nearest size's cost per item is
// kept. CPU time rather than wall time, because the cores of a host are shared by the ranks on it and
// by whatever else runs there: CPU time is what the work costs, and the run's measured capacity
// (summary.json) is likewise items per CPU second of each worker's process. Profiles without the CPU
// columns (older ones) fall back to the wall-clock median and no runner cost.
//
// A starved worker, one whose micro-batches find nothing queued, pays more per item: its threads park
// between batches and every batch wakes them, with caches other ranks evicted meanwhile. The profile
// measures that too (cold_ms_per_item: op and runner together after a pause), and StarvedMsPerItem blends
// the two by the share of a run's micro-batches that waited: how the report predicts a starved stage.
// The optimizer's capacity stays the warm figure, what a worker sustains when never starved.
//
// A node's rate is not always the sources' rate: a fan-out node's consumer receives several sub-items
// per item, a fan-in node regroups them into parents. The profile's trace counts them (ratios.csv:
// items a node receives per item its input node receives), and Units turns those ratios into items per
// source item, so that a prediction in source items and a measurement in each stage's own items compare.
package capacity

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
)

// Point is the cost of one micro-batch of Batch items on one worker type: Op and Runner in ms per batch
// (median over the ranks that measured it), and Cold, the same micro-batch's op and runner together when
// it reaches a worker whose threads had parked (a starved worker).
type Point struct {
	Batch      int
	Op, Runner float64
	Cold       float64 // op and runner of a starved worker (latency.csv's cold_ms_per_item); 0: not measured
}

// Key names a node variant on a worker type (the hostfile's host name).
type Key struct{ Host, Stage, Variant string }

// Model holds the cost points of every profiled node variant per host.
type Model struct {
	Points map[Key][]Point // by batch size, ascending
	CPU    bool            // the op figures are CPU time (false: wall clock, from an older profile)
}

// Read parses a `jellybean profile` latency.csv.
func Read(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(path, f)
}

// Parse reads latency.csv from r; name is used in errors.
func Parse(name string, r io.Reader) (*Model, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("%s: no latency rows", name)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, want := range []string{"stage", "worker", "variant", "batch", "median_ms_per_item"} {
		if _, ok := col[want]; !ok {
			return nil, fmt.Errorf("%s:1: no column %q in the header", name, want)
		}
	}
	_, hasCPU := col["cpu_ms_per_item"]
	_, hasRunner := col["runner_ms_per_item"]
	_, hasCold := col["cold_ms_per_item"] // empty where the profile could not measure it
	num := func(row []string, line int, c string, positive bool) (float64, error) {
		v, err := strconv.ParseFloat(row[col[c]], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || (positive && v == 0) {
			return 0, fmt.Errorf("%s:%d: %s %q: want a number %s", name, line, c, row[col[c]], map[bool]string{true: "> 0", false: ">= 0"}[positive])
		}
		return v, nil
	}
	type acc struct{ op, runner, cold []float64 }
	byKey := map[Key]map[int]*acc{}
	for i, row := range rows[1:] {
		line := i + 2
		b, err := strconv.Atoi(row[col["batch"]])
		if err != nil || b < 1 {
			return nil, fmt.Errorf("%s:%d: batch %q: want a positive integer", name, line, row[col["batch"]])
		}
		opCol := "median_ms_per_item"
		if hasCPU {
			opCol = "cpu_ms_per_item"
		}
		// CPU time can read 0 for an op far below the clock's resolution; the wall figure must not.
		op, err := num(row, line, opCol, !hasCPU)
		if err != nil {
			return nil, err
		}
		runner := 0.0
		if hasRunner {
			if runner, err = num(row, line, "runner_ms_per_item", false); err != nil {
				return nil, err
			}
		}
		cold := 0.0
		if hasCold && row[col["cold_ms_per_item"]] != "" {
			if cold, err = num(row, line, "cold_ms_per_item", false); err != nil {
				return nil, err
			}
		}
		k := Key{row[col["worker"]], row[col["stage"]], row[col["variant"]]}
		if byKey[k] == nil {
			byKey[k] = map[int]*acc{}
		}
		a := byKey[k][b]
		if a == nil {
			a = &acc{}
			byKey[k][b] = a
		}
		a.op, a.runner, a.cold = append(a.op, op*float64(b)), append(a.runner, runner*float64(b)), append(a.cold, cold*float64(b))
	}
	m := &Model{Points: map[Key][]Point{}, CPU: hasCPU}
	for k, bs := range byKey {
		for b, a := range bs {
			m.Points[k] = append(m.Points[k], Point{Batch: b, Op: median(a.op), Runner: median(a.runner), Cold: median(a.cold)})
		}
		sort.Slice(m.Points[k], func(i, j int) bool { return m.Points[k][i].Batch < m.Points[k][j].Batch })
	}
	return m, nil
}

// MsPerItem is what one item costs a worker of host running the node variant in micro-batches of batch
// items (batch may be a mean, e.g. 5.6): op and runner, interpolated as the package comment says. ok is
// false when the variant was not profiled on the host.
func (m *Model) MsPerItem(host, stage, variant string, batch float64) (op, runner float64, ok bool) {
	pts := m.Points[Key{host, stage, variant}]
	if len(pts) == 0 {
		return 0, 0, false
	}
	op, runner = Interpolate(pts, batch)
	return op, runner, true
}

// Capacity is 1000 / MsPerItem (op + runner): the items/s one worker sustains at that batch size.
func (m *Model) Capacity(host, stage, variant string, batch float64) (float64, bool) {
	op, runner, ok := m.MsPerItem(host, stage, variant, batch)
	if !ok || !(op+runner > 0) {
		return 0, false
	}
	return 1000 / (op + runner), true
}

// Interpolate is the cost per item at batch size b from points sorted by batch: per batch linear
// between the two points around b, the nearest point's cost per item outside them.
func Interpolate(pts []Point, b float64) (op, runner float64) {
	return interpolate(pts, b, func(p Point) float64 { return p.Op }), interpolate(pts, b, func(p Point) float64 { return p.Runner })
}

func interpolate(pts []Point, b float64, cost func(Point) float64) float64 {
	if len(pts) == 0 {
		return 0
	}
	first, last := pts[0], pts[len(pts)-1]
	switch {
	case b <= float64(first.Batch):
		return cost(first) / float64(first.Batch)
	case b >= float64(last.Batch):
		return cost(last) / float64(last.Batch)
	}
	for i := 1; i < len(pts); i++ {
		lo, hi := pts[i-1], pts[i]
		if b <= float64(hi.Batch) {
			t := (b - float64(lo.Batch)) / float64(hi.Batch-lo.Batch)
			return (cost(lo) + t*(cost(hi)-cost(lo))) / b
		}
	}
	return cost(last) / float64(last.Batch)
}

// StarvedMsPerItem is what one item costs a worker of host at mean batch size batch when a share
// starved (0–1) of its micro-batches found it parked: the op and runner's warm figure for the others, the
// profile's cold figure (op and runner from cold) for those. A profile without cold figures gives the
// warm figure alone. ok is false when the variant was not profiled on the host.
func (m *Model) StarvedMsPerItem(host, stage, variant string, batch, starved float64) (float64, bool) {
	pts := m.Points[Key{host, stage, variant}]
	if len(pts) == 0 {
		return 0, false
	}
	op, runner := Interpolate(pts, batch)
	warm := op + runner
	for _, p := range pts {
		if !(p.Cold > 0) {
			return warm, true
		}
	}
	cold := interpolate(pts, batch, func(p Point) float64 { return p.Cold })
	starved = math.Min(1, math.Max(0, starved))
	return (1-starved)*warm + starved*cold, true
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
