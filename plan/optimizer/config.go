package optimizer

// Config holds the original optimizer's settings (config.yaml) that this implementation honours.
type Config struct {
	LatencyOverestimateRatio float64 // INPUT.LATENCY_OVERESTIMATE_RATIO
	CommCostScalingFactor    float64 // INPUT.COMM_COST_SCALING_FACTOR
	BeamBestK                int     // BEAM_SEARCH.BEST_K
	SampleLimit              int     // BEAM_SEARCH.ACC_PROFILE_SAMPLE_LIMIT; 0 = None (no limit)
	Strategy                 string  // WORKER_ASSIGNMENT.STRATEGY: "multiple-tiers" or "same-tier"
	TierAllocation           string  // WORKER_ASSIGNMENT.TIER_ALLOCATION_STRATEGY: only "greedy"
	MaxAssignOrders          int     // WORKER_ASSIGNMENT.MAX_NUM_ASSIGN_ORDERS; 0 = no cap
	BestKAssignments         int     // WORKER_ASSIGNMENT.BEST_K_ASSIGNMENTS; 0 = no cap
}

// DefaultConfig is used when no config file is given. It is the original's defaults except the worker
// assignment, which defaults to the multiple-tiers greedy search of the README example (the original's
// default "dp" tier allocation is not implemented).
func DefaultConfig() Config {
	return Config{
		LatencyOverestimateRatio: 1.0,
		CommCostScalingFactor:    1.0,
		BeamBestK:                10,
		Strategy:                 "multiple-tiers",
		TierAllocation:           "greedy",
		MaxAssignOrders:          10,
		BestKAssignments:         10,
	}
}
