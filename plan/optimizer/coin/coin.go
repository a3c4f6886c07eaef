//go:build cgo

package coin

/*
#cgo linux LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The functions bound, by index into fn (the order of names below).
enum {
	CBC_NEW, CBC_DELETE, CBC_LOAD, CBC_SET_INTEGER, CBC_SET_LOG, CBC_SET_PARAM, CBC_SET_GAP,
	CBC_SET_FRAC_GAP, CBC_SET_SECONDS, CBC_SET_CUTOFF, CBC_SET_START, CBC_WRITE_MPS, CBC_SOLVE,
	CBC_STATUS, CBC_SAVED, CBC_BEST, CBC_INFEASIBLE, CBC_BOUND, CBC_OPTIMAL, CBC_COLS, CBC_OBJ,
	CLP_NEW, CLP_DELETE, CLP_LOAD, CLP_SET_LOG, CLP_CHG_LOWER, CLP_CHG_UPPER, CLP_SET_SECONDS,
	CLP_INITIAL, CLP_DUAL, CLP_INFEASIBLE, CLP_OPTIMAL, CLP_OBJ, CLP_PRIMAL_COLS, CLP_DUAL_ROWS, CLPSOLVE_NEW, CLPSOLVE_DELETE, CLPSOLVE_SPECIAL, CLP_INITIAL_OPTS, NFN
};

static const char *names[NFN] = {
	"Cbc_newModel", "Cbc_deleteModel", "Cbc_loadProblem", "Cbc_setInteger", "Cbc_setLogLevel",
	"Cbc_setParameter", "Cbc_setAllowableGap", "Cbc_setAllowableFractionGap", "Cbc_setMaximumSeconds",
	"Cbc_setCutoff", "Cbc_setInitialSolution", "Cbc_writeMps", "Cbc_solve", "Cbc_status",
	"Cbc_numberSavedSolutions", "Cbc_bestSolution", "Cbc_isProvenInfeasible",
	"Cbc_getBestPossibleObjValue", "Cbc_isProvenOptimal", "Cbc_getColSolution", "Cbc_getObjValue",
	"Clp_newModel", "Clp_deleteModel", "Clp_loadProblem", "Clp_setLogLevel", "Clp_chgColumnLower",
	"Clp_chgColumnUpper", "Clp_setMaximumSeconds", "Clp_initialSolve", "Clp_dual",
	"Clp_isProvenPrimalInfeasible", "Clp_isProvenOptimal", "Clp_objectiveValue",
	"Clp_primalColumnSolution", "Clp_dualRowSolution", "ClpSolve_new", "ClpSolve_delete",
	"ClpSolve_setSpecialOption", "Clp_initialSolveWithOptions",
};

static void *fn[NFN];

// jb_load opens the library at path (its dependencies, CLP among them, come with it) and looks up every
// function, into fn only once all are found; it returns 0, or -1 with what went wrong in err (dlerror's
// text, copied here before another call can change it, or the missing function).
static int jb_load(const char *path, char *err, int n) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(err, n, "%s", dlerror());
		return -1;
	}
	void *found[NFN];
	for (int i = 0; i < NFN; i++) {
		found[i] = dlsym(h, names[i]);
		if (!found[i]) {
			snprintf(err, n, "%s has no function %s (CBC 2.10 or newer is needed)", path, names[i]);
			dlclose(h);
			return -1;
		}
	}
	memcpy(fn, found, sizeof fn);
	return 0;
}

typedef void *M;

// CBC (Cbc_C_Interface.h of CBC 2.10; CoinBigIndex is int in Debian's build).
static M cbc_new(void) { return ((M (*)(void))fn[CBC_NEW])(); }
static void cbc_delete(M m) { ((void (*)(M))fn[CBC_DELETE])(m); }
static void cbc_load(M m, int nc, int nr, const int *start, const int *index, const double *value,
		const double *collb, const double *colub, const double *obj, const double *rowlb, const double *rowub) {
	((void (*)(M, int, int, const int *, const int *, const double *, const double *, const double *,
		const double *, const double *, const double *))fn[CBC_LOAD])(m, nc, nr, start, index, value, collb,
		colub, obj, rowlb, rowub);
}
static void cbc_set_integer(M m, int j) { ((void (*)(M, int))fn[CBC_SET_INTEGER])(m, j); }
static void cbc_set_log(M m, int l) { ((void (*)(M, int))fn[CBC_SET_LOG])(m, l); }
static void cbc_set_param(M m, const char *k, const char *v) { ((void (*)(M, const char *, const char *))fn[CBC_SET_PARAM])(m, k, v); }
static void cbc_set_gap(M m, double g) { ((void (*)(M, double))fn[CBC_SET_GAP])(m, g); }
static void cbc_set_frac_gap(M m, double g) { ((void (*)(M, double))fn[CBC_SET_FRAC_GAP])(m, g); }
static void cbc_set_seconds(M m, double s) { ((void (*)(M, double))fn[CBC_SET_SECONDS])(m, s); }
static void cbc_set_cutoff(M m, double c) { ((void (*)(M, double))fn[CBC_SET_CUTOFF])(m, c); }
static void cbc_set_start(M m, const double *x) { ((void (*)(M, const double *))fn[CBC_SET_START])(m, x); }
static void cbc_write_mps(M m, const char *path) { ((void (*)(M, const char *))fn[CBC_WRITE_MPS])(m, path); }
static int cbc_solve(M m) { return ((int (*)(M))fn[CBC_SOLVE])(m); }
static int cbc_status(M m) { return ((int (*)(M))fn[CBC_STATUS])(m); }
static int cbc_saved(M m) { return ((int (*)(M))fn[CBC_SAVED])(m); }
static const double *cbc_best(M m) { return ((const double *(*)(M))fn[CBC_BEST])(m); }
static int cbc_infeasible(M m) { return ((int (*)(M))fn[CBC_INFEASIBLE])(m); }
static double cbc_bound(M m) { return ((double (*)(M))fn[CBC_BOUND])(m); }
static int cbc_optimal(M m) { return ((int (*)(M))fn[CBC_OPTIMAL])(m); }
static const double *cbc_cols(M m) { return ((const double *(*)(M))fn[CBC_COLS])(m); }
static double cbc_obj(M m) { return ((double (*)(M))fn[CBC_OBJ])(m); }

// CLP (Clp_C_Interface.h of CLP 1.17).
static M clp_new(void) { return ((M (*)(void))fn[CLP_NEW])(); }
static void clp_delete(M m) { ((void (*)(M))fn[CLP_DELETE])(m); }
static void clp_load(M m, int nc, int nr, const int *start, const int *index, const double *value,
		const double *collb, const double *colub, const double *obj, const double *rowlb, const double *rowub) {
	((void (*)(M, int, int, const int *, const int *, const double *, const double *, const double *,
		const double *, const double *, const double *))fn[CLP_LOAD])(m, nc, nr, start, index, value, collb,
		colub, obj, rowlb, rowub);
}
static void clp_set_log(M m, int l) { ((void (*)(M, int))fn[CLP_SET_LOG])(m, l); }
static void clp_chg_lower(M m, const double *lo) { ((void (*)(M, const double *))fn[CLP_CHG_LOWER])(m, lo); }
static void clp_chg_upper(M m, const double *up) { ((void (*)(M, const double *))fn[CLP_CHG_UPPER])(m, up); }
static void clp_set_seconds(M m, double s) { ((void (*)(M, double))fn[CLP_SET_SECONDS])(m, s); }
static int clp_initial(M m) { return ((int (*)(M))fn[CLP_INITIAL])(m); }
static int clp_dual(M m) { return ((int (*)(M, int))fn[CLP_DUAL])(m, 0); }
static int clp_infeasible(M m) { return ((int (*)(M))fn[CLP_INFEASIBLE])(m); }
static int clp_optimal(M m) { return ((int (*)(M))fn[CLP_OPTIMAL])(m); }
static double clp_obj(M m) { return ((double (*)(M))fn[CLP_OBJ])(m); }
static const double *clp_primal_cols(M m) { return ((const double *(*)(M))fn[CLP_PRIMAL_COLS])(m); }
static const double *clp_dual_rows(M m) { return ((const double *(*)(M))fn[CLP_DUAL_ROWS])(m); }

// clp_initial_quiet is Clp_initialSolve without CLP's Ctrl-C handling: by default CLP installs its own
// SIGINT handler for the solve and puts the old one back with signal(), which drops the flags (SA_ONSTACK,
// SA_SIGINFO) Go's runtime needs — the next Ctrl-C then crashes a Go program ("non-Go code set up signal
// handler without SA_ONSTACK flag"). Special option 2 (nonzero: no interrupt handling) leaves signals alone.
static int clp_initial_quiet(M m) {
	M opts = ((M (*)(void))fn[CLPSOLVE_NEW])();
	((void (*)(M, int, int, int))fn[CLPSOLVE_SPECIAL])(opts, 2, 1, -1);
	int r = ((int (*)(M, M))fn[CLP_INITIAL_OPTS])(m, opts);
	((void (*)(M))fn[CLPSOLVE_DELETE])(opts);
	return r;
}
*/
import "C"

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// EnvLib names the CBC library to load instead of the default names (libCbcSolver.so.3, then
// libCbcSolver.so, found the way the dynamic loader finds any library).
const EnvLib = "JELLYBEAN_CBC_LIB"

var (
	loadOnce sync.Once
	loadErr  error
)

// Load opens CBC's C library once and looks up every function this package calls; later calls return
// the first one's result. Nothing else in the package may be called unless it returned nil.
func Load() error {
	loadOnce.Do(func() { loadErr = load() })
	return loadErr
}

func load() error {
	candidates := []string{"libCbcSolver.so.3", "libCbcSolver.so"}
	if runtime.GOOS == "darwin" {
		candidates = []string{"libCbcSolver.3.dylib", "libCbcSolver.dylib"}
	}
	if p := os.Getenv(EnvLib); p != "" {
		candidates = []string{p}
	}
	var errs []string
	buf := (*C.char)(C.malloc(512))
	defer C.free(unsafe.Pointer(buf))
	for _, name := range candidates {
		cp := C.CString(name)
		r := C.jb_load(cp, buf, 512)
		C.free(unsafe.Pointer(cp))
		if r == 0 {
			return nil
		}
		errs = append(errs, C.GoString(buf))
	}
	return fmt.Errorf("COIN-OR CBC could not be loaded (%s)", strings.Join(errs, "; "))
}

// Matrix is a linear model in column form, CBC's and CLP's own: column j's entries are
// Index/Value[ColStart[j]:ColStart[j+1]]. Infinite bounds are allowed (they become CBC's 1e30).
type Matrix struct {
	ColStart, Index   []int
	Value             []float64
	ColLB, ColUB, Obj []float64
	RowLB, RowUB      []float64
}

// check reports a Matrix whose arrays disagree in length or whose entries point outside it: the C
// libraries would read past the ends of the copies.
func (m Matrix) check() error {
	n, nr := len(m.Obj), len(m.RowLB)
	switch {
	case len(m.ColLB) != n || len(m.ColUB) != n:
		return fmt.Errorf("coin: %d objective entries, %d / %d column bounds", n, len(m.ColLB), len(m.ColUB))
	case len(m.RowUB) != nr:
		return fmt.Errorf("coin: %d / %d row bounds", nr, len(m.RowUB))
	case len(m.ColStart) != n+1 || m.ColStart[0] != 0 || m.ColStart[n] != len(m.Index) || len(m.Value) != len(m.Index):
		return fmt.Errorf("coin: column starts (%d for %d columns) do not match %d entries / %d values", len(m.ColStart), n, len(m.Index), len(m.Value))
	}
	for j := range n {
		if m.ColStart[j] > m.ColStart[j+1] {
			return fmt.Errorf("coin: column %d starts after column %d", j, j+1)
		}
	}
	for k, i := range m.Index {
		if i < 0 || i >= nr {
			return fmt.Errorf("coin: entry %d in row %d of %d", k, i, nr)
		}
	}
	return nil
}

// cMatrix is a Matrix copied into C memory, which the libraries may keep pointers into while loading.
type cMatrix struct {
	start, index                  *C.int
	value, colLB, colUB, obj, rLB *C.double
	rUB                           *C.double
	ncol, nrow                    C.int
}

func newCMatrix(m Matrix) *cMatrix {
	return &cMatrix{
		start: cInts(m.ColStart), index: cInts(m.Index), value: cDoubles(m.Value),
		colLB: cDoubles(finite(m.ColLB)), colUB: cDoubles(finite(m.ColUB)), obj: cDoubles(m.Obj),
		rLB: cDoubles(finite(m.RowLB)), rUB: cDoubles(finite(m.RowUB)),
		ncol: C.int(len(m.Obj)), nrow: C.int(len(m.RowLB)),
	}
}

func (c *cMatrix) free() {
	for _, p := range []unsafe.Pointer{unsafe.Pointer(c.start), unsafe.Pointer(c.index), unsafe.Pointer(c.value),
		unsafe.Pointer(c.colLB), unsafe.Pointer(c.colUB), unsafe.Pointer(c.obj), unsafe.Pointer(c.rLB), unsafe.Pointer(c.rUB)} {
		C.free(p)
	}
}

// MIP is a CBC model. Its methods are CBC's functions of the same names.
type MIP struct {
	m     C.M
	n     int
	start *C.double // the initial solution, kept until Close in case CBC keeps a pointer to it
}

// NewMIP is a CBC model holding m, the columns marked in integer integral.
func NewMIP(m Matrix, integer []bool) (*MIP, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	if len(integer) > len(m.Obj) {
		return nil, fmt.Errorf("coin: %d integrality marks for %d columns", len(integer), len(m.Obj))
	}
	c := newCMatrix(m)
	defer c.free()
	p := C.cbc_new()
	C.cbc_load(p, c.ncol, c.nrow, c.start, c.index, c.value, c.colLB, c.colUB, c.obj, c.rLB, c.rUB)
	for j, isInt := range integer {
		if isInt {
			C.cbc_set_integer(p, C.int(j))
		}
	}
	return &MIP{m: p, n: len(m.Obj)}, nil
}

// Close frees the model.
func (m *MIP) Close() {
	C.cbc_delete(m.m)
	C.free(unsafe.Pointer(m.start))
}

func (m *MIP) SetLogLevel(level int)             { C.cbc_set_log(m.m, C.int(level)) }
func (m *MIP) SetAllowableGap(g float64)         { C.cbc_set_gap(m.m, C.double(g)) }
func (m *MIP) SetAllowableFractionGap(g float64) { C.cbc_set_frac_gap(m.m, C.double(g)) }
func (m *MIP) SetMaximumSeconds(s float64)       { C.cbc_set_seconds(m.m, C.double(s)) }
func (m *MIP) SetCutoff(c float64)               { C.cbc_set_cutoff(m.m, C.double(c)) }
func (m *MIP) Solve()                            { C.cbc_solve(m.m) }
func (m *MIP) Status() int                       { return int(C.cbc_status(m.m)) }
func (m *MIP) NumberSavedSolutions() int         { return int(C.cbc_saved(m.m)) }
func (m *MIP) HasBestSolution() bool             { return C.cbc_best(m.m) != nil }
func (m *MIP) IsProvenInfeasible() bool          { return C.cbc_infeasible(m.m) != 0 }
func (m *MIP) IsProvenOptimal() bool             { return C.cbc_optimal(m.m) != 0 }
func (m *MIP) BestPossibleObjValue() float64     { return float64(C.cbc_bound(m.m)) }
func (m *MIP) ObjValue() float64                 { return float64(C.cbc_obj(m.m)) }

// SetParameter sets one of CBC's command-line parameters by name ("timeMode", "preprocess", …).
func (m *MIP) SetParameter(name, value string) {
	cn, cv := C.CString(name), C.CString(value)
	defer C.free(unsafe.Pointer(cn))
	defer C.free(unsafe.Pointer(cv))
	C.cbc_set_param(m.m, cn, cv)
}

// SetInitialSolution gives CBC a solution to start from (one value per column).
func (m *MIP) SetInitialSolution(x []float64) error {
	if len(x) != m.n {
		return fmt.Errorf("coin: a starting solution of %d values for %d columns", len(x), m.n)
	}
	C.free(unsafe.Pointer(m.start))
	m.start = cDoubles(x)
	C.cbc_set_start(m.m, m.start)
	return nil
}

// WriteMPS writes the model as an MPS file (CBC adds ".mps" to path).
func (m *MIP) WriteMPS(path string) {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	C.cbc_write_mps(m.m, cp)
}

// ColSolution is a copy of the solution CBC holds (nil when it holds none).
func (m *MIP) ColSolution() []float64 {
	p := C.cbc_cols(m.m)
	if p == nil {
		return nil
	}
	x := make([]float64, m.n)
	copy(x, unsafe.Slice((*float64)(unsafe.Pointer(p)), m.n))
	return x
}

// LP is a CLP model whose column bounds change between solves. Its methods are CLP's functions of the
// same names.
type LP struct {
	m      C.M
	lo, up *C.double // the model's column bounds, in C memory, changed in place by SetColumnBound
	n, nr  int
}

// NewLP is a CLP model holding m.
func NewLP(m Matrix) (*LP, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	c := newCMatrix(m)
	defer c.free()
	p := C.clp_new()
	C.clp_load(p, c.ncol, c.nrow, c.start, c.index, c.value, c.colLB, c.colUB, c.obj, c.rLB, c.rUB)
	return &LP{m: p, lo: cDoubles(finite(m.ColLB)), up: cDoubles(finite(m.ColUB)), n: len(m.Obj), nr: len(m.RowLB)}, nil
}

// Close frees the model.
func (l *LP) Close() {
	C.clp_delete(l.m)
	C.free(unsafe.Pointer(l.lo))
	C.free(unsafe.Pointer(l.up))
}

// SetColumnBound changes column j's bounds (applied to the model by ApplyBounds).
func (l *LP) SetColumnBound(j int, lo, up float64) {
	unsafe.Slice(l.lo, l.n)[j] = C.double(clamp(lo))
	unsafe.Slice(l.up, l.n)[j] = C.double(clamp(up))
}

// ApplyBounds hands the bounds set since the last call to CLP.
func (l *LP) ApplyBounds() {
	C.clp_chg_lower(l.m, l.lo)
	C.clp_chg_upper(l.m, l.up)
}

func (l *LP) SetLogLevel(level int)          { C.clp_set_log(l.m, C.int(level)) }
func (l *LP) SetMaximumSeconds(s float64)    { C.clp_set_seconds(l.m, C.double(s)) }
func (l *LP) InitialSolve()                  { C.clp_initial(l.m) }
func (l *LP) Dual()                          { C.clp_dual(l.m) }
func (l *LP) IsProvenPrimalInfeasible() bool { return C.clp_infeasible(l.m) != 0 }
func (l *LP) IsProvenOptimal() bool          { return C.clp_optimal(l.m) != 0 }
func (l *LP) ObjectiveValue() float64        { return float64(C.clp_obj(l.m)) }

// InitialSolveQuiet is InitialSolve leaving the process's signal handlers alone (see clp_initial_quiet):
// the one to use in a Go process that handles Ctrl-C. (InitialSolve installs CLP's own for the solve,
// which only a process that ignores SIGINT, like the CBC process, can afford.)
func (l *LP) InitialSolveQuiet() { C.clp_initial_quiet(l.m) }

// ColSolution is a copy of the primal solution, one value per column.
func (l *LP) ColSolution() []float64 { return goDoubles(C.clp_primal_cols(l.m), l.n) }

// RowDuals is a copy of the row duals (the rows' prices: ∂objective/∂bound of the row at the optimum).
func (l *LP) RowDuals() []float64 { return goDoubles(C.clp_dual_rows(l.m), l.nr) }

func goDoubles(p *C.double, n int) []float64 {
	if p == nil {
		return nil
	}
	out := make([]float64, n)
	copy(out, unsafe.Slice((*float64)(unsafe.Pointer(p)), n))
	return out
}

// finite maps ±Inf to CBC's and CLP's ±1e30 ("infinite").
func finite(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = clamp(x)
	}
	return out
}

func clamp(x float64) float64 { return math.Max(-1e30, math.Min(1e30, x)) }

func cInts(xs []int) *C.int {
	p := (*C.int)(C.malloc(C.size_t(max(1, len(xs))) * C.size_t(unsafe.Sizeof(C.int(0)))))
	s := unsafe.Slice(p, max(1, len(xs)))
	for i, x := range xs {
		s[i] = C.int(x)
	}
	return p
}

func cDoubles(xs []float64) *C.double {
	p := (*C.double)(C.malloc(C.size_t(max(1, len(xs))) * C.size_t(unsafe.Sizeof(C.double(0)))))
	s := unsafe.Slice(p, max(1, len(xs)))
	for i, x := range xs {
		s[i] = C.double(x)
	}
	return p
}
