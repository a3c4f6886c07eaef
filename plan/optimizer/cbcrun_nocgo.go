//go:build !cgo

package optimizer

import (
	"math"

	"jellybean/plan/optimizer/coin"
)

// Without cgo CBC cannot be called: loadCBC says so, and the exact solver runs without it.

func loadCBC() error { return coin.Load() }

func runCBC(cbcJob) ([]float64, float64, bool, error) { return nil, 0, false, coin.Load() }

func runLPs(job cbcJob) []float64 {
	out := make([]float64, len(job.RelaxZ))
	for k := range out {
		out[k] = math.NaN()
	}
	return out
}
