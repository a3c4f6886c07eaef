package profile

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Latency is one model variant's measurement at one batch size.
type Latency struct {
	Host           string `json:"host,omitempty"` // overrides Result.Host (merged profiles of several hosts)
	Stage, Variant string
	Batch          int
	Stats          Stats // ms per batch
}

// Message is the mean size of one item's message on an edge, for one variant of the sending stage.
type Message struct {
	From, To, FromVariant string
	RawKB, ZstdKB         float64
}

// Result is a whole profile of one host.
type Result struct {
	Host      string // worker (type) name written into the CSVs
	Latencies []Latency
	Messages  []Message
}

// Files writes the profile into dir:
//   - latency.csv: every batch size, ms per batch and per item (median, p50, p75, p90);
//   - execution_profile.csv (median) and execution_profile_p50/p75/p90.csv: the original's layout
//     `stage,worker,variant,ms per request`, from the smallest batch measured;
//   - message_sizes.csv: the original's layout `from,to,from_variant,to_variant,KB` (raw), and
//     message_sizes_zstd.csv, the same compressed.
func (r *Result) Files(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }
	files := map[string][][]string{}
	detail := [][]string{{"stage", "worker", "variant", "batch", "runs", "median_ms", "p50_ms", "p75_ms", "p90_ms", "median_ms_per_item"}}
	smallest := map[[3]string]Latency{} // stage, variant, host

	for _, l := range r.Latencies {
		s := l.Stats
		host := r.Host
		if l.Host != "" {
			host = l.Host
		}
		detail = append(detail, []string{l.Stage, host, l.Variant, strconv.Itoa(l.Batch), strconv.Itoa(s.Runs),
			f(s.Median), f(s.P50), f(s.P75), f(s.P90), f(s.Median / float64(l.Batch))})
		k := [3]string{l.Stage, l.Variant, host}
		if cur, ok := smallest[k]; !ok || l.Batch < cur.Batch {
			smallest[k] = l
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
			l := smallest[k]
			rows = append(rows, []string{l.Stage, k[2], l.Variant, f(pick(l.Stats) / float64(l.Batch))})
		}
		files[name] = rows
	}
	var raw, zst [][]string
	for _, m := range r.Messages {
		raw = append(raw, []string{m.From, m.To, m.FromVariant, "default", f(m.RawKB)})
		zst = append(zst, []string{m.From, m.To, m.FromVariant, "default", f(m.ZstdKB)})
	}
	files["message_sizes.csv"], files["message_sizes_zstd.csv"] = raw, zst

	var written []string
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
