// Package sweep runs the optimizer over infrastructures of growing size, built by replicating the host
// types of a base instance (optimizer.Scale), and writes a CSV and PNG plots of cost, optimality gap and
// solve time against the number of hosts.
package sweep

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"jellybean/plan/optimizer"
)

// Row is one solve: an instance size and a solver.
type Row struct {
	Hosts    int // workers in the instance
	Copies   int // replication factor of the base instance's workers
	Solver   string
	Cost     float64 // total $/hour (compute + communication); 0 when Err is set
	Compute  float64
	Accuracy float64
	Bound    float64 // best lower bound known for the instance (the exact solver's)
	Gap      float64 // (cost − bound) / cost; −1 when no bound is known
	Seconds  float64
	Err      string
}

// Options say what to sweep.
type Options struct {
	Sizes     []int    // hosts; each is rounded up to a whole number of copies of the base instance
	Solvers   []string // "heuristic", "exact"
	Tiers     int      // 0/2: the base instance's tiers; 3: three tiers, five stages (optimizer.ScaleSpec)
	Jitter    float64  // each host's latencies × its own factor in [1−Jitter, 1+Jitter]: distinct hosts
	Seed      uint64   // of the jitter
	TimeLimit time.Duration
	Progress  io.Writer // one line per solve; nil for none
}

// ParseSizes reads "9,18,36".
func ParseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--sizes: %q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// ParseSolvers reads "both" (heuristic and exact) or a comma-separated list of the solvers this binary
// offers (optimizer.Solvers: heuristic, exact, cbc and highs).
func ParseSolvers(s string) ([]string, error) {
	if s == "both" {
		return []string{"heuristic", "exact"}, nil
	}
	known := map[string]bool{}
	for _, n := range optimizer.Solvers() {
		known[n] = true
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if !known[f] {
			return nil, fmt.Errorf("--solver: %q: want both or a list of %s", f, strings.Join(optimizer.Solvers(), ", "))
		}
		out = append(out, f)
	}
	return out, nil
}

// CopiesFor is the replication factor that gives at least hosts workers from a base of baseWorkers.
func CopiesFor(hosts, baseWorkers int) int {
	return max(1, (hosts+baseWorkers-1)/baseWorkers)
}

// Run solves every size with every solver. The exact solver runs last for a size, and its bound is then
// used to give the heuristic's row a gap too.
func Run(base *optimizer.Problem, cfg optimizer.Config, o Options) ([]Row, error) {
	var rows []Row
	for _, size := range o.Sizes {
		k := CopiesFor(size, len(base.Workers))
		spec := optimizer.ScaleSpec{Copies: k}
		if o.Tiers == 3 {
			spec = optimizer.ScaleSpec{Copies: k, Tiers: 3, LinkScale: cfg.CommCostScalingFactor, FiveStages: true}
		}
		spec.Jitter, spec.Seed = o.Jitter, o.Seed
		first := len(rows)
		bound := 0.0
		for _, solver := range o.Solvers {
			p, err := optimizer.Scale(base, spec)
			if err != nil {
				return nil, err
			}
			row := Row{Hosts: len(p.Workers), Copies: k, Solver: solver, Gap: -1}
			t0 := time.Now()
			s, err := optimizer.Solve(p, cfg, solver, o.TimeLimit)
			row.Seconds = time.Since(t0).Seconds()
			if err != nil {
				row.Err = err.Error()
			} else {
				row.Cost, row.Compute, row.Accuracy, row.Bound = s.Total, s.Compute, s.Accuracy, s.LowerBound
				bound = max(bound, s.LowerBound)
			}
			rows = append(rows, row)
			if o.Progress != nil {
				fmt.Fprintf(o.Progress, "sweep: %d hosts, %s: cost %.4f, %.3fs %s\n", row.Hosts, solver, row.Cost, row.Seconds, row.Err)
			}
		}
		fillGaps(rows[first:], bound)
	}
	return rows, nil
}

// fillGaps sets every solved row's gap against the best bound of its instance.
func fillGaps(rows []Row, bound float64) {
	for i := range rows {
		r := &rows[i]
		r.Bound = bound
		if r.Err == "" && bound > 0 && r.Cost > 0 {
			r.Gap = math.Max(0, (r.Cost-bound)/r.Cost)
		}
	}
}

// WriteCSV writes the rows with a header.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"hosts", "copies", "solver", "total_cost", "compute_cost", "accuracy", "lower_bound", "optimality_gap", "solve_seconds", "error"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 8, 64) }
	for _, r := range rows {
		gap := ""
		if r.Gap >= 0 {
			gap = f(r.Gap)
		}
		_ = cw.Write([]string{strconv.Itoa(r.Hosts), strconv.Itoa(r.Copies), r.Solver, f(r.Cost), f(r.Compute), f(r.Accuracy), f(r.Bound), gap, f(r.Seconds), r.Err})
	}
	cw.Flush()
	return cw.Error()
}
