package optimizer

import (
	"fmt"
	"time"
)

// Solve runs the named solver: "heuristic" (the original's main.py) or "exact" (seeded with the
// heuristic when it finds a plan; never worse than it). timeLimit bounds the exact search (0 = none).
func Solve(p *Problem, cfg Config, solver string, timeLimit time.Duration) (*Solution, error) {
	switch solver {
	case "heuristic":
		return p.Heuristic(cfg)
	case "exact":
		start := time.Now()
		h, herr := p.Heuristic(cfg)
		if herr != nil {
			h = nil // the heuristic can fail where a plan exists; the exact search still decides
		}
		return p.Exact(ExactOptions{Incumbent: h, TimeLimit: RemainingLimit(timeLimit, time.Since(start))})
	}
	return nil, fmt.Errorf("unknown solver %q (want heuristic or exact)", solver)
}

// RemainingLimit is what is left of a whole-solve time limit after the heuristic's seed (at least a tenth
// of it, so the exact search always runs); 0 stays "no limit".
func RemainingLimit(limit, spent time.Duration) time.Duration {
	if limit <= 0 {
		return 0
	}
	return max(limit-spent, limit/10)
}
