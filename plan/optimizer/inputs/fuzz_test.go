package inputs

import (
	"testing"

	"jellybean/plan/optimizer"
)

// FuzzReadOriginal replaces one file of the medium example with fuzzed bytes: the reader must return a
// problem or an error, never panic or hang.
func FuzzReadOriginal(f *testing.F) {
	fs := mediumFiles(f)
	names := []string{"workers_specs.csv", "execution_profile.csv", "message_sizes.csv", "logical_graph.csv",
		"input_injection_rates.csv", "workers_workers_link.csv", "sources_workers_link.csv", "workers_partition.json",
		"nodes_accuracy_profiles.json", "accuracy_requirement.json", "throughput_normalization_ratios.csv", "workers_numbers.csv"}
	for i, n := range names {
		f.Add(uint8(i), fs[n])
	}
	f.Add(uint8(1), fs["execution_profile_p75.csv"])
	cfg := optimizer.DefaultConfig()
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		files := map[string][]byte{}
		for k, v := range fs {
			files[k] = v
		}
		files[names[int(which)%len(names)]] = data
		in, err := ParseOriginal("fuzz", files, cfg)
		if err == nil && in.Problem == nil {
			t.Fatal("nil problem without error")
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("INPUT:\n  COMM_COST_SCALING_FACTOR: 0.1\nBEAM_SEARCH:\n  BEST_K: 10\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseConfig("fuzz.yaml", data)
	})
}

func FuzzParseNative(f *testing.F) {
	f.Add([]byte("sink = \"S\"\nthreshold = 1.0\n[[source]]\nname = \"R\"\nrate = 1.0\n[[stage]]\nname = \"S\"\ninputs = [\"R\"]\n[[worker]]\nname = \"w\"\nprice = 1.0\n[[latency]]\nstage = \"S\"\nworker = \"w\"\nms = 10.0\n[[message]]\nfrom = \"R\"\nto = \"S\"\nkb = 1.0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := ParseNative("fuzz.toml", data, optimizer.DefaultConfig())
		if err == nil {
			// A problem that parsed must be solvable or explain itself, without panicking.
			if len(in.Problem.Workers) <= 6 {
				_, _ = in.Problem.Exact(optimizer.ExactOptions{})
			}
		}
	})
}
