package optimizer

import (
	"math"
	"testing"
)

func TestSolveLP(t *testing.T) {
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
