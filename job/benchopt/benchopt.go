// Package benchopt renders a `jellybean bench optimize` run as the markdown table and target check that
// BENCHMARKS.md records: one row per instance (heuristic, exact solver, optional baseline), then how many
// instances meet each of the optimizer's targets. Pure: the command gathers the rows.
package benchopt

import (
	"fmt"
	"math"
	"strings"
)

// Row is one instance of the benchmark. Costs are $/hour; a cost of 0 means that solver gave no plan.
type Row struct {
	Hosts, Tiers int
	Threshold    float64
	Distinct     bool // --jitter > 0: every host its own
	Heuristic    float64
	Exact        float64
	Gap          float64 // the exact solver's proven gap, (cost − bound) / cost
	ExactSeconds float64
	// The baseline solver, when one ran (HasBaseline).
	HasBaseline     bool
	Baseline        float64
	BaselineGap     float64
	BaselineSeconds float64
	// GapToBestBound is the exact plan's gap to the larger of the two proven bounds.
	GapToBestBound float64
}

// The optimizer's targets on distinct fleets (issue 12 of the project): small fleets proven optimal
// quickly, larger ones within a proven gap, and never dearer than the baseline solver.
const (
	provenHosts   = 36
	provenSeconds = 5.0
	gapMinHosts   = 72
	gapMaxHosts   = 300
	gapTarget     = 0.002
	// Costs are compared to a relative millionth: the two solvers' evaluations of one plan agree to far
	// better than that, and a real difference is larger.
	costTolerance = 1e-6
)

// Markdown is the table of rows and, below it, the count of instances meeting each target, with the
// instances that miss it named. limitSeconds is the run's --time-limit.
func Markdown(rows []Row, baseline string, limitSeconds float64) string {
	var b strings.Builder
	b.WriteString("| hosts | tiers | thr | heuristic $/h | exact $/h | exact gap % | exact s |")
	if baseline != "" {
		fmt.Fprintf(&b, " %s $/h | %s gap %% | %s s | exact ÷ %s | gap to best bound %% |", baseline, baseline, baseline, baseline)
	}
	b.WriteString("\n|---|---|---|---|---|---|---|")
	if baseline != "" {
		b.WriteString("---|---|---|---|---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %d | %d | %g | %s | %s | %s | %.2f |", r.Hosts, r.Tiers, r.Threshold, cost(r.Heuristic), cost(r.Exact),
			pct(r.Exact, r.Gap), r.ExactSeconds)
		if baseline != "" {
			ratio := "–"
			if r.Exact > 0 && r.Baseline > 0 {
				ratio = fmt.Sprintf("%.4f", r.Exact/r.Baseline)
			}
			toBest := "–"
			if r.Exact > 0 && r.Baseline > 0 {
				toBest = pct(r.Exact, r.GapToBestBound)
			}
			fmt.Fprintf(&b, " %s | %s | %.2f | %s | %s |", cost(r.Baseline), pct(r.Baseline, r.BaselineGap), r.BaselineSeconds, ratio, toBest)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n| target | met | missed by |\n|---|---|---|\n")
	for _, t := range Targets(rows, baseline != "", limitSeconds) {
		fmt.Fprintf(&b, "| %s | %d of %d | %s |\n", t.Name, t.Met, t.Of, strings.Join(t.Missed, ", "))
	}
	return b.String()
}

// Target is how many instances meet one target, and which miss it.
type Target struct {
	Name    string
	Met, Of int
	Missed  []string // "hosts / tiers / thr (what it reached)"
}

// Targets checks the rows against the optimizer's targets; a target no row applies to is left out.
func Targets(rows []Row, withBaseline bool, limitSeconds float64) []Target {
	proven := Target{Name: fmt.Sprintf("%d distinct hosts proven optimal in < %g s", provenHosts, provenSeconds)}
	gap := Target{Name: fmt.Sprintf("%d–%d distinct hosts within %g %% (proven)", gapMinHosts, gapMaxHosts, 100*gapTarget)}
	cheaper := Target{Name: "never more expensive than the baseline"}
	limit := Target{Name: fmt.Sprintf("returns within the limit + 1 s (%g s)", limitSeconds+1)}
	for _, r := range rows {
		name := fmt.Sprintf("%d / %d / %g", r.Hosts, r.Tiers, r.Threshold)
		check(&limit, r.ExactSeconds <= limitSeconds+1, fmt.Sprintf("%s (%.2f s)", name, r.ExactSeconds))
		if r.Distinct && r.Hosts == provenHosts {
			check(&proven, r.Exact > 0 && r.Gap <= costTolerance && r.ExactSeconds < provenSeconds,
				fmt.Sprintf("%s (gap %s %%, %.2f s)", name, pct(r.Exact, r.Gap), r.ExactSeconds))
		}
		if r.Distinct && r.Hosts >= gapMinHosts && r.Hosts <= gapMaxHosts {
			check(&gap, r.Exact > 0 && r.Gap <= gapTarget, fmt.Sprintf("%s (%s %%)", name, pct(r.Exact, r.Gap)))
		}
		if withBaseline && r.HasBaseline {
			ok := r.Exact > 0 && (r.Baseline == 0 || r.Exact <= r.Baseline*(1+costTolerance))
			check(&cheaper, ok, fmt.Sprintf("%s (%s)", name, dearer(r)))
		}
	}
	var out []Target
	for _, t := range []Target{proven, gap, cheaper, limit} {
		if t.Of > 0 {
			out = append(out, t)
		}
	}
	return out
}

func check(t *Target, ok bool, miss string) {
	t.Of++
	if ok {
		t.Met++
		return
	}
	t.Missed = append(t.Missed, miss)
}

func dearer(r Row) string {
	if r.Exact == 0 || r.Baseline == 0 {
		return "no plan"
	}
	return fmt.Sprintf("%.2f %% dearer", 100*(r.Exact/r.Baseline-1))
}

func cost(c float64) string {
	if c == 0 {
		return "no plan"
	}
	return fmt.Sprintf("%.4f", c)
}

// pct is a gap in percent, or "–" when there is no plan (c == 0) or no gap (NaN).
func pct(c, gap float64) string {
	if c == 0 || math.IsNaN(gap) {
		return "–"
	}
	return fmt.Sprintf("%.3f", 100*gap)
}
