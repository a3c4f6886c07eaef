package profile

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"jellybean/job/profile/capacity"
	"jellybean/plan/optimizer/inputs"
)

// Latency is one model variant's measurement at one batch size.
type Latency struct {
	Host           string `json:"host,omitempty"` // overrides Result.Host (merged profiles of several hosts)
	Rank           int    `json:"rank"`           // rank that measured it (0 without a hostfile)
	Device         string `json:"device"`         // "cpu"
	Threads        int    `json:"threads"`        // intra-op threads of the session
	Stage, Variant string
	Batch          int
	Stats          Stats // ms per batch, wall clock
	CPU            Stats // CPU ms per batch of the measuring process (all its threads)
	// Runner is the runner's CPU ms per batch besides the op: receiving and decoding the batch's input
	// messages, packing and sending its output (runnerCost).
	Runner Stats
	// Cold is what a starved worker pays per batch, op and runner together, in CPU ms: every micro-batch
	// reaches a worker whose threads had parked (coldRounds). Zero Runs: not measured.
	Cold Stats
}

// Ratio is how many items a node receives per item its input node receives, in one trace: 1 but across
// a fan-out (sub-items per parent) or a fan-in (parents per sub-item). A fan-in node's items are the
// parents it regroups, as timeNode times it. Variants are the trace's model variants (the number of
// sub-items can depend on any upstream variant, e.g. a detector finding more lines).
type Ratio struct {
	From, To string
	Variants map[string]string
	Ratio    float64
}

// Message is the mean size of one item's message on an edge, for one variant of the sending stage.
type Message struct {
	From, To, FromVariant string
	RawKB, ZstdKB         float64
}

// NativeFile is the fragment of the optimizer's native format that Files writes.
const NativeFile = "native.toml"

// perItem is the median over ranks of pick(stats) per item (one rank: its own figure).
func perItem(ls []Latency, pick func(Stats) float64) float64 {
	v := make([]float64, len(ls))
	for i, l := range ls {
		v[i] = pick(l.Stats) / float64(l.Batch)
	}
	return Summarise(v).Median
}

// coldPerItem is latency.csv's cold_ms_per_item: the median cold CPU ms per item, or empty when the
// profile did not measure it (no peer process).
func coldPerItem(l Latency) string {
	if l.Cold.Runs == 0 {
		return ""
	}
	return strconv.FormatFloat(l.Cold.Median/float64(l.Batch), 'f', 4, 64)
}

// Result is a whole profile of one host.
type Result struct {
	Host      string // worker (type) name written into the CSVs
	Latencies []Latency
	Messages  []Message
	Ratios    []Ratio
	Turns     []Turn `json:",omitempty"` // when each rank of a profiling job measured
}

// Turn is one rank's measuring window in a profiling job (ranks on one machine must not overlap).
type Turn struct {
	Rank, Turn int
	Host       string
	Start, End time.Time
}

// Files writes the profile into dir:
//   - latency.csv: one row per rank × model × batch size, ms per batch and per item (median, p50, p75,
//     p90), with the rank, device and threads that measured it, the mean CPU ms per item over the timed
//     windows and the median runner ms per item (see job/loop/README.md);
//   - execution_profile.csv (median) and execution_profile_p50/p75/p90.csv: the original's layout
//     `stage,worker,variant,ms per request`, from the smallest batch measured; several ranks on one host
//     give one row, the median of theirs;
//   - message_sizes.csv: the original's layout `from,to,from_variant,to_variant,KB` (raw), and
//     message_sizes_zstd.csv, the same compressed;
//   - turns.csv (profiling jobs only): each rank's turn and measuring window;
//   - native.toml: the same latencies (median) and raw message sizes as [[latency]] and [[message]]
//     entries of the optimizer's native format (plan/optimizer/inputs), worker = host name.
func (r *Result) Files(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }
	files := map[string][][]string{}
	detail := [][]string{{"stage", "worker", "variant", "batch", "runs", "median_ms", "p50_ms", "p75_ms", "p90_ms", "median_ms_per_item", "rank", "device", "threads", "cpu_ms_per_item", "runner_ms_per_item", "cold_ms_per_item"}}
	smallest := map[[3]string][]Latency{} // stage, variant, host -> every rank's row at the smallest batch

	for _, l := range r.Latencies {
		s := l.Stats
		host := r.Host
		if l.Host != "" {
			host = l.Host
		}
		detail = append(detail, []string{l.Stage, host, l.Variant, strconv.Itoa(l.Batch), strconv.Itoa(s.Runs),
			f(s.Median), f(s.P50), f(s.P75), f(s.P90), f(s.Median / float64(l.Batch)), strconv.Itoa(l.Rank), l.Device, strconv.Itoa(l.Threads), f(l.CPU.Mean / float64(l.Batch)), f(l.Runner.Median / float64(l.Batch)), coldPerItem(l)})
		k := [3]string{l.Stage, l.Variant, host}
		switch cur := smallest[k]; {
		case len(cur) == 0 || l.Batch < cur[0].Batch:
			smallest[k] = []Latency{l}
		case l.Batch == cur[0].Batch:
			smallest[k] = append(cur, l)
		}
	}
	files["latency.csv"] = detail
	keys := make([][3]string, 0, len(smallest))
	for k := range smallest {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return strings.Join(keys[i][:], "\x00") < strings.Join(keys[j][:], "\x00") })
	for name, pick := range map[string]func(Stats) float64{
		"execution_profile.csv":     func(s Stats) float64 { return s.Median },
		"execution_profile_p50.csv": func(s Stats) float64 { return s.P50 },
		"execution_profile_p75.csv": func(s Stats) float64 { return s.P75 },
		"execution_profile_p90.csv": func(s Stats) float64 { return s.P90 },
	} {
		var rows [][]string
		for _, k := range keys {
			rows = append(rows, []string{k[0], k[2], k[1], f(perItem(smallest[k], pick))})
		}
		files[name] = rows
	}
	var raw, zst [][]string
	for _, m := range r.Messages {
		raw = append(raw, []string{m.From, m.To, m.FromVariant, "default", f(m.RawKB)})
		zst = append(zst, []string{m.From, m.To, m.FromVariant, "default", f(m.ZstdKB)})
	}
	files["message_sizes.csv"], files["message_sizes_zstd.csv"] = raw, zst
	ratios := [][]string{{"from", "to", "variants", "ratio"}}
	for _, rt := range r.Ratios {
		ratios = append(ratios, []string{rt.From, rt.To, capacity.VariantsKey(rt.Variants), strconv.FormatFloat(rt.Ratio, 'g', 8, 64)})
	}
	files[RatiosFile] = ratios
	if len(r.Turns) > 0 {
		rows := [][]string{{"rank", "host", "turn", "start_unix_ms", "end_unix_ms", "seconds"}}
		for _, t := range r.Turns {
			rows = append(rows, []string{strconv.Itoa(t.Rank), t.Host, strconv.Itoa(t.Turn), strconv.FormatInt(t.Start.UnixMilli(), 10),
				strconv.FormatInt(t.End.UnixMilli(), 10), f(t.End.Sub(t.Start).Seconds())})
		}
		files["turns.csv"] = rows
	}

	var native inputs.Native
	for _, k := range keys {
		native.Latency = append(native.Latency, inputs.NativeLatency{Stage: k[0], Worker: k[2], Variant: k[1],
			Ms: perItem(smallest[k], func(s Stats) float64 { return s.Median })})
	}
	for _, m := range r.Messages {
		native.Messages = append(native.Messages, inputs.NativeMessage{From: m.From, To: m.To, FromVariant: m.FromVariant,
			ToVariant: "default", KB: m.RawKB})
	}
	body, err := native.Encode()
	if err != nil {
		return nil, err
	}
	written := []string{filepath.Join(dir, NativeFile)}
	head := "# `jellybean profile`: median ms per item at the smallest batch, raw KB per item (zstd: message_sizes_zstd.csv)\n"
	if err := os.WriteFile(written[0], append([]byte(head), body...), 0o644); err != nil {
		return nil, err
	}
	for name, rows := range files {
		path := filepath.Join(dir, name)
		out, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		w := csv.NewWriter(out)
		_ = w.WriteAll(rows)
		if err := w.Error(); err != nil {
			out.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if err := out.Close(); err != nil {
			return nil, err
		}
		written = append(written, path)
	}
	sort.Strings(written)
	return written, nil
}
