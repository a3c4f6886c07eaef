// Package report turns a run directory (summary.json, plan.toml, eval.json, timing/*.csv) into a
// self-contained HTML page with PNG charts that holds the optimizer's prediction against the measurement
// and explains, in words, every difference beyond the tolerance.
//
// load.go reads the files; analyse.go is the pure comparison; charts.go and html.go render.
package report

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"jellybean/plan"
)

// Summary is the part of the runner's summary.json the report reads (job/pipeline's Summary); fields
// missing from older runs stay zero.
type Summary struct {
	Job                      string  `json:"job"`
	Items                    int     `json:"items"`
	Completed                int     `json:"completed"`
	CompletedThisRun         int     `json:"completed_this_run"`
	WallSeconds              float64 `json:"wall_seconds"`
	ThroughputItemsPerSecond float64 `json:"throughput_items_per_second"`
	// SteadyThroughputItemsPerSecond: from the first result to the last (the pipeline full); 0 in older runs.
	SteadyThroughputItemsPerSecond float64            `json:"steady_throughput_items_per_second"`
	LatencyMs                      map[string]float64 `json:"latency_ms"`
	BytesRaw                       int64              `json:"bytes_raw"`
	BytesWire                      int64              `json:"bytes_wire"`
	Stages                         []StageSummary     `json:"stages"`
	Links                          []LinkSummary      `json:"links"`
	Ranks                          []RankSummary      `json:"ranks"`
	InputRate                      float64            `json:"input_rate"`
}

// StageSummary is one stage of summary.json.
type StageSummary struct {
	Name                   string  `json:"name"`
	Op                     string  `json:"op"`
	Variant                string  `json:"variant"`
	Workers                int     `json:"workers"`
	Items                  int64   `json:"items"`
	BusySeconds            float64 `json:"busy_seconds"`
	CapacityItemsPerSecond float64 `json:"capacity_items_per_second"`
	CapacityBasis          string  `json:"capacity_basis"` // cpu | wall
	CapacityUnit           string  `json:"capacity_unit"`  // items | parents (a fan-in stage's output)
	MeanBatch              float64 `json:"mean_batch"`
	Batches                int64   `json:"batches"`
	StarvedBatches         int64   `json:"starved_batches"` // micro-batches that waited for their first items
	ItemsOut               int64   `json:"items_out"`
	ModelMsPerItem         float64 `json:"model_ms_per_item"`
	OverheadMsPerItem      float64 `json:"overhead_ms_per_item"`
}

// LinkSummary is the traffic from one rank to another.
type LinkSummary struct {
	Src       int   `json:"src"`
	Dst       int   `json:"dst"`
	BytesRaw  int64 `json:"bytes_raw"`
	BytesWire int64 `json:"bytes_wire"`
	Messages  int64 `json:"messages"`
}

// RankSummary is one rank's statistics.
type RankSummary struct {
	Rank           int     `json:"rank"`
	Host           string  `json:"host"`
	Stage          string  `json:"stage"`
	Items          int64   `json:"items"`
	ComputeSeconds float64 `json:"compute_seconds"`
	CPUSeconds     float64 `json:"cpu_seconds"`
	StartUnixNs    int64   `json:"start_unix_ns"`
	EndUnixNs      int64   `json:"end_unix_ns"`
}

// Eval is the part of eval.json the report reads: the keys every workload's evaluator writes.
type Eval struct {
	Items          int                `json:"items"`
	AccuracyMetric string             `json:"accuracy_metric"` // which of Metrics the accuracy is
	Accuracy       float64            `json:"accuracy"`        // percent
	Metrics        map[string]float64 `json:"metrics"`
}

// Run is everything read from one run directory.
type Run struct {
	Dir     string
	Summary Summary
	Plan    *plan.Plan
	Eval    *Eval     // nil when eval.json is absent
	Latency []float64 // end-to-end milliseconds per item, from timing/*.csv (sorted)
	// Messages are the profiled message sizes (from `jellybean profile`), keyed by from/to/from-variant;
	// nil unless LoadProfile was called.
	Messages map[[3]string]ProfiledMessage
	// Capacity is the profile's capacity model (latency.csv, ratios.csv); nil unless LoadProfile found it.
	Capacity *CapacityModel
}

// ProfiledMessage is one edge's profiled size per item, in KB (1024 bytes).
type ProfiledMessage struct{ RawKB, ZstdKB float64 }

// LoadProfile reads message_sizes.csv and message_sizes_zstd.csv (the original's layout
// `from,to,from_variant,to_variant,KB`) from a profile directory into r.Messages, and its capacity
// model (latency.csv, ratios.csv; see LoadCapacityModel) into r.Capacity.
func (r *Run) LoadProfile(dir string) error {
	var err error
	if r.Capacity, err = LoadCapacityModel(dir); err != nil {
		return err
	}
	r.Messages = map[[3]string]ProfiledMessage{}
	for i, name := range []string{"message_sizes.csv", "message_sizes_zstd.csv"} {
		path := filepath.Join(dir, name)
		f, err := os.Open(path)
		if err != nil {
			if i == 1 && errors.Is(err, os.ErrNotExist) {
				continue // the original's folders have no compressed sizes
			}
			return err
		}
		cr := csv.NewReader(f)
		cr.FieldsPerRecord = 5
		recs, err := cr.ReadAll()
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for line, rec := range recs {
			kb, err := strconv.ParseFloat(rec[4], 64)
			if err != nil || kb < 0 {
				return fmt.Errorf("%s: line %d: KB %q is not a size", path, line+1, rec[4])
			}
			k := [3]string{rec[0], rec[1], rec[2]}
			m := r.Messages[k]
			if i == 0 {
				m.RawKB = kb
			} else {
				m.ZstdKB = kb
			}
			r.Messages[k] = m
		}
	}
	return nil
}

// Load reads a run directory; errors name the file (and line) at fault.
func Load(dir string) (*Run, error) {
	r := &Run{Dir: dir}
	sp := filepath.Join(dir, "summary.json")
	data, err := os.ReadFile(sp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (did the run finish? summary.json is written at the end)", sp, err)
	}
	if err := json.Unmarshal(data, &r.Summary); err != nil {
		return nil, fmt.Errorf("%s: %w", sp, err)
	}
	if r.Plan, err = plan.Load(filepath.Join(dir, "plan.toml")); err != nil {
		return nil, err
	}
	ep := filepath.Join(dir, "eval.json")
	if data, err := os.ReadFile(ep); err == nil {
		r.Eval = &Eval{}
		if err := json.Unmarshal(data, r.Eval); err != nil {
			return nil, fmt.Errorf("%s: %w", ep, err)
		}
		if r.Eval.AccuracyMetric == "" {
			return nil, fmt.Errorf("%s: no \"accuracy_metric\" (written by an older jellybean: run `jellybean eval --run %s` again)", ep, dir)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", ep, err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "timing", "*.csv"))
	span := map[int64][2]int64{} // item → first start, last end over every stage
	for _, f := range files {
		if err := readTiming(f, span); err != nil {
			return nil, err
		}
	}
	for _, s := range span {
		r.Latency = append(r.Latency, float64(s[1]-s[0])/1e6)
	}
	sort.Float64s(r.Latency)
	return r, nil
}

// readTiming folds one timing/<rank>.csv into span, by column name (the runner's header).
func readTiming(path string, span map[int64][2]int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	head, err := cr.Read()
	if err != nil {
		return fmt.Errorf("%s: header: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	for _, want := range []string{"item", "start_unix_ns", "end_unix_ns"} {
		if _, ok := col[want]; !ok {
			return fmt.Errorf("%s: line 1: no %q column", path, want)
		}
	}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		var v [3]int64
		for i, name := range []string{"item", "start_unix_ns", "end_unix_ns"} {
			if v[i], err = strconv.ParseInt(rec[col[name]], 10, 64); err != nil {
				return fmt.Errorf("%s: line %d: column %s: %q is not an integer", path, line, name, rec[col[name]])
			}
		}
		s, ok := span[v[0]]
		if !ok || v[1] < s[0] {
			s[0] = v[1]
		}
		if v[2] > s[1] {
			s[1] = v[2]
		}
		span[v[0]] = s
	}
}
