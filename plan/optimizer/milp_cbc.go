//go:build cbc

package optimizer

// The CBC baseline: the plain MILP of milp.go handed to COIN-OR CBC (Debian: coinor-libcbc-dev), one
// variant combination at a time, with the library's own branch and bound, cuts and heuristics. Built
// only with `-tags cbc`, so a machine with Go alone still builds and tests everything else.

/*
#cgo CFLAGS: -I/usr/include/coin
#cgo LDFLAGS: -lCbcSolver -lCbc -lClp -lCoinUtils
#include <stdlib.h>
#include <Cbc_C_Interface.h>
*/
import "C"

import (
	"context"
	"fmt"
	"math"
	"time"
	"unsafe"
)

func init() { RegisterSolver("cbc", solveCBC) }

// solveCBC solves every combination meeting the target with CBC; the cheapest plan wins. Each pass gives
// the combinations still open (not proven, bound below the best plan) an equal share of the time left,
// with the best plan so far as CBC's cutoff; passes repeat while time is left, so a combination cut short
// early gets the time the others did not need. The bound is the least of the open combinations' bounds
// (0 for one the time limit left untouched).
func solveCBC(ctx context.Context, p *Problem, _ Config) (*Solution, error) {
	combos := p.Combos(p.Threshold)
	if len(combos) == 0 {
		return nil, p.accuracyInfeasible(p.Threshold)
	}
	order, err := p.TopoOrder()
	if err != nil {
		return nil, err
	}
	deadline, hasDeadline := ctx.Deadline()
	var best *Solution
	lbs := make([]float64, len(combos)) // 0 until solved: the trivial bound
	proven := make([]bool, len(combos))
	models := make([]*milpModel, len(combos))
	for pass := 0; ; pass++ {
		var open []int
		for k := range combos {
			if !proven[k] && (best == nil || lbs[k] < best.Total*(1-1e-9)) {
				open = append(open, k)
			}
		}
		if len(open) == 0 || ctx.Err() != nil || (pass > 0 && !hasDeadline) {
			break
		}
		if hasDeadline && time.Until(deadline) < 20*time.Millisecond {
			break
		}
		for i, k := range open {
			secs := 0.0
			if hasDeadline {
				secs = time.Until(deadline).Seconds() / float64(len(open)-i)
				if secs < 0.01 {
					break
				}
			}
			if ctx.Err() != nil {
				break
			}
			c := combos[k]
			if models[k] == nil {
				models[k] = p.buildMILP(c)
			}
			m := models[k]
			cutoff := math.Inf(1)
			if best != nil {
				cutoff = best.Total
			}
			x, lb, optimal, err := runCBCBounded(ctx, m, secs, cutoff)
			if err != nil {
				return nil, fmt.Errorf("cbc: combination %v: %w", c.Models, err)
			}
			lbs[k] = math.Max(lbs[k], lb)
			proven[k] = optimal
			if x == nil {
				continue
			}
			a, err := p.milpPlan(c, m, x)
			if err != nil {
				continue // the solver's tolerances left a stage short: no plan from this combination
			}
			a, compute, comm := p.polish(a, order, func() bool { return ctx.Err() != nil })
			if total := compute + comm; !math.IsInf(total, 1) && (best == nil || total < best.Total) {
				best = &Solution{Assignment: a, Order: order, Compute: compute, Comm: comm, Total: total,
					Accuracy: c.Accuracy, Solver: "cbc"}
			}
		}
	}
	if best == nil {
		allInfeasible := true
		for k := range combos {
			allInfeasible = allInfeasible && proven[k] && math.IsInf(lbs[k], 1)
		}
		if allInfeasible {
			return nil, p.explainInfeasible(combos)
		}
		return nil, fmt.Errorf("cbc: no plan within the time limit: %w", ErrTimeLimit)
	}
	bound := best.Total
	for k := range combos {
		bound = math.Min(bound, lbs[k])
	}
	best.LowerBound = bound
	return best, nil
}

// runCBCBounded is runCBC that returns by ctx's deadline (or cancellation) plus a short grace even if
// CBC overruns its own time limit (it checks the clock only between phases, and cannot be interrupted
// through its C interface): the solve is then abandoned, left to finish in the background, and reports
// nothing (bound 0).
func runCBCBounded(ctx context.Context, m *milpModel, secs, cutoff float64) (x []float64, lb float64, optimal bool, err error) {
	type result struct {
		x       []float64
		lb      float64
		optimal bool
		err     error
	}
	done := make(chan result, 1)
	go func() {
		x, lb, optimal, err := runCBC(m, secs, cutoff)
		done <- result{x, lb, optimal, err}
	}()
	var late <-chan time.Time
	if d, ok := ctx.Deadline(); ok {
		t := time.NewTimer(time.Until(d) + cbcGrace)
		defer t.Stop()
		late = t.C
	}
	select {
	case r := <-done:
		return r.x, r.lb, r.optimal, r.err
	case <-late:
	case <-ctx.Done():
		// Cancelled (Ctrl-C) or past the deadline: give CBC the grace to return what it has.
		select {
		case r := <-done:
			return r.x, r.lb, r.optimal, r.err
		case <-time.After(cbcGrace):
		}
	}
	return nil, 0, false, nil
}

// cbcGrace is how long past the deadline a CBC solve may take before it is abandoned.
const cbcGrace = 300 * time.Millisecond

// runCBC solves m within secs seconds (0: no limit), pruning above cutoff. x is nil when no solution
// was found; lb is the proven lower bound (cutoff when CBC proved nothing cheaper exists, +Inf when
// nothing exists at all); optimal says the search finished (lb is then final).
func runCBC(m *milpModel, secs, cutoff float64) (x []float64, lb float64, optimal bool, err error) {
	model := C.Cbc_newModel()
	defer C.Cbc_deleteModel(model)
	n, nr := len(m.obj), len(m.rows)
	start, index, value := m.CSC()
	cStart := cInts(start)
	cIndex := cInts(index)
	cValue := cDoubles(value)
	cLB, cUB, cObj := cDoubles(m.colLB), cDoubles(finite(m.colUB)), cDoubles(m.obj)
	rLB, rUB := cDoubles(finite(m.rowLB)), cDoubles(finite(m.rowUB))
	defer freeAll(cStart, cIndex, cValue, cLB, cUB, cObj, rLB, rUB)
	C.Cbc_loadProblem(model, C.int(n), C.int(nr), (*C.int)(cStart), (*C.int)(cIndex), (*C.double)(cValue),
		(*C.double)(cLB), (*C.double)(cUB), (*C.double)(cObj), (*C.double)(rLB), (*C.double)(rUB))
	for j, isInt := range m.integer {
		if isInt {
			C.Cbc_setInteger(model, C.int(j))
		}
	}
	C.Cbc_setLogLevel(model, 0)
	// Wall-clock seconds: by default CBC counts CPU seconds, which a loaded machine stretches.
	setParam(model, "timeMode", "elapsed")
	C.Cbc_setAllowableGap(model, 1e-9)
	C.Cbc_setAllowableFractionGap(model, 1e-9)
	if secs > 0 {
		C.Cbc_setMaximumSeconds(model, C.double(secs))
	}
	if !math.IsInf(cutoff, 1) {
		C.Cbc_setCutoff(model, C.double(cutoff))
	}
	C.Cbc_solve(model)
	if C.Cbc_isProvenInfeasible(model) != 0 {
		return nil, cutoff, true, nil // +Inf when there was no cutoff
	}
	lb = float64(C.Cbc_getBestPossibleObjValue(model))
	if math.IsNaN(lb) || lb > 1e30 {
		lb = 0 // CBC reports no usable bound
	}
	optimal = C.Cbc_isProvenOptimal(model) != 0
	if C.Cbc_numberSavedSolutions(model) == 0 && !optimal {
		return nil, lb, false, nil
	}
	sol := C.Cbc_getColSolution(model)
	if sol == nil {
		return nil, lb, optimal, nil
	}
	x = make([]float64, n)
	copy(x, unsafe.Slice((*float64)(unsafe.Pointer(sol)), n))
	if optimal {
		lb = math.Min(lb, float64(C.Cbc_getObjValue(model)))
	}
	return x, lb, optimal, nil
}

func setParam(model unsafe.Pointer, name, value string) {
	cn, cv := C.CString(name), C.CString(value)
	defer C.free(unsafe.Pointer(cn))
	defer C.free(unsafe.Pointer(cv))
	C.Cbc_setParameter(model, cn, cv)
}

// finite maps ±Inf to CBC's ±1e30 ("infinite").
func finite(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = math.Max(-1e30, math.Min(1e30, x))
	}
	return out
}

func cInts(xs []int) unsafe.Pointer {
	p := C.malloc(C.size_t(max(1, len(xs))) * C.size_t(unsafe.Sizeof(C.int(0))))
	s := unsafe.Slice((*C.int)(p), max(1, len(xs)))
	for i, x := range xs {
		s[i] = C.int(x)
	}
	return p
}

func cDoubles(xs []float64) unsafe.Pointer {
	p := C.malloc(C.size_t(max(1, len(xs))) * C.size_t(unsafe.Sizeof(C.double(0))))
	s := unsafe.Slice((*C.double)(p), max(1, len(xs)))
	for i, x := range xs {
		s[i] = C.double(x)
	}
	return p
}

func freeAll(ps ...unsafe.Pointer) {
	for _, p := range ps {
		C.free(p)
	}
}
