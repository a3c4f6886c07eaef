package optimizer

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// HiGHS, a second MILP solver beside CBC. On the exact solver's own models of distinct fleets
// (BENCHMARKS.md, issue 12) HiGHS proves 72 hosts / 3 tiers / 55 and 56 in 2–5 s, which CBC does not
// in 8 s, while CBC is the faster on others; so the exact solver races the two (raceMILP) when HiGHS is
// installed. It comes from SciPy (scipy.optimize.milp, a native build of
// HiGHS; Debian: python3-scipy): Debian 12 packages no HiGHS library for a Go binding to link against.
// Each solve is one Python process fed the model as JSON: like the CBC process, it is killed if it
// overruns the deadline, and a crash is only an error.

//go:embed highs.py
var highsScript string

// EnvHiGHS set to 0 keeps HiGHS out of the exact solver (CBC alone, as without SciPy).
const EnvHiGHS = "JELLYBEAN_HIGHS"

// highsRelGap is the relative gap at which HiGHS stops as optimal: far below any target, and close to
// the race's test of a proof (a bound within 2e-6 of the plan).
const highsRelGap = 1e-6

var highsPython = sync.OnceValue(findHiGHSPython)

// findHiGHSPython returns a Python that imports scipy.optimize.milp ("" when none does): Debian's own
// first, since a python3 earlier on PATH (a virtual environment, pyenv) may lack SciPy.
func findHiGHSPython() string {
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		path, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		// 0.2 s on this project's machines; the cap keeps a broken installation from holding up a solve
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = exec.CommandContext(ctx, path, "-c", "from scipy.optimize import milp").Run()
		cancel()
		if err == nil {
			return path
		}
	}
	return ""
}

// HiGHSMissing says why HiGHS cannot be used and how to get it, for errors and hints.
const HiGHSMissing = "no python3 with scipy.optimize.milp (Debian: apt-get install python3-scipy), or " + EnvHiGHS + "=0"

// HiGHSAvailable says whether the exact solver may use HiGHS: SciPy with milp is installed and
// JELLYBEAN_HIGHS is not 0.
func HiGHSAvailable() bool { return os.Getenv(EnvHiGHS) != "0" && highsPython() != "" }

// highsJob is the model as highs.py reads it (column form; infinities as ±1e300, which JSON can carry).
type highsJob struct {
	Obj      []float64 `json:"obj"`
	ColLB    []float64 `json:"col_lb"`
	ColUB    []float64 `json:"col_ub"`
	Integer  []int     `json:"integer"`
	ColStart []int     `json:"col_start"`
	Index    []int     `json:"index"`
	Value    []float64 `json:"value"`
	RowLB    []float64 `json:"row_lb"`
	RowUB    []float64 `json:"row_ub"`
	Secs     float64   `json:"secs"`
	RelGap   float64   `json:"rel_gap"`
	// RelaxZ, when set, asks for LP relaxations instead of a MILP solve, as cbcJob.RelaxZ does.
	RelaxZ []int `json:"relax_z,omitempty"`
}

type highsReply struct {
	Status    int       `json:"status"` // scipy.optimize.milp: 0 optimal, 1 a limit, 2 infeasible, 3 unbounded, 4 other
	Message   string    `json:"message"`
	X         []float64 `json:"x"`
	Objective *float64  `json:"objective"`
	Bound     *float64  `json:"bound"`
}

// runHiGHS solves m with HiGHS within secs seconds (0: no limit), as runCBCBounded does with CBC: x is
// nil when no solution was found; lb is the proven lower bound (+Inf when nothing exists at all, 0 when
// HiGHS reports none); optimal says the search finished. The process is killed cbcGrace past ctx's
// deadline, or at once when ctx is cancelled (another solve proved the optimum).
//
// highsGrace is how long past the deadline the process may take before it is killed (as cbcGrace).
func runHiGHS(ctx context.Context, m *milpModel, secs float64) (x []float64, lb float64, optimal bool, err error) {
	var r highsReply
	if err := callHiGHS(ctx, newHiGHSJob(m, secs), &r); err != nil {
		return nil, 0, false, err
	}
	switch r.Status {
	case 2:
		return nil, math.Inf(1), true, nil
	case 0, 1:
	default:
		return nil, 0, false, fmt.Errorf("highs: status %d: %s", r.Status, r.Message)
	}
	if r.Bound != nil {
		lb = *r.Bound
	}
	optimal = r.Status == 0
	if r.X == nil || len(r.X) != len(m.obj) {
		return nil, lb, optimal, nil
	}
	if optimal && r.Objective != nil {
		lb = math.Min(math.Max(lb, *r.Objective*(1-highsRelGap)), *r.Objective)
	}
	return r.X, lb, optimal, nil
}

// runHiGHSLPs is runLPs in HiGHS, for where CBC's library (and with it CLP) is not installed: m's LP
// relaxation once per variant combination, that combination's z fixed to 1, within secs in all. Each LP
// is solved from scratch (SciPy offers no warm start). NaN: not solved; +Inf: infeasible.
func runHiGHSLPs(ctx context.Context, m *milpModel, secs float64) []float64 {
	out := make([]float64, len(m.z))
	for k := range out {
		out[k] = math.NaN()
	}
	job := newHiGHSJob(m, secs)
	job.Integer, job.RelaxZ = nil, m.z
	var r struct {
		LPs []*float64 `json:"lps"`
	}
	if err := callHiGHS(ctx, job, &r); err != nil || len(r.LPs) != len(out) {
		tracef("highs LPs: %v (%d of %d)", err, len(r.LPs), len(out))
		return out
	}
	for k, v := range r.LPs {
		switch {
		case v == nil:
		case *v >= 1e299:
			out[k] = math.Inf(1)
		default:
			out[k] = *v
		}
	}
	return out
}

func newHiGHSJob(m *milpModel, secs float64) highsJob {
	job := highsJob{Obj: m.obj, ColLB: jsonFloats(m.colLB), ColUB: jsonFloats(m.colUB), Integer: make([]int, len(m.integer)),
		RowLB: jsonFloats(m.rowLB), RowUB: jsonFloats(m.rowUB), Secs: secs, RelGap: highsRelGap}
	for j, in := range m.integer {
		if in {
			job.Integer[j] = 1
		}
	}
	job.ColStart, job.Index, job.Value = m.CSC()
	return job
}

// callHiGHS runs highs.py on job and decodes its reply into reply. The process is killed highsGrace past
// ctx's deadline, or at once when ctx is cancelled.
func callHiGHS(ctx context.Context, job highsJob, reply any) error {
	py := highsPython()
	if py == "" {
		return errors.New("highs: " + HiGHSMissing)
	}
	in, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("highs: %w", err)
	}
	pctx, cancel := context.WithCancel(ctx)
	if d, ok := ctx.Deadline(); ok {
		cancel()
		pctx, cancel = context.WithDeadline(context.Background(), d.Add(highsGrace))
		stop := context.AfterFunc(ctx, func() {
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				cancel() // cancelled, not timed out: nobody waits for this solve any more
			}
		})
		defer stop()
	}
	defer cancel()
	cmd := exec.CommandContext(pctx, py, "-c", highsScript)
	cmd.Stdin = bytes.NewReader(in)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		if pctx.Err() != nil {
			return fmt.Errorf("highs: stopped (%v)", pctx.Err())
		}
		return fmt.Errorf("highs: %v: %s", err, lastLine(stderr.String()))
	}
	if err := json.Unmarshal(out.Bytes(), reply); err != nil {
		return fmt.Errorf("highs: reading its reply: %w", err)
	}
	return nil
}

const highsGrace = 700 * time.Millisecond

// jsonFloats returns v with infinities as ±1e300 (highs.py turns them back).
func jsonFloats(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, f := range v {
		out[i] = max(-1e300, min(1e300, f))
	}
	return out
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
