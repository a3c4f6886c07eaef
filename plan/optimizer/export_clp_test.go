//go:build cgo

package optimizer

import (
	"math"
	"slices"
	"time"
)

// RecordedLP is one LP the exact search solved: minimise c·x over rows, x ≥ 0.
type RecordedLP struct {
	c    []float64
	rows []lpRow
}

// RecordLPs runs the exact search on p for at most limit and returns the first max LPs it solved.
func RecordLPs(p *Problem, limit time.Duration, max int) []RecordedLP {
	var out []RecordedLP
	_, _ = p.Exact(ExactOptions{TimeLimit: limit, recordLP: func(c []float64, rows []lpRow) {
		if len(out) < max {
			out = append(out, RecordedLP{c: slices.Clone(c), rows: cloneRows(rows)})
		}
	}})
	return out
}

// Size is the LP's number of columns and rows.
func (l RecordedLP) Size() (cols, rows int) { return len(l.c), len(l.rows) }

// SolveOurs solves the LP with our simplex (objective, duals, as the search does): its objective, and
// whether it was proven infeasible (+Inf) or no conclusion came (NaN).
func (l RecordedLP) SolveOurs() float64 {
	rows := cloneRows(l.rows) // our simplex flips rows with a negative right-hand side in place
	obj, _, _, st := simplexDuals(l.c, rows, nil)
	return lpResult(obj, st == lpOptimal, st == lpInfeasible)
}

// SolveCLP solves the LP with COIN-OR CLP in this process (solveCLP), as SolveOurs.
func (l RecordedLP) SolveCLP() float64 {
	obj, _, _, st, ok := solveCLP(l.c, l.rows, 0)
	if !ok {
		return math.NaN()
	}
	return lpResult(obj, st == lpOptimal, st == lpInfeasible)
}

func lpResult(obj float64, optimal, infeasible bool) float64 {
	switch {
	case optimal:
		return obj
	case infeasible:
		return math.Inf(1)
	}
	return math.NaN()
}

func cloneRows(rows []lpRow) []lpRow {
	out := make([]lpRow, len(rows))
	for i, r := range rows {
		out[i] = lpRow{coef: slices.Clone(r.coef), sense: r.sense, rhs: r.rhs}
	}
	return out
}
