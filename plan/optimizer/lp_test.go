package optimizer

import (
	"math"
	"testing"
	"time"
)

// forEachLPEngine runs f with our simplex alone and, outside -short, with CLP (which solveLPDuals uses
// where CBC's library loads).
func forEachLPEngine(t *testing.T, f func(t *testing.T)) {
	t.Run("ours", func(t *testing.T) {
		saved := clpLP
		clpLP = nil
		defer func() { clpLP = saved }()
		f(t)
	})
	t.Run("clp", func(t *testing.T) {
		if testing.Short() {
			t.Skip("loads COIN-OR CLP")
		}
		if clpLP == nil {
			t.Fatal("this build has no CLP engine (cgo)")
		}
		if err := CBCAvailable(); err != nil {
			t.Fatal(err)
		}
		// CLP must answer itself: a silent fall back to our simplex would pass for it.
		saved := clpLP
		clpLP = func(c []float64, rows []lpRow, secs float64) (float64, []float64, []float64, lpStatus, bool) {
			obj, x, y, st, ok := saved(c, rows, secs)
			if !ok {
				t.Errorf("CLP reached no conclusion")
			}
			return obj, x, y, st, ok
		}
		defer func() { clpLP = saved }()
		f(t)
	})
}

func TestSolveLP(t *testing.T) { forEachLPEngine(t, testSolveLP) }

func testSolveLP(t *testing.T) {
	tests := []struct {
		name string
		c    []float64
		rows []lpRow
		want float64
		ok   bool
	}{
		// min -x-y, x+2y ≤ 4, 3x+y ≤ 6 → x=1.6,y=1.2 → -2.8
		{"le", []float64{-1, -1}, []lpRow{{[]float64{1, 2}, le, 4}, {[]float64{3, 1}, le, 6}}, -2.8, true},
		// min 2x+3y, x+y ≥ 5, x ≤ 3 → x=3,y=2 → 12
		{"ge", []float64{2, 3}, []lpRow{{[]float64{1, 1}, ge, 5}, {[]float64{1, 0}, le, 3}}, 12, true},
		// min x+y, x+y = 2, x-y = 0 → 2
		{"eq", []float64{1, 1}, []lpRow{{[]float64{1, 1}, eq, 2}, {[]float64{1, -1}, eq, 0}}, 2, true},
		// infeasible: x ≤ 1, x ≥ 2
		{"infeasible", []float64{1}, []lpRow{{[]float64{1}, le, 1}, {[]float64{1}, ge, 2}}, 0, false},
	}
	for _, tc := range tests {
		got, _, ok := solveLP(tc.c, tc.rows)
		if ok != tc.ok || (ok && math.Abs(got-tc.want) > 1e-9) {
			t.Errorf("%s: got %v ok=%v, want %v ok=%v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// The row duals are the objective's rate of change with each right-hand side (cover cuts price workers
// with the capacity rows' duals).
func TestSolveLPDuals(t *testing.T) { forEachLPEngine(t, testSolveLPDuals) }

func testSolveLPDuals(t *testing.T) {
	tests := []struct {
		name string
		c    []float64
		rows []lpRow
		want []float64
	}{
		{"le", []float64{-1, -1}, []lpRow{{[]float64{1, 2}, le, 4}, {[]float64{3, 1}, le, 6}}, []float64{-0.4, -0.2}},
		{"ge", []float64{2, 3}, []lpRow{{[]float64{1, 1}, ge, 5}, {[]float64{1, 0}, le, 3}}, []float64{3, -1}},
		// min x+2y, x+y = 2, x ≥ -1 written as −x ≤ 1 (rhs kept ≥ 0): x=2, y=0; the equality costs 1 per unit.
		{"eq", []float64{1, 2}, []lpRow{{[]float64{1, 1}, eq, 2}, {[]float64{-1, 0}, le, 1}}, []float64{1, 0}},
		// A negative right-hand side is flipped inside; the dual is still with respect to the row as given.
		{"flipped", []float64{1}, []lpRow{{[]float64{-1}, le, -3}}, []float64{-1}},
	}
	for _, tc := range tests {
		_, _, y, st := solveLPDuals(tc.c, tc.rows, nil, time.Time{})
		if st != lpOptimal {
			t.Fatalf("%s: status %v", tc.name, st)
		}
		for i := range tc.want {
			if math.Abs(y[i]-tc.want[i]) > 1e-9 {
				t.Errorf("%s: duals %v, want %v", tc.name, y, tc.want)
				break
			}
		}
	}
}
