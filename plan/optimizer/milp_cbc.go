package optimizer

// The CBC baseline: the plain MILP of milp.go handed to COIN-OR CBC (Debian: coinor-libcbc3), one
// variant combination at a time, with the library's own branch and bound, cuts and heuristics. The
// library is loaded when first needed (package coin), in a process of its own (runCBCProcess); where it
// is not installed the exact solver runs without it and `--solver cbc` says how to get it.

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

	"jellybean/plan/optimizer/coin"
)

func init() {
	if os.Getenv(cbcProcessEnv) == "1" {
		os.Exit(cbcProcessMain()) // this binary was started as a CBC process (runCBCProcess)
	}
	RegisterSolver("cbc", func(ctx context.Context, p *Problem, _ Config) (*Solution, error) {
		if err := CBCAvailable(); err != nil {
			return nil, fmt.Errorf("solver cbc: %w", err)
		}
		s, _, err := solveCBC(ctx, p, milpOptions{})
		return s, err
	})
	// The same plain MILP in HiGHS (highs.go): a second baseline, to compare the two libraries alone.
	RegisterSolver("highs", func(ctx context.Context, p *Problem, _ Config) (*Solution, error) {
		if !HiGHSAvailable() {
			return nil, errors.New("solver highs: " + HiGHSMissing)
		}
		s, _, err := solveCBC(ctx, p, milpOptions{HiGHS: true})
		if s != nil {
			s.Solver = "highs"
		}
		return s, err
	})
}

// EnvCBC, set to 0, keeps CBC out of every solve, as on a machine without its library.
const EnvCBC = "JELLYBEAN_CBC"

// CBCAvailable is nil when CBC can be used — its library loads (package coin; JELLYBEAN_CBC_LIB names
// another) and JELLYBEAN_CBC is not 0 — and otherwise says why not and how to get it.
func CBCAvailable() error {
	if os.Getenv(EnvCBC) == "0" {
		return fmt.Errorf("COIN-OR CBC is turned off (%s=0)", EnvCBC)
	}
	if err := loadCBC(); err != nil {
		return fmt.Errorf("%w; install it (Debian: apt-get install coinor-libcbc3) or name it in %s", err, coin.EnvLib)
	}
	return nil
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
		model := "hosts"
		if m.strength&milpKinds != 0 {
			model = "kinds"
		}
		tracef("cbc (%s): %d columns, %d rows, start %v, %.2f s", model, len(m.obj), len(m.rowLB), start != nil, secs)
		x, lb, optimal, err = runCBCBounded(ctx, m, secs, math.Inf(1), start)
		tracef("cbc (%s, start %v): plan %v, bound %g, optimal %v, error %v", model, start != nil, x != nil, lb, optimal, err)
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
	tracef("%s plan rounded and polished: %g (its MILP objective %g)", map[bool]string{false: "cbc", true: "highs"}[opt.HiGHS], total, dot(m.obj, x))
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
	var lps []float64
	if CBCAvailable() == nil {
		a, err := runCBCProcess(ctx, job)
		if err != nil {
			return m.combos, 0, math.Inf(1)
		}
		lps = a.LPs
	} else {
		lps = runHiGHSLPs(ctx, m, job.Secs) // HiGHS alone: no CLP
	}
	if len(lps) != len(m.combos) {
		return m.combos, 0, math.Inf(1)
	}
	keptLB, droppedLB = math.Inf(1), math.Inf(1)
	for k, lp := range lps {
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

// MILPHint is a note for the user when s, the exact solver's result, is left more than half a percent
// from its bound and a MILP solver that closes such gaps is missing (on fleets of distinct hosts: 72 of
// them, 3 tiers, 37 % with the search alone, proven optimal with CBC and HiGHS; BENCHMARKS.md); ""
// otherwise.
func MILPHint(s *Solution) string {
	if s == nil || s.Solver != "exact" || s.Gap() <= 0.005 {
		return ""
	}
	var missing []string
	if err := CBCAvailable(); err != nil {
		missing = append(missing, err.Error())
	}
	if !HiGHSAvailable() {
		missing = append(missing, "HiGHS: "+HiGHSMissing)
	}
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("gap %.2f %%: the exact solver closes such gaps with MILP solvers this machine lacks — %s",
		100*s.Gap(), strings.Join(missing, "; "))
}

// Engines names the solver libraries this process uses beside its own code — "cbc" and "clp" (COIN-OR,
// loaded at run time) and "highs" (SciPy's) — so that a result can say what produced it: the exact
// solver's figures on distinct fleets depend on them (BENCHMARKS.md, issue 12).
func Engines() []string {
	var out []string
	if CBCAvailable() == nil {
		out = append(out, "cbc", "clp")
	}
	if HiGHSAvailable() {
		out = append(out, "highs")
	}
	return out
}

// dot is Σ a[i]·b[i] (a MILP point's objective, for the trace).
func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
