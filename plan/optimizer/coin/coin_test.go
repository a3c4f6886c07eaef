//go:build cgo

package coin

import (
	"math"
	"strings"
	"testing"
)

// A library that is not there is an error naming it, not a crash.
func TestLoadMissingLibrary(t *testing.T) {
	t.Setenv(EnvLib, "/nonexistent/libCbcSolver.so.3")
	err := load()
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/libCbcSolver.so.3") {
		t.Fatalf("err = %v, want one naming the library", err)
	}
}

// A library without CBC's functions (CLP's own) is an error naming the missing one, and leaves the
// library already loaded working.
func TestLoadWrongLibrary(t *testing.T) {
	needLibrary(t)
	t.Setenv(EnvLib, "libClp.so.1")
	err := load()
	if err == nil || !strings.Contains(err.Error(), "no function Cbc_") {
		t.Fatalf("err = %v, want one naming a missing Cbc_ function", err)
	}
	mip, err := NewMIP(knapsack(), []bool{true, true, true})
	if err != nil {
		t.Fatal(err)
	}
	defer mip.Close()
	mip.SetLogLevel(0)
	mip.Solve()
	if !mip.IsProvenOptimal() || math.Abs(mip.ObjValue()-bruteKnapsack(knapsack())) > 1e-9 {
		t.Errorf("after the failed load: optimal %v, objective %v", mip.IsProvenOptimal(), mip.ObjValue())
	}
}

// Arrays that disagree are refused before any of them reaches C (no library needed to check).
func TestMatrixChecked(t *testing.T) {
	for name, mutate := range map[string]func(m *Matrix){
		"short column bounds": func(m *Matrix) { m.ColUB = m.ColUB[:2] },
		"short row bounds":    func(m *Matrix) { m.RowUB = m.RowUB[:1] },
		"column starts":       func(m *Matrix) { m.ColStart = m.ColStart[:3] },
		"last start":          func(m *Matrix) { m.ColStart[3] = 8 },
		"decreasing starts":   func(m *Matrix) { m.ColStart[1], m.ColStart[2] = 6, 3 },
		"values":              func(m *Matrix) { m.Value = m.Value[:8] },
		"row index":           func(m *Matrix) { m.Index[4] = 3 },
	} {
		m := knapsack()
		mutate(&m)
		if _, err := NewMIP(m, nil); err == nil {
			t.Errorf("%s: NewMIP accepted it", name)
		}
		if _, err := NewLP(m); err == nil {
			t.Errorf("%s: NewLP accepted it", name)
		}
	}
	if _, err := NewMIP(knapsack(), make([]bool, 4)); err == nil {
		t.Error("NewMIP accepted 4 integrality marks for 3 columns")
	}
	if err := knapsack().check(); err != nil {
		t.Errorf("the knapsack itself: %v", err)
	}
}

// needLibrary skips under -short (Go alone); outside it the library must load, as .ci/run installs it.
func needLibrary(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("loads COIN-OR CBC")
	}
	if err := Load(); err != nil {
		t.Fatal(err)
	}
}

// A small knapsack: maximise 5a + 4b + 3c (CBC minimises, so the objective is negated) with three
// capacity rows, every column binary.
func knapsack() Matrix {
	// Rows: 2a + 3b + c ≤ 5, 4a + b + 2c ≤ 11, 3a + 4b + 2c ≤ 8. Column form.
	return Matrix{
		ColStart: []int{0, 3, 6, 9},
		Index:    []int{0, 1, 2, 0, 1, 2, 0, 1, 2},
		Value:    []float64{2, 4, 3, 3, 1, 4, 1, 2, 2},
		ColLB:    []float64{0, 0, 0},
		ColUB:    []float64{1, 1, 1},
		Obj:      []float64{-5, -4, -3},
		RowLB:    []float64{math.Inf(-1), math.Inf(-1), math.Inf(-1)},
		RowUB:    []float64{5, 11, 8},
	}
}

// bruteKnapsack is the knapsack's optimum by enumeration.
func bruteKnapsack(m Matrix) float64 {
	best := 0.0
	for mask := range 8 {
		x := []float64{float64(mask & 1), float64(mask >> 1 & 1), float64(mask >> 2 & 1)}
		ok := true
		for r := range 3 {
			lhs := 0.0
			for j := range 3 {
				for k := m.ColStart[j]; k < m.ColStart[j+1]; k++ {
					if m.Index[k] == r {
						lhs += m.Value[k] * x[j]
					}
				}
			}
			ok = ok && lhs <= m.RowUB[r]
		}
		if obj := -5*x[0] - 4*x[1] - 3*x[2]; ok && obj < best {
			best = obj
		}
	}
	return best
}

// CBC solves and proves the knapsack, from a starting solution too; its plan is integral and worth its
// objective.
func TestMIPKnapsack(t *testing.T) {
	needLibrary(t)
	m := knapsack()
	want := bruteKnapsack(m)
	for _, start := range [][]float64{nil, {0, 1, 1}} {
		mip, err := NewMIP(m, []bool{true, true, true})
		if err != nil {
			t.Fatal(err)
		}
		mip.SetLogLevel(0)
		mip.SetMaximumSeconds(10)
		if start != nil {
			if err := mip.SetInitialSolution(start); err != nil {
				t.Fatal(err)
			}
		}
		mip.Solve()
		x := mip.ColSolution()
		if !mip.IsProvenOptimal() || x == nil {
			t.Fatalf("start %v: not solved (optimal %v, solution %v)", start, mip.IsProvenOptimal(), x)
		}
		obj := 0.0
		for j, v := range x {
			if math.Abs(v-math.Round(v)) > 1e-6 {
				t.Errorf("start %v: column %d = %v, not integral", start, j, v)
			}
			obj += m.Obj[j] * v
		}
		if math.Abs(obj-want) > 1e-9 || math.Abs(mip.ObjValue()-want) > 1e-9 || mip.BestPossibleObjValue() > want+1e-9 {
			t.Errorf("start %v: objective %v (CBC says %v, bound %v), want %v", start, obj, mip.ObjValue(), mip.BestPossibleObjValue(), want)
		}
		mip.Close()
	}
}

// CLP's relaxation is below the integer optimum, and re-solved after a bound change (dual simplex from
// the previous basis) gives the changed model's value: with a and b fixed to 0, only c is left (−3).
func TestLPBoundsChange(t *testing.T) {
	needLibrary(t)
	m := knapsack()
	lp, err := NewLP(m)
	if err != nil {
		t.Fatal(err)
	}
	defer lp.Close()
	lp.SetLogLevel(0)
	lp.InitialSolve()
	if !lp.IsProvenOptimal() || lp.ObjectiveValue() > bruteKnapsack(m)+1e-9 {
		t.Fatalf("relaxation %v (optimal %v), want ≤ %v", lp.ObjectiveValue(), lp.IsProvenOptimal(), bruteKnapsack(m))
	}
	lp.SetColumnBound(0, 0, 0)
	lp.SetColumnBound(1, 0, 0)
	lp.ApplyBounds()
	lp.Dual()
	if !lp.IsProvenOptimal() || math.Abs(lp.ObjectiveValue()+3) > 1e-9 {
		t.Errorf("a = b = 0: %v (optimal %v), want -3", lp.ObjectiveValue(), lp.IsProvenOptimal())
	}
	lp.SetColumnBound(2, 2, 2)
	lp.SetColumnBound(0, 1, 1)
	lp.SetColumnBound(1, 1, 1) // 2 + 3 + 2 = 7 > 5: infeasible
	lp.ApplyBounds()
	lp.Dual()
	if !lp.IsProvenPrimalInfeasible() {
		t.Errorf("a = b = 1, c = 2: want infeasible, got %v (optimal %v)", lp.ObjectiveValue(), lp.IsProvenOptimal())
	}
}
