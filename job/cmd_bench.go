package main

import (
	"fmt"
	"os"
	"sort"
)

// Benchmarks are sub-commands of `jellybean bench`; each registers itself with registerBench from its own
// file (bench_*.go), like the top-level commands.
var benches = map[string]command{}

func registerBench(name, summary string, run func(args []string) error) {
	if _, dup := benches[name]; dup {
		panic("jellybean: benchmark registered twice: " + name)
	}
	benches[name] = command{summary: summary, run: run}
}

func init() {
	register("bench", "run a benchmark (collective, optimize, ...) and print JSON", runBench)
}

func runBench(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		names := make([]string, 0, len(benches))
		for n := range benches {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintln(os.Stderr, "usage: jellybean bench <name> [flags]\n\nbenchmarks:")
		for _, n := range names {
			fmt.Fprintf(os.Stderr, "  %-12s %s\n", n, benches[n].summary)
		}
		if len(args) == 0 {
			return fmt.Errorf("missing benchmark name")
		}
		return nil
	}
	b, ok := benches[args[0]]
	if !ok {
		return fmt.Errorf("unknown benchmark %q (see jellybean bench --help)", args[0])
	}
	return b.run(args[1:])
}
