package ranks

import "math"

// scheduleLen is the period of a routing schedule: long enough that weights like 0.37/0.63 are honoured
// to within 0.1 %, short enough to precompute per stage.
const scheduleLen = 1000

// Schedule assigns item ids to the workers of one stage in proportion to their weights. It is the smooth
// weighted round-robin sequence (as in nginx): deterministic, interleaved (no long runs to one worker),
// and every prefix is close to the weights. An item's worker depends only on its id, so that two
// branches of the workflow send the same item to the same worker of a join stage.
type Schedule struct {
	slots []int32 // worker index for id mod len(slots)
}

// NewSchedule builds the schedule for weights (all > 0; validated by plan.Validate).
func NewSchedule(weights []float64) Schedule {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	current := make([]float64, len(weights))
	slots := make([]int32, scheduleLen)
	for i := range slots {
		best := 0
		for j, w := range weights {
			current[j] += w
			if current[j] > current[best] {
				best = j
			}
		}
		current[best] -= total
		slots[i] = int32(best)
	}
	return Schedule{slots: slots}
}

// Worker returns the index of the worker that handles item id.
func (s Schedule) Worker(id int64) int {
	n := int64(len(s.slots))
	return int(s.slots[((id%n)+n)%n])
}

// Shares counts how many of the ids 0..n-1 each of k workers gets (for tests and reports).
func (s Schedule) Shares(k int, n int64) []int64 {
	c := make([]int64, k)
	for id := int64(0); id < n; id++ {
		c[s.Worker(id)]++
	}
	return c
}

// maxShareError is the largest |share - weight/total| over workers for ids 0..n-1 (tests).
func (s Schedule) maxShareError(weights []float64, n int64) float64 {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	worst := 0.0
	for j, c := range s.Shares(len(weights), n) {
		worst = math.Max(worst, math.Abs(float64(c)/float64(n)-weights[j]/total))
	}
	return worst
}
