package launch

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Headline is the part of summary.json the launcher prints after a successful run.
type Headline struct {
	Items      float64 `json:"items"`
	Completed  float64 `json:"completed"`
	ThisRun    float64 `json:"completed_this_run"` // differs from Completed after --resume
	Wall       float64 `json:"wall_seconds"`
	Throughput float64 `json:"throughput_items_per_second"`
	Latency    struct {
		P50 float64 `json:"p50"`
		P99 float64 `json:"p99"`
	} `json:"latency_ms"`
	BytesRaw  float64 `json:"bytes_raw"`
	BytesWire float64 `json:"bytes_wire"`
	Predicted struct {
		Throughput float64 `json:"throughput_items_per_second"`
	} `json:"predicted"`
}

// FormatHeadline renders the summary's headline figures in one line.
func FormatHeadline(h Headline) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d items", int(h.Completed), int(h.Items))
	if h.ThisRun > 0 && h.ThisRun != h.Completed {
		fmt.Fprintf(&b, " (%d in this run)", int(h.ThisRun))
	}
	fmt.Fprintf(&b, " in %.1f s, %.2f items/s", h.Wall, h.Throughput)
	if h.Predicted.Throughput > 0 {
		fmt.Fprintf(&b, " (plan predicted %.2f)", h.Predicted.Throughput)
	}
	fmt.Fprintf(&b, ", latency p50 %.0f ms p99 %.0f ms", h.Latency.P50, h.Latency.P99)
	if h.BytesWire > 0 && h.BytesRaw > 0 {
		fmt.Fprintf(&b, ", %s sent (%s before compression)", humanBytes(h.BytesWire), humanBytes(h.BytesRaw))
	}
	return b.String()
}

func humanBytes(n float64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", n/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", n/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", n/(1<<10))
	}
	return fmt.Sprintf("%.0f B", n)
}

// reportSuccess tells the user where the results are and what the run achieved.
func reportSuccess(w io.Writer, root, dir string, wall time.Duration) {
	rel := rankPath(root, dir)
	fmt.Fprintf(w, "run: %s\n", rel)
	fmt.Fprintf(w, "results: %s\n", filepath.Join(rel, ResultsFile))
	data, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	if err != nil {
		fmt.Fprintf(w, "summary: none (%s missing); launcher wall time %.1f s\n", SummaryFile, wall.Seconds())
		return
	}
	var h Headline
	if err := json.Unmarshal(data, &h); err != nil {
		fmt.Fprintf(w, "summary: %s unreadable: %v\n", filepath.Join(rel, SummaryFile), err)
		return
	}
	fmt.Fprintf(w, "summary: %s: %s\n", filepath.Join(rel, SummaryFile), FormatHeadline(h))
}
