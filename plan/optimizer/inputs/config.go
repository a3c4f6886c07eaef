package inputs

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"jellybean/plan/optimizer"
)

// ParseConfig reads the subset of YAML the original's config.yaml uses: top-level sections, each with
// indented "KEY: value" lines; values are numbers, quoted or bare strings, or None. Unknown keys are errors.
func ParseConfig(name string, data []byte) (optimizer.Config, error) {
	cfg := optimizer.DefaultConfig()
	sc := bufio.NewScanner(bytes.NewReader(data))
	section := ""
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.Index(text, "#"); i >= 0 {
			text = text[:i]
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		indented := text[0] == ' ' || text[0] == '\t'
		key, val, ok := strings.Cut(strings.TrimSpace(text), ":")
		if !ok {
			return cfg, fmt.Errorf("%s:%d: want \"KEY: value\"", name, line)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !indented {
			if val != "" {
				return cfg, fmt.Errorf("%s:%d: section %s: want a section header with indented keys below", name, line, key)
			}
			section = key
			continue
		}
		if section == "" {
			return cfg, fmt.Errorf("%s:%d: key %s outside any section", name, line, key)
		}
		full := section + "." + key
		if err := setConfig(&cfg, full, unquote(val)); err != nil {
			return cfg, fmt.Errorf("%s:%d: %s: %v", name, line, full, err)
		}
	}
	if err := sc.Err(); err != nil {
		return cfg, fmt.Errorf("%s: %w", name, err)
	}
	return cfg, nil
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}

func setConfig(cfg *optimizer.Config, key, val string) error {
	num := func() (float64, error) {
		f, err := strconv.ParseFloat(val, 64)
		if err != nil || f <= 0 {
			return 0, fmt.Errorf("%q: want a positive number", val)
		}
		return f, nil
	}
	count := func() (int, error) { // None = 0 = no limit
		if val == "None" || val == "null" || val == "~" {
			return 0, nil
		}
		n, err := strconv.Atoi(val)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("%q: want a positive integer or None", val)
		}
		return n, nil
	}
	var err error
	switch key {
	case "INPUT.LATENCY_OVERESTIMATE_RATIO":
		cfg.LatencyOverestimateRatio, err = num()
	case "INPUT.COMM_COST_SCALING_FACTOR":
		cfg.CommCostScalingFactor, err = num()
	case "BEAM_SEARCH.BEST_K":
		cfg.BeamBestK, err = count()
		if err == nil && cfg.BeamBestK == 0 {
			err = fmt.Errorf("None is not allowed")
		}
	case "BEAM_SEARCH.ACC_PROFILE_SAMPLE_LIMIT":
		cfg.SampleLimit, err = count()
	case "BEAM_SEARCH.PER_ASSIGNMENT_NODE_EXPANSION_LIMIT":
		if val != "None" {
			err = fmt.Errorf("only None is supported")
		}
	case "WORKER_ASSIGNMENT.STRATEGY":
		if val != "multiple-tiers" && val != "same-tier" {
			return fmt.Errorf("%q: want multiple-tiers or same-tier", val)
		}
		cfg.Strategy = val
	case "WORKER_ASSIGNMENT.TIER_ALLOCATION_STRATEGY":
		if val != "greedy" {
			return fmt.Errorf("%q: only greedy is implemented", val)
		}
		cfg.TierAllocation = val
	case "WORKER_ASSIGNMENT.MAX_NUM_ASSIGN_ORDERS":
		cfg.MaxAssignOrders, err = count()
	case "WORKER_ASSIGNMENT.BEST_K_ASSIGNMENTS":
		cfg.BestKAssignments, err = count()
	case "WORKER_PARTITION.STRATEGY", "WORKER_PARTITION.NUM_TIERS", "WORKER_PARTITION.LOUVAIN_RESOLUTION",
		"WORKER_PARTITION.LOUVAIN_THRESHOLD", "WORKER_PARTITION.GREEDY_MODULARITY_RESOLUTION":
		// Accepted for compatibility; tiers without workers_partition.json come from PartitionTiers.
	default:
		return fmt.Errorf("unknown key")
	}
	return err
}
