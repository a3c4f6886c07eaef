package optimizer

import (
	"math"
	"time"
)

// A small dense two-phase simplex (Bland's rule, so it cannot cycle) for the exact solver's relaxation.
// Sizes here are tens to hundreds of rows and a few hundred to a few thousand columns; larger LPs are
// refused (maxTableau) rather than left to run for minutes, and every solve polls a stop function so the
// time limit cuts it short.

type sense int

const (
	le sense = iota
	ge
	eq
)

// clpLP, when set (builds with cgo), solves an LP of solveLPDuals with COIN-OR CLP where its library
// loads; ok is false where it does not, or when CLP reached no conclusion, and our simplex solves it.
// Why: on the LPs our search solves CLP is about 5 times as fast (BENCHMARKS.md, issue 12: the 163 LPs
// of two replicated fleets, 240–260 ms against 45–52 ms), and hand-written numerical code stays only
// where it wins.
// secs > 0 caps CLP's time (it cannot poll a stop function).
var clpLP func(c []float64, rows []lpRow, secs float64) (obj float64, x, y []float64, st lpStatus, ok bool)

type lpRow struct {
	coef  []float64 // dense, len = number of variables
	sense sense
	rhs   float64
}

const lpEps = 1e-9

// solveLP minimises c·x subject to rows and x ≥ 0. ok is false when infeasible (or on numerical trouble,
// which callers treat as "no bound", never as a proof).
func solveLP(c []float64, rows []lpRow) (obj float64, x []float64, ok bool) {
	obj, x, st := solveLPStatus(c, rows, nil)
	return obj, x, st == lpOptimal
}

type lpStatus int

const (
	lpOptimal    lpStatus = iota
	lpInfeasible          // phase I ended with a positive sum of artificials
	lpTrouble             // unbounded, out of iterations, too large or stopped: no conclusion
)

// maxTableau is the largest dense tableau (rows × columns) solveLPDuals builds: 4M cells, 32 MiB, about
// 2 ms a pivot on the 2-core development box. Beyond it the dense method is hopeless (a fleet of 300
// distinct hosts asks for hundreds of MiB and thousands of pivots), and callers use their other bounds.
const maxTableau = 4 << 20

// stopEvery is how many pivots pass between two polls of the stop function.
const stopEvery = 8

// solveLPStatus is solveLP telling a proven infeasibility apart from numerical trouble.
func solveLPStatus(c []float64, rows []lpRow, stop func() bool) (obj float64, x []float64, st lpStatus) {
	obj, x, _, st = solveLPDuals(c, rows, stop, time.Time{})
	return obj, x, st
}

// solveLPDuals is solveLPStatus also returning the row duals y (∂obj/∂rhs at the optimum: ≤ 0 for a
// binding ≤ row of this minimisation, ≥ 0 for a binding ≥ row). rows may be modified (sign flips).
// stop (nil: never) is polled every few pivots; when it returns true the solve ends with lpTrouble.
//
// deadline (zero: none) is when stop will say yes: CLP, which cannot poll stop, gets the time to it.
func solveLPDuals(c []float64, rows []lpRow, stop func() bool, deadline time.Time) (obj float64, x, y []float64, st lpStatus) {
	n, m := len(c), len(rows)
	if lpTooLarge(n, m) || (stop != nil && stop()) {
		return 0, nil, nil, lpTrouble
	}
	if clpLP != nil {
		secs := 0.0
		if !deadline.IsZero() {
			if secs = time.Until(deadline).Seconds(); secs <= 0 {
				return 0, nil, nil, lpTrouble
			}
		}
		if obj, x, y, st, ok := clpLP(c, rows, secs); ok {
			return obj, x, y, st
		}
	}
	return simplexDuals(c, rows, stop)
}

// simplexDuals is solveLPDuals in our own dense simplex.
func simplexDuals(c []float64, rows []lpRow, stop func() bool) (obj float64, x, y []float64, st lpStatus) {
	n, m := len(c), len(rows)
	nSlack, nArt := 0, 0
	flipped := make([]bool, m)
	for i := range rows {
		if rows[i].rhs < 0 {
			flipped[i] = true
			for j := range rows[i].coef {
				rows[i].coef[j] = -rows[i].coef[j]
			}
			rows[i].rhs = -rows[i].rhs
			switch rows[i].sense {
			case le:
				rows[i].sense = ge
			case ge:
				rows[i].sense = le
			}
		}
		if rows[i].sense != eq {
			nSlack++
		}
		if rows[i].sense != le {
			nArt++
		}
	}
	N := n + nSlack + nArt
	tab := make([][]float64, m+1)
	for i := range tab {
		tab[i] = make([]float64, N+1)
	}
	basis := make([]int, m)
	isArt := make([]bool, N)
	// unitCol[i] is a column that was +e_i in the initial tableau (the row's slack or artificial): its
	// final reduced cost is −y_i.
	unitCol := make([]int, m)
	s, a := n, n+nSlack
	for i, r := range rows {
		copy(tab[i], r.coef)
		tab[i][N] = r.rhs
		switch r.sense {
		case le:
			tab[i][s] = 1
			basis[i], unitCol[i] = s, s
			s++
		case ge:
			tab[i][s] = -1
			s++
			tab[i][a] = 1
			isArt[a] = true
			basis[i], unitCol[i] = a, a
			a++
		case eq:
			tab[i][a] = 1
			isArt[a] = true
			basis[i], unitCol[i] = a, a
			a++
		}
	}
	// Phase I: minimise the sum of artificials; objective row holds reduced costs.
	obj1 := tab[m]
	for i := range m {
		if isArt[basis[i]] {
			for j := 0; j <= N; j++ {
				obj1[j] -= tab[i][j]
			}
		}
	}
	for j := range N {
		if isArt[j] {
			obj1[j] = 0
		}
	}
	if !simplexLoop(tab, basis, nil, stop) {
		return 0, nil, nil, lpTrouble
	}
	if -tab[m][N] > 1e-7*(1+maxRHS(rows)) {
		return 0, nil, nil, lpInfeasible
	}
	// Drive remaining artificial basics out where possible.
	for i := range m {
		if !isArt[basis[i]] {
			continue
		}
		for j := range N {
			if !isArt[j] && math.Abs(tab[i][j]) > lpEps {
				pivot(tab, basis, i, j)
				break
			}
		}
	}
	// Phase II.
	for j := 0; j <= N; j++ {
		tab[m][j] = 0
	}
	copy(tab[m], c)
	for i := range m {
		if cb := tab[m][basis[i]]; cb != 0 {
			for j := 0; j <= N; j++ {
				tab[m][j] -= cb * tab[i][j]
			}
		}
	}
	if !simplexLoop(tab, basis, isArt, stop) {
		return 0, nil, nil, lpTrouble
	}
	x = make([]float64, n)
	for i, b := range basis {
		if b < n {
			x[b] = tab[i][N]
		}
	}
	y = make([]float64, m)
	for i := range m {
		y[i] = -tab[m][unitCol[i]]
		if flipped[i] {
			y[i] = -y[i]
		}
	}
	return -tab[m][N], x, y, lpOptimal
}

func maxRHS(rows []lpRow) float64 {
	mx := 0.0
	for _, r := range rows {
		mx = math.Max(mx, math.Abs(r.rhs))
	}
	return mx
}

// lpTooLarge reports whether the tableau of n structural columns and m rows (each row adds at most a
// slack and an artificial) would exceed maxTableau.
func lpTooLarge(n, m int) bool { return (m+1)*(n+2*m+1) > maxTableau }

// simplexLoop pivots until optimal; false if unbounded, out of iterations or stopped.
func simplexLoop(tab [][]float64, basis []int, banned []bool, stop func() bool) bool {
	m := len(basis)
	N := len(tab[0]) - 1
	for iter := 0; iter < 50000; iter++ {
		if stop != nil && iter%stopEvery == stopEvery-1 && stop() {
			return false
		}
		enter := -1
		for j := range N {
			if (banned == nil || !banned[j]) && tab[m][j] < -lpEps {
				enter = j
				break
			}
		}
		if enter < 0 {
			return true
		}
		leave := -1
		best := math.Inf(1)
		for i := range m {
			if tab[i][enter] > lpEps {
				r := tab[i][N] / tab[i][enter]
				if r < best-1e-12 || (math.Abs(r-best) <= 1e-12 && leave >= 0 && basis[i] < basis[leave]) {
					best, leave = r, i
				}
			}
		}
		if leave < 0 {
			return false
		}
		pivot(tab, basis, leave, enter)
	}
	return false
}

func pivot(tab [][]float64, basis []int, r, c int) {
	pr := tab[r]
	inv := 1 / pr[c]
	for j := range pr {
		pr[j] *= inv
	}
	for i := range tab {
		if i == r {
			continue
		}
		f := tab[i][c]
		if f == 0 {
			continue
		}
		row := tab[i]
		for j := range row {
			row[j] -= f * pr[j]
		}
	}
	basis[r] = c
}
