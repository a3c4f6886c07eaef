package launch

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// ProgressPrefix starts the lines a rank (the sink) prints to stdout to report how many items are done.
const ProgressPrefix = "jellybean-progress "

// SayPrefix starts the lines a rank prints to stdout for the launcher to show as they are (e.g. which
// model a profiling rank is measuring).
const SayPrefix = "jellybean-say "

// ProgressReport is one progress line's payload.
type ProgressReport struct {
	Done  int `json:"done"`
	Total int `json:"total"`
}

// ParseProgress recognises a `jellybean-progress {"done":N,"total":M}` line. ok is false for any other
// line, including malformed progress lines: progress is advisory and must never fail a job.
func ParseProgress(line string) (ProgressReport, bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(line), ProgressPrefix)
	if !found {
		return ProgressReport{}, false
	}
	var p ProgressReport
	if err := json.Unmarshal([]byte(rest), &p); err != nil || p.Done < 0 || p.Total < 0 {
		return ProgressReport{}, false
	}
	return p, true
}

// Progress turns progress reports into items done, rate and ETA. The rate is measured from the first
// report of this launch, so a resumed job's already-finished items do not inflate it.
type Progress struct {
	start     time.Time // when the first report arrived
	startDone int
	last      ProgressReport
	lastAt    time.Time
	seen      bool
}

// Update records a report received at time now.
func (p *Progress) Update(r ProgressReport, now time.Time) {
	if !p.seen {
		p.start, p.startDone, p.seen = now, r.Done, true
	}
	if r.Done < p.last.Done && p.seen && r.Total == p.last.Total {
		return // an older line overtaken by a newer one: never go backwards
	}
	p.last, p.lastAt = r, now
}

// Seen reports whether any progress line arrived.
func (p *Progress) Seen() bool { return p.seen }

// Line renders the progress at time now, e.g. "120/500 items (24%), 35.2 items/s, ETA 11s".
func (p *Progress) Line(now time.Time) string {
	if !p.seen {
		return "starting ranks..."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d items", p.last.Done, p.last.Total)
	if p.last.Total > 0 {
		fmt.Fprintf(&b, " (%d%%)", p.last.Done*100/p.last.Total)
	}
	elapsed := p.lastAt.Sub(p.start).Seconds()
	n := p.last.Done - p.startDone
	if elapsed <= 0 || n <= 0 {
		return b.String()
	}
	rate := float64(n) / elapsed
	fmt.Fprintf(&b, ", %.1f items/s", rate)
	if left := p.last.Total - p.last.Done; left > 0 {
		fmt.Fprintf(&b, ", ETA %s", formatETA(float64(left)/rate))
	}
	return b.String()
}

// formatETA renders seconds as "42s", "3m05s" or "2h07m".
func formatETA(s float64) string {
	if math.IsInf(s, 0) || math.IsNaN(s) || s > 99*3600 {
		return "?"
	}
	sec := int(math.Ceil(s))
	switch {
	case sec < 60:
		return fmt.Sprintf("%ds", sec)
	case sec < 3600:
		return fmt.Sprintf("%dm%02ds", sec/60, sec%60)
	default:
		return fmt.Sprintf("%dh%02dm", sec/3600, (sec%3600)/60)
	}
}
