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
#include <Clp_C_Interface.h>
*/
import "C"

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"time"
	"unsafe"
)

func init() {
	if os.Getenv(cbcProcessEnv) == "1" {
		os.Exit(cbcProcessMain()) // this binary was started as a CBC process (runCBCProcess)
	}
	RegisterSolver("cbc", func(ctx context.Context, p *Problem, _ Config) (*Solution, error) {
		s, _, err := solveCBC(ctx, p, milpOptions{})
		return s, err
	})
	// The same plain MILP in HiGHS (highs.go): a second baseline, to compare the two libraries alone.
	RegisterSolver("highs", func(ctx context.Context, p *Problem, _ Config) (*Solution, error) {
		if !HiGHSAvailable() {
			return nil, fmt.Errorf("solver highs: no python3 with scipy.optimize.milp (Debian: apt-get install python3-scipy), or JELLYBEAN_HIGHS=0")
		}
		s, _, err := solveCBC(ctx, p, milpOptions{HiGHS: true})
		if s != nil {
			s.Solver = "highs"
		}
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
	// prunedLB bounds the combinations left out of the model (+Inf: none left out).
	// keptLB bounds the combinations kept (their least LP; 0: not known).
	prunedLB, keptLB := math.Inf(1), 0.0
	var m *milpModel
	if opt.PruneAbove > 0 && !math.IsInf(opt.PruneAbove, 1) && len(combos) > 1 {
		pr := opt.pruned
		if pr == nil {
			pr = &prunedCombos{}
		}
		pr.once.Do(func() {
			tracef("pruning: building the model of %d variant combinations", len(combos))
			full := p.buildMILP(ctx, combos, opt.Strength)
			tracef("pruning: model built (%d columns, %d rows); solving each combination's LP", len(full.obj), len(full.rowLB))
			pr.keep, pr.keptLB, pr.lb = p.pruneCombos(ctx, full, opt.PruneAbove)
			if len(pr.keep) == len(combos) {
				pr.full = full
			}
		})
		prunedLB, keptLB, m = pr.lb, pr.keptLB, pr.full
		tracef("pruning: %d of %d variant combinations kept (kept LP ≥ %g, dropped ≥ %g)", len(pr.keep), len(combos), keptLB, prunedLB)
		if len(pr.keep) == 0 {
			// No combination's LP is below the known plan's cost: that plan is optimal (to the LPs'
			// tolerance), and the least LP is the bound.
			return nil, prunedLB, fmt.Errorf("cbc: no variant combination can beat a cost of %g", opt.PruneAbove)
		}
		combos = pr.keep
	}
	if m == nil {
		m = p.buildMILP(ctx, combos, opt.Strength)
	}
	defer func() {
		// The cover rows' sum is a bound of its own (≤ the optimum), for when CBC reports a weaker one:
		// stopped early, killed past the deadline, or crashed (bound 0).
		if m.strength&milpCovers != 0 && !math.IsInf(m.coverLB, 1) && m.coverLB > bound {
			bound = m.coverLB
		}
		// So is the least LP of the kept combinations, much closer (72 distinct hosts / 3 tiers / 56:
		// 113.8 against the covers' 69.3, optimum 117.44).
		if keptLB > bound {
			bound = keptLB
		}
		// The model holds only the combinations that might beat the start: a bound over it covers
		// the others only up to their own LPs.
		if bound > prunedLB {
			bound = prunedLB
		}
		if sol != nil {
			sol.LowerBound = math.Min(bound, sol.Total)
		}
	}()
	// A better start, if a search beside has one by now (it may wait for it: before the time is taken).
	if opt.StartFrom != nil {
		if b := opt.StartFrom(); b != nil {
			opt.Start = b
		}
	}
	secs := 0.0
	if d, ok := ctx.Deadline(); ok {
		// CBC overruns its limit on a loaded machine (measured: 0.2–0.4 s at 10 s under load 8; more
		// than 0.7 s on the strengthened model of 36 hosts / 3 tiers under load 9) and is killed
		// cbcGrace past the deadline, losing its plan and bound; so it is told to stop cbcMargin early.
		left := time.Until(d)
		if secs = (left - cbcMargin(left)).Seconds(); secs < 0.01 {
			return nil, 0, fmt.Errorf("cbc: no time left: %w", ErrTimeLimit)
		}
	}
	// The plan to start from (the heuristic's, for the exact solver) as a point of the model, through
	// Cbc_setInitialSolution: CBC then has an incumbent from the start (the MIP start calls of the C
	// interface, Cbc_setMIPStart and Cbc_setMIPStartI, drop it with "Illegal index n in
	// ClpModel::getColumnName" in CBC 2.10.8). Measured in BENCHMARKS.md.
	var start []float64
	if opt.Start != nil && !opt.HiGHS {
		start = p.milpPoint(m, &opt.Start.Assignment)
	}
	var x []float64
	var lb float64
	var optimal bool
	if opt.HiGHS {
		tracef("highs: %d columns, %d rows, %.2f s", len(m.obj), len(m.rowLB), secs)
		x, lb, optimal, err = runHiGHS(ctx, m, secs)
		tracef("highs: plan %v, bound %g, optimal %v, error %v", x != nil, lb, optimal, err)
	} else {
		tracef("cbc: %d columns, %d rows, start %v, %.2f s", len(m.obj), len(m.rowLB), start != nil, secs)
		x, lb, optimal, err = runCBCBounded(ctx, m, secs, math.Inf(1), start)
		tracef("cbc (start %v): plan %v, bound %g, optimal %v, error %v", start != nil, x != nil, lb, optimal, err)
	}
	if errors.Is(err, errCBCProcess) && start != nil && ctx.Err() == nil {
		// CBC died (an internal assertion, seen only with a starting solution): once more without it,
		// with the time left.
		if d, ok := ctx.Deadline(); ok {
			left := time.Until(d)
			secs = (left - cbcMargin(left)).Seconds()
		}
		if secs > 0.01 || secs == 0 {
			x, lb, optimal, err = runCBCBounded(ctx, m, secs, math.Inf(1), nil)
			tracef("cbc retried without the start (%.2f s): plan %v, bound %g, optimal %v, error %v", secs, x != nil, lb, optimal, err)
		}
	}
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

// pruneCombos solves the LP relaxation of m (over every combination) once per variant combination,
// that combination's z fixed to 1, and keeps the combinations whose LP is below cost (the starting
// plan's): no plan of the others is cheaper. It returns the kept combinations and the least LP of the
// others, less a millionth for the LP's tolerances (+Inf when none is dropped), and the least LP of the
// kept ones (a bound over them; 0 when not known). When the LPs do not come back in time, every
// combination is kept.
//
// Why: on distinct fleets CBC's bound over the whole model barely moves from its root, while over the
// one or two combinations that can win it closes — 72 distinct hosts / 3 tiers / 56: the LP of the best
// combination is 113.8 and of the next 144.0 against a plan of 117.9, and CBC on that combination alone
// proved 117.44 in 5.5 s where on all five it was at 1.6 % after 9 s (measured in BENCHMARKS.md). The
// model rebuilt over the kept combinations also has stronger rows (its covers are the least over fewer
// variants).
func (p *Problem) pruneCombos(ctx context.Context, m *milpModel, cost float64) (keep []Combo, keptLB, droppedLB float64) {
	job := cbcJob{Obj: m.obj, ColLB: m.colLB, ColUB: m.colUB, RowLB: m.rowLB, RowUB: m.rowUB, RelaxZ: m.z}
	job.ColStart, job.Index, job.Value = m.CSC()
	// The LPs get at most a quarter of the time left: past that, CBC on every combination is the
	// better use of it.
	// The process stops itself a little before that, so the LPs it solved come back (the others are
	// kept) rather than being lost with a killed process.
	if d, ok := ctx.Deadline(); ok {
		budget := time.Until(d) / 4
		job.Secs = max(0.01, (budget - cbcMargin(budget)).Seconds())
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, time.Now().Add(budget))
		defer cancel()
	}
	a, err := runCBCProcess(ctx, job)
	if err != nil || len(a.LPs) != len(m.combos) {
		return m.combos, 0, math.Inf(1)
	}
	keptLB, droppedLB = math.Inf(1), math.Inf(1)
	for k, lp := range a.LPs {
		if math.IsNaN(lp) || lp*(1-1e-6) < cost {
			keep = append(keep, m.combos[k])
			if math.IsNaN(lp) {
				lp = 0 // not solved: no bound
			}
			keptLB = math.Min(keptLB, lp*(1-1e-6))
			continue
		}
		droppedLB = math.Min(droppedLB, lp*(1-1e-6))
	}
	if len(keep) == 0 {
		keptLB = 0
	}
	return keep, keptLB, droppedLB
}

// runCBCBounded solves m in a CBC process of its own (runCBCProcess) and returns by ctx's deadline (or
// cancellation) plus a short grace even if CBC overruns its own time limit (it checks the clock only
// between phases): the process is then killed, and the solve reports nothing (bound 0).
//
// Why a process of its own: CBC 2.10.8 can abort the whole program on an internal assertion (seen with a
// starting solution: "OsiClpSolverInterface::resolve(): Assertion `modelPtr_->objectiveValue() < 1.0e100'
// failed", 2 of about 6 solves of 72 distinct hosts / 3 tiers / 56), its C interface cannot be
// interrupted, and an overrunning solve in a thread could only be abandoned, still taking a core from
// our search. In a process, a crash is an error the exact solver survives (it retries without the start
// and keeps its own search), and a solve past the deadline is killed.
func runCBCBounded(ctx context.Context, m *milpModel, secs, cutoff float64, start []float64) (x []float64, lb float64, optimal bool, err error) {
	job := cbcJob{Obj: m.obj, ColLB: m.colLB, ColUB: m.colUB, Integer: m.integer, RowLB: m.rowLB, RowUB: m.rowUB,
		Secs: secs, Cutoff: cutoff, Start: start}
	job.ColStart, job.Index, job.Value = m.CSC()
	a, err := runCBCProcess(ctx, job)
	if err != nil {
		return nil, 0, false, err
	}
	if a.Err != "" {
		return nil, 0, false, errors.New(a.Err)
	}
	return a.X, a.LB, a.Optimal, nil
}

// cbcJob is one MILP for a CBC process, in CBC's column form; cbcReply is what the process sends back.
type cbcJob struct {
	Obj, ColLB, ColUB   []float64
	Integer             []bool
	ColStart, Index     []int
	Value, RowLB, RowUB []float64
	Secs, Cutoff        float64
	Start               []float64 // a starting solution (nil: none)
	// RelaxZ, when set, asks for LP relaxations instead of a MILP solve: one per column of RelaxZ, that
	// column fixed to 1 and the others to 0 (one per variant combination), in LPs.
	RelaxZ []int
	// Params are CBC parameters by name (Cbc_setParameter), set before the solve.
	Params map[string]string
}

type cbcReply struct {
	X       []float64
	LB      float64
	Optimal bool
	LPs     []float64 // RelaxZ's LP values (+Inf: infeasible; NaN: not solved in time)
	Err     string
}

// cbcProcessEnv, set to 1, makes this binary a CBC process: it reads a cbcJob (gob) on stdin, solves it
// and writes a cbcReply on file descriptor 3 (stdout and stderr are CBC's own messages).
const cbcProcessEnv = "JELLYBEAN_CBC_PROCESS"

// errCBCProcess marks a CBC process that died without a reply (a crash in CBC).
var errCBCProcess = errors.New("the CBC process ended without a reply")

// cbcProcessMain is the CBC process's whole life (called from init, before any other code runs).
func cbcProcessMain() int {
	// SIGINT is CBC's "stop and reply": its handler is installed only while it searches, and outside
	// that (reading the job, CBC's own clean-up after a stop, writing the reply) the signal must not end
	// the process before it replies.
	signal.Ignore(os.Interrupt)
	var job cbcJob
	if err := gob.NewDecoder(os.Stdin).Decode(&job); err != nil {
		fmt.Fprintln(os.Stderr, "cbc process: reading the job:", err)
		return 2
	}
	out := os.NewFile(3, "reply")
	var a cbcReply
	if job.RelaxZ != nil {
		a.LPs = runLPs(job)
	} else {
		x, lb, optimal, err := runCBC(job)
		a = cbcReply{X: x, LB: lb, Optimal: optimal}
		if err != nil {
			a.Err = err.Error()
		}
	}
	if err := gob.NewEncoder(out).Encode(a); err != nil {
		fmt.Fprintln(os.Stderr, "cbc process: writing the reply:", err)
		return 2
	}
	return 0
}

// runCBCProcess starts this binary as a CBC process on job and waits for its reply until ctx's deadline
// plus cbcGrace (or, cancelled, cbcGrace more), then kills it. Cancelling ctx interrupts CBC (SIGINT), which
// then replies with its best plan and bound; Ctrl-C at the terminal reaches the process directly too.
func runCBCProcess(ctx context.Context, job cbcJob) (cbcReply, error) {
	exe, err := os.Executable()
	if err != nil {
		return cbcReply{}, fmt.Errorf("starting the CBC process: %w", err)
	}
	var in bytes.Buffer
	if err := gob.NewEncoder(&in).Encode(job); err != nil {
		return cbcReply{}, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return cbcReply{}, err
	}
	defer r.Close()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), cbcProcessEnv+"=1")
	cmd.Stdin = &in
	var stderr tailBuffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr // CBC's messages (log level 0 still prints a few)
	cmd.ExtraFiles = []*os.File{w}
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		w.Close()
		return cbcReply{}, fmt.Errorf("starting the CBC process: %w", err)
	}
	w.Close()
	type result struct {
		a   cbcReply
		err error
	}
	done := make(chan result, 1)
	go func() {
		var a cbcReply
		err := gob.NewDecoder(r).Decode(&a)
		werr := cmd.Wait()
		if err != nil {
			err = fmt.Errorf("%w (%v; %s)", errCBCProcess, werr, stderr.lastLine())
		}
		done <- result{a, err}
	}()
	var late <-chan time.Time
	if d, ok := ctx.Deadline(); ok {
		t := time.NewTimer(time.Until(d) + cbcGrace)
		defer t.Stop()
		late = t.C
	}
	select {
	case res := <-done:
		return res.a, res.err
	case <-late:
	case <-ctx.Done():
		// Cancelled (Ctrl-C, or another solve of a race proved the optimum) or past the deadline: CBC
		// stops on SIGINT as on its own limit (its handler is installed while it solves) and replies with
		// what it has; it gets the grace for that.
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case res := <-done:
			return res.a, res.err
		case <-time.After(cbcGrace):
		}
	}
	// Killed, our own child by its PID; it is reaped in the background (done is buffered): on a loaded
	// machine its teardown can take seconds, and the limit's promise is ours.
	_ = cmd.Process.Kill()
	return cbcReply{}, nil
}

// tailBuffer keeps the last 4 KiB written to it (a CBC process's messages, for the error when it dies).
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > 4096 {
		b.buf = b.buf[len(b.buf)-4096:]
	}
	return len(p), nil
}

func (b *tailBuffer) lastLine() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(b.buf)), "\n")
	return lines[len(lines)-1]
}

// cbcGrace is how long past the deadline a CBC process may take before it is killed (the limit's promise
// is "back within the limit + 1 s").
const cbcGrace = 700 * time.Millisecond

// cbcMargin is how long before the deadline CBC is asked to stop, out of the time left: a tenth of it,
// at least 0.4 s. What CBC leaves goes to our own search.
func cbcMargin(left time.Duration) time.Duration { return max(400*time.Millisecond, left/10) }

// runCBC solves job within job.Secs seconds (0: no limit), pruning above job.Cutoff, in this process. x
// is nil when no solution was found; lb is the proven lower bound (the cutoff when CBC proved nothing
// cheaper exists, +Inf when nothing exists at all); optimal says the search finished (lb is then final).
func runCBC(job cbcJob) (x []float64, lb float64, optimal bool, err error) {
	secs, cutoff := job.Secs, job.Cutoff
	model := loadCBC(job)
	defer C.Cbc_deleteModel(model)
	C.Cbc_setLogLevel(model, 0)
	// Wall-clock seconds: by default CBC counts CPU seconds, which a loaded machine stretches.
	setParam(model, "timeMode", "elapsed")
	for k, v := range job.Params {
		setParam(model, k, v)
	}
	C.Cbc_setAllowableGap(model, 1e-9)
	C.Cbc_setAllowableFractionGap(model, 1e-9)
	if secs > 0 {
		C.Cbc_setMaximumSeconds(model, C.double(secs))
	}
	if !math.IsInf(cutoff, 1) {
		C.Cbc_setCutoff(model, C.double(cutoff))
	}
	if job.Start != nil {
		cs := cDoubles(job.Start)
		defer freeAll(cs)
		C.Cbc_setInitialSolution(model, (*C.double)(cs))
	}
	if path := os.Getenv("JELLYBEAN_CBC_WRITE_MPS"); path != "" {
		// For study outside the program: the exact model CBC is given, as PATH.mps.
		cp := C.CString(path)
		C.Cbc_writeMps(model, cp)
		C.free(unsafe.Pointer(cp))
	}
	C.Cbc_solve(model)
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
	x = make([]float64, len(job.Obj))
	copy(x, unsafe.Slice((*float64)(unsafe.Pointer(sol)), len(x)))
	if optimal {
		lb = math.Min(lb, float64(C.Cbc_getObjValue(model)))
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
	if len(out) == 0 {
		return out
	}
	began := time.Now()
	model := C.Clp_newModel()
	defer C.Clp_deleteModel(model)
	n, nr := len(job.Obj), len(job.RowLB)
	cStart, cIndex, cValue := cInts(job.ColStart), cInts(job.Index), cDoubles(job.Value)
	cLB, cUB, cObj := cDoubles(job.ColLB), cDoubles(finite(job.ColUB)), cDoubles(job.Obj)
	rLB, rUB := cDoubles(finite(job.RowLB)), cDoubles(finite(job.RowUB))
	defer freeAll(cStart, cIndex, cValue, cLB, cUB, cObj, rLB, rUB)
	C.Clp_loadProblem(model, C.int(n), C.int(nr), (*C.CoinBigIndex)(cStart), (*C.int)(cIndex), (*C.double)(cValue),
		(*C.double)(cLB), (*C.double)(cUB), (*C.double)(cObj), (*C.double)(rLB), (*C.double)(rUB))
	C.Clp_setLogLevel(model, 0)
	lo := unsafe.Slice((*float64)(cLB), max(1, n))
	up := unsafe.Slice((*float64)(cUB), max(1, n))
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
			lo[j], up[j] = v, v
		}
		C.Clp_chgColumnLower(model, (*C.double)(cLB))
		C.Clp_chgColumnUpper(model, (*C.double)(cUB))
		if job.Secs > 0 {
			C.Clp_setMaximumSeconds(model, C.double(left))
		}
		if k == 0 {
			C.Clp_initialSolve(model)
		} else {
			C.Clp_dual(model, 0)
		}
		switch {
		case C.Clp_isProvenPrimalInfeasible(model) != 0:
			out[k] = math.Inf(1)
		case C.Clp_isProvenOptimal(model) != 0:
			out[k] = float64(C.Clp_objectiveValue(model))
		}
	}
	return out
}

// loadCBC is a new CBC model holding job's matrix, bounds, objective and integer columns.
func loadCBC(job cbcJob) unsafe.Pointer {
	model := C.Cbc_newModel()
	n, nr := len(job.Obj), len(job.RowLB)
	cStart := cInts(job.ColStart)
	cIndex := cInts(job.Index)
	cValue := cDoubles(job.Value)
	cLB, cUB, cObj := cDoubles(job.ColLB), cDoubles(finite(job.ColUB)), cDoubles(job.Obj)
	rLB, rUB := cDoubles(finite(job.RowLB)), cDoubles(finite(job.RowUB))
	defer freeAll(cStart, cIndex, cValue, cLB, cUB, cObj, rLB, rUB)
	C.Cbc_loadProblem(model, C.int(n), C.int(nr), (*C.int)(cStart), (*C.int)(cIndex), (*C.double)(cValue),
		(*C.double)(cLB), (*C.double)(cUB), (*C.double)(cObj), (*C.double)(rLB), (*C.double)(rUB))
	for j, isInt := range job.Integer {
		if isInt {
			C.Cbc_setInteger(model, C.int(j))
		}
	}
	return model
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
