package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"jellybean/job/launch"
	"jellybean/job/loop"
	"jellybean/job/onnx"
	"jellybean/workloads/all"
	"jellybean/workloads/registry"
)

func init() {
	register("loop", "profile the hosts, measure accuracy, optimize, launch, evaluate and report in one command", runLoop)
}

func runLoop(args []string) error {
	fs := flag.NewFlagSet("loop", flag.ContinueOnError)
	var cfg loop.Config
	fs.StringVar(&cfg.Hostfile, "H", "hostfiles/localhost", "hostfile: the hosts to profile and place workers on (one optimizer worker per slot)")
	fs.StringVar(&cfg.Infra, "infra", "", "infrastructure.toml of `jellybean tiers up`: tiers and prices per host (default: one tier, 1 $/h per slot, free links)")
	rate := fs.String("rate", "auto", "input rate in items/s, or auto (the most the shared cores carry; see README)")
	fs.StringVar(&cfg.Workload, "workload", "", fmt.Sprintf("registered workload to run (default: --workflow's, else %s; registered: %v)", all.Default, registry.Names()))
	fs.StringVar(&cfg.Workflow, "workflow", "", "workflow file the plan runs (default: the workload's)")
	fs.Float64Var(&cfg.Threshold, "threshold", 0, "accuracy target in percent (the workload's accuracy metric on the split)")
	fs.StringVar(&cfg.DataDir, "data", "", "dataset directory holding SPLIT/manifest.jsonl (default: the workload's)")
	fs.StringVar(&cfg.Split, "split", "test", "split the job runs and the accuracy profile measures")
	fs.IntVar(&cfg.Limit, "limit", 0, "process only the split's first N items (0 = all)")
	fs.StringVar(&cfg.Solver, "solver", "exact", "exact or heuristic")
	fs.DurationVar(&cfg.TimeLimit, "time-limit", 60*time.Second, "exact solver time limit")
	fs.StringVar(&cfg.RunID, "run-id", "", "id of the run (default: timestamp-based)")
	fs.StringVar(&cfg.RunsDir, "runs", "runs", "directory holding run directories")
	fs.IntVar(&cfg.Batch, "batch", 8, "micro-batch size of the plan")
	fs.IntVar(&cfg.Threads, "threads", 1, "intra-op threads per model worker (profile and plan)")
	fs.IntVar(&cfg.Cores, "cores", 0, "with --rate auto: CPU cores the ranks share (default: this machine's)")
	fs.Float64Var(&cfg.Util, "utilisation", loop.DefaultUtilisation, "with --rate auto: share of the cores the model stages may use")
	fs.Float64Var(&cfg.RunnerMs, "runner-ms", loop.DefaultRunnerMs, "with --rate auto: the runner's CPU ms per item over all ranks, besides the models")
	fs.IntVar(&cfg.ProfileItems, "profile-items", 16, "items of the split the latency profile runs")
	fs.IntVar(&cfg.ProfileRepeats, "profile-repeats", 10, "timed runs per model and batch size")
	fs.IntVar(&cfg.ProfileRatioItems, "profile-ratio-items", 0, "items of the split the profile counts the rate ratios (a fan-out's sub-items per item) on (default: the run's --limit, at most 64)")
	fs.DurationVar(&cfg.ProfileMinTime, "profile-min-time", time.Second, "the least time the profile's timed runs of one model and batch size span (more runs than --profile-repeats when those take less; 0: --profile-repeats alone)")
	fs.IntVar(&cfg.ProfileSlots, "profile-slots", 1, "ranks per host the latency profile runs (0 = every slot of the hostfile; they take turns measuring the same models)")
	fs.BoolVar(&cfg.Confirm, "confirm", true, "once the optimizer has chosen the variants, profile them on their own inputs (the first profile times each variant with the first variant of the nodes upstream), put those figures in place and optimize again")
	fs.BoolVar(&cfg.Recheck, "recheck", false, "re-time the plan's variants right after the run (profile --variants, into loop/profile-after) and compare the run with that profile too: tells the capacity model's error from the machine's speed moving between the profile and the run")
	fs.BoolVar(&cfg.Unpaced, "unpaced", false, "optimize for the rate, then run the plan without pacing (input_rate = 0) and compare its throughput with the predicted maximum (what the slowest stage sustains)")
	ssh, err := launch.SSHOptionsFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.Workload == "" && cfg.Workflow == "" {
		cfg.Workload = all.Default
	}
	if *rate == "auto" {
		cfg.AutoRate = true
	} else if cfg.Rate, err = strconv.ParseFloat(*rate, 64); err != nil || !(cfg.Rate > 0) {
		return fmt.Errorf("--rate %q: want items/s > 0 or auto", *rate)
	}
	// Every number is checked before anything is profiled. On the command line 0 is no default:
	// the flags' defaults are explicit.
	for _, f := range []struct {
		name string
		v    int
	}{{"batch", cfg.Batch}, {"threads", cfg.Threads}, {"profile-items", cfg.ProfileItems}, {"profile-repeats", cfg.ProfileRepeats}} {
		if f.v < 1 {
			return fmt.Errorf("--%s %d: want >= 1", f.name, f.v)
		}
	}
	if cfg.TimeLimit <= 0 {
		return fmt.Errorf("--time-limit %v: want a positive duration", cfg.TimeLimit)
	}
	if cfg.Util == 0 {
		return fmt.Errorf("--utilisation 0: want a share of the cores above 0, at most 1")
	}
	if err := cfg.CheckNumbers(); err != nil {
		return err
	}
	if _, err := onnx.Init(); err != nil { // the accuracy profile runs in this process
		return err
	}
	cfg.Launch.SSH = ssh
	if st, err := os.Stderr.Stat(); err == nil {
		cfg.Launch.ErrIsTerminal = st.Mode()&os.ModeCharDevice != 0
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	cfg.Launch.Signals = sigs
	sum, err := loop.Run(cfg)
	if err != nil {
		return err
	}
	loop.PrintTable(os.Stdout, sum)
	return nil
}
