package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"jellybean/job/pipeline"
)

func init() {
	registerBench("runner", "per-item runner overhead and throughput vs predicted, running a plan in this process on loopback", benchRunner)
}

func benchRunner(args []string) error {
	fs := flag.NewFlagSet("bench runner", flag.ContinueOnError)
	o := pipeline.BenchOptions{}
	fs.StringVar(&o.Hostfile, "H", "hostfiles/localhost", "hostfile")
	fs.StringVar(&o.Plan, "p", "plan/examples/default.toml", "plan")
	fs.IntVar(&o.Items, "items", 0, "items per run (0 = the plan's limit, else the whole dataset)")
	fs.Float64Var(&o.RateFraction, "rate-fraction", 0.8, "paced run: input rate as a fraction of the batch-mode throughput")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole benchmark (both runs) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	o.Root = root
	o.Logf = func(f string, a ...any) { fmt.Fprintf(os.Stderr, "bench runner: "+f+"\n", a...) }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	r, err := pipeline.BenchRunner(ctx, o)
	if err != nil {
		return err
	}
	out, _ := json.MarshalIndent(r, "", "  ")
	fmt.Println(string(out))
	return nil
}
