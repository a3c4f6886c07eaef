// Package profile measures, on this host, the latency of every node variant of a workflow at
// several batch sizes and the size of every message between stages (raw and zstd-compressed), and writes
// them as the optimizer's input CSVs (the original JellyBean layout). stats.go and csv.go are pure;
// measure.go runs the models.
package profile

import (
	"math"
	"sort"
)

// Stats summarise repeated latency measurements, in milliseconds per batch. Mean is what a capacity
// needs when the timed inputs differ in cost (1 / the mean cost is the rate); the median resists noise.
type Stats struct {
	Runs                  int
	Median, P50, P75, P90 float64
	Mean                  float64
}

// Summarise computes the statistics of samples (nearest-rank percentiles; the median interpolates).
func Summarise(samples []float64) Stats {
	s := append([]float64(nil), samples...)
	sort.Float64s(s)
	st := Stats{Runs: len(s)}
	if len(s) == 0 {
		return st
	}
	if n := len(s); n%2 == 1 {
		st.Median = s[n/2]
	} else {
		st.Median = (s[n/2-1] + s[n/2]) / 2
	}
	pct := func(q float64) float64 {
		i := int(math.Ceil(q/100*float64(len(s)))) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	st.P50, st.P75, st.P90 = pct(50), pct(75), pct(90)
	for _, v := range s {
		st.Mean += v / float64(len(s))
	}
	return st
}
