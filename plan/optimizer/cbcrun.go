//go:build cgo

package optimizer

import (
	"math"
	"os"
	"time"

	"jellybean/plan/optimizer/coin"
)

// loadCBC loads COIN-OR CBC's library into this process (once).
func loadCBC() error { return coin.Load() }

// runCBC solves job within job.Secs seconds (0: no limit), pruning above job.Cutoff, in this process. x
// is nil when no solution was found; lb is the proven lower bound (the cutoff when CBC proved nothing
// cheaper exists, +Inf when nothing exists at all); optimal says the search finished (lb is then final).
func runCBC(job cbcJob) (x []float64, lb float64, optimal bool, err error) {
	if err := coin.Load(); err != nil {
		return nil, 0, false, err
	}
	secs, cutoff := job.Secs, job.Cutoff
	model, err := coin.NewMIP(job.matrix(), job.Integer)
	if err != nil {
		return nil, 0, false, err
	}
	defer model.Close()
	model.SetLogLevel(0)
	// Wall-clock seconds: by default CBC counts CPU seconds, which a loaded machine stretches.
	model.SetParameter("timeMode", "elapsed")
	for k, v := range job.Params {
		model.SetParameter(k, v)
	}
	model.SetAllowableGap(1e-9)
	model.SetAllowableFractionGap(1e-9)
	if secs > 0 {
		model.SetMaximumSeconds(secs)
	}
	if !math.IsInf(cutoff, 1) {
		model.SetCutoff(cutoff)
	}
	if job.Start != nil {
		if err := model.SetInitialSolution(job.Start); err != nil {
			return nil, 0, false, err
		}
	}
	if path := os.Getenv("JELLYBEAN_CBC_WRITE_MPS"); path != "" {
		model.WriteMPS(path) // for study outside the program: the exact model CBC is given, as PATH.mps
	}
	model.Solve()
	finished := model.Status() == 0 // the search ended by itself, not by a limit
	noSolution := model.NumberSavedSolutions() == 0 && !model.HasBestSolution()
	if model.IsProvenInfeasible() || (finished && noSolution) {
		// Nothing below the cutoff (+Inf when there was none). CBC prunes within a small tolerance of the
		// cutoff, so the bound claimed is a millionth below it.
		if math.IsInf(cutoff, 1) {
			return nil, cutoff, true, nil
		}
		return nil, cutoff - 1e-6*math.Abs(cutoff), true, nil
	}
	lb = model.BestPossibleObjValue()
	if math.IsNaN(lb) || lb > 1e30 {
		lb = 0 // CBC reports no usable bound
	}
	optimal = model.IsProvenOptimal()
	if model.NumberSavedSolutions() == 0 && !optimal {
		return nil, lb, false, nil
	}
	if x = model.ColSolution(); x == nil {
		return nil, lb, optimal, nil
	}
	if optimal {
		lb = math.Min(lb, model.ObjValue())
	}
	return x, lb, optimal, nil
}

// runLPs solves job's LP relaxation once per column of job.RelaxZ, that column fixed to 1 and the others
// of RelaxZ to 0: the LP bound of each variant combination. An LP not solved to optimality (a limit,
// numerical trouble, or job.Secs spent before its turn) gives NaN, which the caller must not use as a
// bound.
//
// Why CLP directly, one model: the LPs differ only in the bounds of RelaxZ's columns, so after the first
// each is CLP's dual simplex from the previous optimal basis (still dual feasible when only bounds
// change) instead of a solve from scratch through CBC — on 297 distinct hosts / 3 tiers the eight LPs
// of threshold 55 took 3.1 s from scratch, more than the quarter of a 10 s limit they may use.
func runLPs(job cbcJob) []float64 {
	out := make([]float64, len(job.RelaxZ))
	for k := range out {
		out[k] = math.NaN()
	}
	if len(out) == 0 || coin.Load() != nil {
		return out
	}
	began := time.Now()
	model, err := coin.NewLP(job.matrix())
	if err != nil {
		return out // unsolved: every combination kept
	}
	defer model.Close()
	model.SetLogLevel(0)
	for k := range job.RelaxZ {
		left := job.Secs - time.Since(began).Seconds()
		if job.Secs > 0 && left <= 0 {
			break // the rest stay NaN: not solved, so kept by the caller
		}
		for k2, j := range job.RelaxZ {
			v := 0.0
			if k2 == k {
				v = 1
			}
			model.SetColumnBound(j, v, v)
		}
		model.ApplyBounds()
		if job.Secs > 0 {
			model.SetMaximumSeconds(left)
		}
		if k == 0 {
			model.InitialSolve()
		} else {
			model.Dual()
		}
		switch {
		case model.IsProvenPrimalInfeasible():
			out[k] = math.Inf(1)
		case model.IsProvenOptimal():
			out[k] = model.ObjectiveValue()
		}
	}
	return out
}

func (job cbcJob) matrix() coin.Matrix {
	return coin.Matrix{ColStart: job.ColStart, Index: job.Index, Value: job.Value, ColLB: job.ColLB,
		ColUB: job.ColUB, Obj: job.Obj, RowLB: job.RowLB, RowUB: job.RowUB}
}

func init() { clpLP = solveCLP }

// solveCLP is clpLP: the LP minimise c·x over rows, x ≥ 0, in CLP (in this process: CLP's LPs, unlike
// CBC's search, have not failed here, and these are small — solveLPDuals refuses large ones).
func solveCLP(c []float64, rows []lpRow, secs float64) (obj float64, x, y []float64, st lpStatus, ok bool) {
	if CBCAvailable() != nil {
		return 0, nil, nil, lpTrouble, false
	}
	n := len(c)
	m := coin.Matrix{Obj: c, ColLB: make([]float64, n), ColUB: make([]float64, n),
		RowLB: make([]float64, len(rows)), RowUB: make([]float64, len(rows)), ColStart: make([]int, 0, n+1)}
	for j := range n {
		m.ColUB[j] = math.Inf(1)
	}
	for i, r := range rows {
		m.RowLB[i], m.RowUB[i] = r.rhs, r.rhs
		switch r.sense {
		case le:
			m.RowLB[i] = math.Inf(-1)
		case ge:
			m.RowUB[i] = math.Inf(1)
		}
	}
	for j := range n {
		m.ColStart = append(m.ColStart, len(m.Index))
		for i, r := range rows {
			if v := r.coef[j]; v != 0 {
				m.Index, m.Value = append(m.Index, i), append(m.Value, v)
			}
		}
	}
	m.ColStart = append(m.ColStart, len(m.Index))
	lp, err := coin.NewLP(m)
	if err != nil {
		return 0, nil, nil, lpTrouble, false
	}
	defer lp.Close()
	lp.SetLogLevel(0)
	if secs > 0 {
		lp.SetMaximumSeconds(secs) // not optimal at the limit: ok is false, and our simplex sees stop
	}
	lp.InitialSolveQuiet() // this process handles Ctrl-C: CLP must not touch SIGINT
	switch {
	case lp.IsProvenOptimal():
		x, y = lp.ColSolution(), lp.RowDuals()
		if len(x) != n || len(y) != len(rows) {
			return 0, nil, nil, lpTrouble, false
		}
		return lp.ObjectiveValue(), x, y, lpOptimal, true
	case lp.IsProvenPrimalInfeasible():
		return 0, nil, nil, lpInfeasible, true
	}
	return 0, nil, nil, lpTrouble, false
}
