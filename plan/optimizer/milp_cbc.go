//go:build cbc

package optimizer

// The CBC baseline: the plain MILP of milp.go handed to COIN-OR CBC (Debian: coinor-libcbc-dev), one
// variant combination at a time, with the library's own branch and bound, cuts and heuristics. Built
// only with `-tags cbc`, so a machine with Go alone still builds and tests everything else.

/*
#cgo CFLAGS: -I/usr/include/coin
#cgo LDFLAGS: -lCbcSolver -lCbc -lClp -lCoinUtils
#include <signal.h>
#include <stdlib.h>
#include <Cbc_C_Interface.h>

// CBC's solver installs its own SIGINT handler (Ctrl-C stops its branch and bound) and does not restore
// the Go runtime's exactly. jb_save_sigint keeps the runtime's handler (called once, at package init,
// before any solve); jb_solve puts it back after every solve, and reports whether CBC stopped on Ctrl-C.
static struct sigaction jb_go_sigint;

static void jb_save_sigint(void) { sigaction(SIGINT, NULL, &jb_go_sigint); }

static int jb_solve(Cbc_Model *model) {
	Cbc_solve(model);
	sigaction(SIGINT, &jb_go_sigint, NULL);
	return Cbc_status(model) == 5 || Cbc_secondaryStatus(model) == 5;
}
*/
import "C"

import (
	"context"
	"fmt"
	"math"
	"syscall"
	"time"
	"unsafe"
)

func init() {
	C.jb_save_sigint()
	RegisterSolver("cbc", func(ctx context.Context, p *Problem, _ Config) (*Solution, error) {
		s, _, err := solveCBC(ctx, p, milpOptions{})
		return s, err
	})
	milpSolver = solveCBC
}

// solveCBC solves the MILP of all combinations meeting the target with CBC within ctx's deadline, and
// re-evaluates its plan with the cost evaluator (after polish). The bound is CBC's best possible
// objective (a valid bound: the MILP is a relaxation).
// When it finds no plan in time, bound is still what CBC proved (0 if nothing). opt selects the
// formulation (the baseline: the plain one) and an optional MIP start.
func solveCBC(ctx context.Context, p *Problem, opt milpOptions) (sol *Solution, bound float64, err error) {
	combos := p.Combos(p.Threshold)
	if len(combos) == 0 {
		return nil, 0, p.accuracyInfeasible(p.Threshold)
	}
	order, err := p.TopoOrder()
	if err != nil {
		return nil, 0, err
	}
	m := p.buildMILP(ctx, combos, opt.Strength)
	secs := 0.0
	if d, ok := ctx.Deadline(); ok {
		// CBC overruns its limit on a loaded machine (measured: 0.2–0.4 s at 10 s under load 8; more
		// than 0.7 s on the strengthened model of 36 hosts / 3 tiers under load 9) and is abandoned
		// cbcGrace past the deadline, losing its plan and bound; so it is told to stop cbcMargin early.
		left := time.Until(d)
		if secs = (left - cbcMargin(left)).Seconds(); secs < 0.01 {
			return nil, 0, fmt.Errorf("cbc: no time left: %w", ErrTimeLimit)
		}
	}
	// No MIP start: CBC 2.10.8's C interface cannot take one (Cbc_setMIPStart and Cbc_setMIPStartI both
	// end in "Illegal index n in ClpModel::getColumnName", n the number of columns, and drop the start;
	// with preprocessing off the solve crashes). No cutoff either: measured on 36 distinct hosts / 2
	// tiers / 57, where the heuristic's plan is optimal, CBC proved it in 7.3 s with the heuristic's cost
	// as cutoff and in 0.28 s without.
	var start []float64
	if opt.Start != nil {
		start = p.milpPoint(m, &opt.Start.Assignment)
	}
	x, lb, optimal, err := runCBCBounded(ctx, m, secs, math.Inf(1), start)
	if err != nil {
		return nil, 0, fmt.Errorf("cbc: %w", err)
	}
	if x == nil {
		if optimal && math.IsInf(lb, 1) {
			return nil, lb, p.explainInfeasible(combos)
		}
		if optimal {
			return nil, lb, fmt.Errorf("cbc: finished without a plan (bound %g)", lb)
		}
		return nil, lb, fmt.Errorf("cbc: no plan within the time limit (bound %g): %w", lb, ErrTimeLimit)
	}
	c, a, err := p.milpPlan(m, x)
	if err != nil {
		return nil, lb, fmt.Errorf("cbc: %w", err)
	}
	a, compute, comm := p.polish(a, order, func() bool { return ctx.Err() != nil })
	total := compute + comm
	if math.IsInf(total, 1) {
		return nil, lb, fmt.Errorf("cbc: the MILP's plan has backward traffic (a formulation error)")
	}
	return &Solution{Assignment: a, Order: order, Compute: compute, Comm: comm, Total: total,
		Accuracy: c.Accuracy, Solver: "cbc", LowerBound: math.Min(lb, total)}, lb, nil
}

// runCBCBounded is runCBC that returns by ctx's deadline (or cancellation) plus a short grace even if
// CBC overruns its own time limit (it checks the clock only between phases, and cannot be interrupted
// through its C interface): the solve is then abandoned, left to finish in the background, and reports
// nothing (bound 0).
func runCBCBounded(ctx context.Context, m *milpModel, secs, cutoff float64, start []float64) (x []float64, lb float64, optimal bool, err error) {
	type result struct {
		x       []float64
		lb      float64
		optimal bool
		err     error
	}
	done := make(chan result, 1)
	go func() {
		x, lb, optimal, err := runCBC(m, secs, cutoff, start)
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

// cbcGrace is how long past the deadline a CBC solve may take before it is abandoned (the limit's promise
// is "back within the limit + 1 s").
const cbcGrace = 700 * time.Millisecond

// cbcMargin is how long before the deadline CBC is asked to stop, out of the time left: a tenth of it,
// at least 0.4 s. What CBC leaves goes to our own search.
func cbcMargin(left time.Duration) time.Duration { return max(400*time.Millisecond, left/10) }

// runCBC solves m within secs seconds (0: no limit), pruning above cutoff. x is nil when no solution
// was found; lb is the proven lower bound (cutoff when CBC proved nothing cheaper exists, +Inf when
// nothing exists at all); optimal says the search finished (lb is then final).
func runCBC(m *milpModel, secs, cutoff float64, start []float64) (x []float64, lb float64, optimal bool, err error) {
	model := C.Cbc_newModel()
	defer C.Cbc_deleteModel(model)
	n, nr := len(m.obj), len(m.rows)
	colStart, index, value := m.CSC()
	cStart := cInts(colStart)
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
	if start != nil {
		cs := cDoubles(start)
		defer freeAll(cs)
		C.Cbc_setInitialSolution(model, (*C.double)(cs))
	}
	if C.jb_solve(model) != 0 {
		// CBC took the Ctrl-C meant for us: hand it on to the Go runtime (its handler is back), which
		// cancels the solve's context (signal.NotifyContext) as if CBC had not been there.
		_ = syscall.Kill(syscall.Getpid(), syscall.SIGINT)
	}
	finished := C.Cbc_status(model) == 0 // the search ended by itself, not by a limit
	noSolution := C.Cbc_numberSavedSolutions(model) == 0 && C.Cbc_bestSolution(model) == nil
	if C.Cbc_isProvenInfeasible(model) != 0 || (finished && noSolution) {
		// Nothing below the cutoff (+Inf when there was none). CBC prunes within a small tolerance of the
		// cutoff, so the bound claimed is a millionth below it.
		if math.IsInf(cutoff, 1) {
			return nil, cutoff, true, nil
		}
		return nil, cutoff - 1e-6*math.Abs(cutoff), true, nil
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
