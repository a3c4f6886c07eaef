package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"jellybean/hostfiles"
	"jellybean/job/gpu"
	"jellybean/job/launch"
	"jellybean/job/onnx"
	"jellybean/job/profile"
	"jellybean/job/sweep"
	"jellybean/workloads/all"
	"jellybean/workloads/registry"
)

func init() {
	register("profile", "measure every model variant's latency and every edge's message size (one rank per hostfile slot with -H); write optimizer CSVs", cmdProfile)
	register(profile.PeersCommand, "(internal) the upstream and downstream ranks `jellybean profile` times the runner's path against", func([]string) error {
		return profile.PeersMain()
	})
}

// profileFlags are what every rank measures; they travel unchanged from the launcher to the ranks.
type profileFlags struct {
	data, workflow, batches, host, out, device string
	variants                                   string // node=variant,…: only the plan's variants (profile.ChosenAssignment)
	items, ratioItems, repeats, threads        int
	minTime                                    time.Duration
}

func cmdProfile(args []string) error {
	fs := flag.NewFlagSet("profile", flag.ContinueOnError)
	var p profileFlags
	workload := fs.String("workload", all.Default, "workload whose workflow and validation split are profiled when --workflow or --data is left out")
	fs.StringVar(&p.data, "data", "", "dataset manifest whose items are profiled (default: the workload's val split)")
	fs.IntVar(&p.items, "items", 16, "items taken from the manifest")
	fs.IntVar(&p.ratioItems, "ratio-items", 0, "items the rate ratios (a fan-out's sub-items per item) are counted on, running only the nodes that change the number of items and those upstream of them (default: --items)")
	fs.StringVar(&p.workflow, "workflow", "", "workflow file whose nodes are profiled (default: the workload's)")
	fs.StringVar(&p.batches, "batch", "1,8", "batch sizes")
	fs.StringVar(&p.variants, "variants", "", "time only these variants, one per model node (node=variant,node=variant: a plan's choice, each node on the inputs the chosen upstream variants make); default: every variant")
	fs.IntVar(&p.repeats, "repeats", 10, "timed runs per model and batch size")
	fs.DurationVar(&p.minTime, "min-time", 0, "the least time the timed runs of one model and batch size span (more runs than --repeats when those take less): an op's CPU time per item on a shared machine moves from one second to the next")
	fs.IntVar(&p.threads, "threads", 0, "intra-op threads per session (default: this host's cores ÷ its ranks, as the runner gives them)")
	fs.StringVar(&p.device, "device", "cpu", "cpu, or cuda: with -H each rank takes its host's GPU local index mod GPUs (as the runner places cuda workers); without -H, cuda:0")
	fs.StringVar(&p.host, "host", "", "worker (type) name in the CSVs without -H (default: this host's name; with -H: the hostfile's)")
	fs.StringVar(&p.out, "o", "", "output directory (with -H: written by rank 0, on the first host of the hostfile)")
	hostfile := fs.String("H", "", "hostfile: profile as an SPMD job, one rank per slot (ssh for remote hosts, JELLYBEAN_SSH_* settings)")
	port := fs.Int("port", profile.DefaultBasePort, "with -H: ranks listen on PORT + their slot index on the host")
	runsDir := fs.String("runs", "", "with -H: directory for the job's run directory with the rank logs (default DIR/logs)")
	rank := fs.Int("rank", -1, "run as this rank of the -H job (set by the launcher)")
	runDir := fs.String("run-dir", "", "rank: the job's run directory (set by the launcher)")
	secretStdin := fs.Bool("secret-stdin", false, "rank: read the job secret from stdin (set by the launcher for ssh ranks)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("profile: unexpected argument %q", fs.Arg(0))
	}
	if p.out == "" {
		return errors.New("profile: -o DIR is required")
	}
	if p.minTime < 0 {
		return fmt.Errorf("profile: --min-time %v: want >= 0", p.minTime)
	}
	if p.ratioItems < 0 {
		return fmt.Errorf("profile: --ratio-items %d: want >= 0", p.ratioItems)
	}
	if _, err := profile.ParseVariants(p.variants); err != nil {
		return fmt.Errorf("profile: --%w", err)
	}
	if p.workflow == "" || p.data == "" {
		wl, err := registry.Lookup(*workload)
		if err != nil {
			return fmt.Errorf("profile: --workload: %w", err)
		}
		if p.workflow == "" {
			p.workflow = wl.Workflow
		}
		if p.data == "" {
			p.data = filepath.Join(wl.DataDir, "val", "manifest.jsonl")
		}
	}
	if _, err := sweep.ParseSizes(p.batches); err != nil {
		return fmt.Errorf("profile: --batch: %w", err)
	}
	switch {
	case *hostfile == "":
		return profileHere(p)
	case *rank < 0:
		return launchProfile(fs, p, *hostfile, *runsDir, *port)
	default:
		return profileRank(p, *hostfile, *rank, *runDir, *secretStdin, *port)
	}
}

// profileHere profiles this process only and writes the files.
func profileHere(p profileFlags) error {
	host := p.host
	if host == "" {
		var err error
		if host, err = os.Hostname(); err != nil {
			return err
		}
	}
	threads := p.threads
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	device, err := profileDevice(p.device, 0, host, 0)
	if err != nil {
		return err
	}
	self, _ := os.Executable()
	res, err := measureWith(p, profile.Options{Host: host, Threads: threads, Device: device, Progress: os.Stderr, PeerBinary: self})
	if err != nil {
		return err
	}
	return writeProfile(res, p.out)
}

// launchProfile starts one profiling rank per slot of the hostfile through the launcher.
func launchProfile(fs *flag.FlagSet, p profileFlags, hostfile, runsDir string, port int) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	out, err := filepath.Abs(p.out)
	if err != nil {
		return err
	}
	if rel, err := filepath.Rel(root, out); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
		out = rel // relative to the root, so that a remote rank 0 with its checkout elsewhere writes there
	}
	if runsDir == "" {
		runsDir = filepath.Join(p.out, "logs")
	}
	cmd := []string{"profile"}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "H", "o", "runs", "port", "host", "workload", "workflow", "data":
		default:
			cmd = append(cmd, "--"+f.Name, f.Value.String())
		}
	})
	cmd = append(cmd, "--workflow", p.workflow, "--data", p.data, "--port", strconv.Itoa(port), "-o", out)
	ssh, err := launch.SSHOptionsFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	res, err := launch.Run(launch.Config{Hostfile: hostfile, Command: cmd, RunsDir: runsDir, SSH: ssh, Signals: sigs})
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	fmt.Printf("profile: %s (rank logs in %s)\n", out, filepath.Join(res.RunDir, launch.RanksDir))
	return nil
}

// profileRank is one rank of `profile -H`: it measures its host in its turn; rank 0 writes the files.
func profileRank(p profileFlags, hostfile string, rank int, runDir string, secretStdin bool, port int) error {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	secret, err := jobSecret(secretStdin, cancel)
	if err != nil {
		return err
	}
	jobID, _, err := jobIdentity(runDir, os.Getenv)
	if err != nil {
		return err
	}
	hf, err := hostfiles.Load(hostfile)
	if err != nil {
		return err
	}
	in, err := loadInputs(p)
	if err != nil {
		return fmt.Errorf("rank %d: %w", rank, err)
	}
	say := profile.LinePrefixer(os.Stdout, launch.SayPrefix)
	res, err := profile.RunRank(ctx, profile.RankConfig{Hostfile: hf, Rank: rank, JobID: jobID, Secret: secret, BasePort: port, Say: say,
		Measure: func(slot hostfiles.Slot) (*profile.Result, error) {
			threads := p.threads
			if threads == 0 {
				threads = max(1, runtime.NumCPU()/hf.Host(slot.Host).Slots)
			}
			device, err := profileDevice(p.device, slot.LocalIndex, slot.Host, rank)
			if err != nil {
				return nil, err
			}
			progress := profile.LinePrefixer(os.Stdout, fmt.Sprintf("%srank %d (%s): ", launch.SayPrefix, rank, slot.Host))
			self, _ := os.Executable() // the runner's cost is timed over the real collective with peers in a child
			return measureInputs(p, in, profile.Options{Host: slot.Host, Rank: rank, Threads: threads, Device: device, Progress: progress, PeerBinary: self})
		}})
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			err = fmt.Errorf("%w (%v)", err, cause)
		}
		return fmt.Errorf("rank %d: %w", rank, err)
	}
	if res == nil {
		return nil
	}
	return writeProfile(res, p.out)
}

// measureWith loads the items and workflow named by p and measures them.
func measureWith(p profileFlags, o profile.Options) (*profile.Result, error) {
	in, err := loadInputs(p)
	if err != nil {
		return nil, err
	}
	return measureInputs(p, in, o)
}

// loadInputs reads the workflow and the items to profile with, so that a rank with bad input fails
// before it joins the job.
func loadInputs(p profileFlags) (profile.Items, error) {
	in, err := profile.LoadItems(p.workflow, p.data, p.items)
	if err != nil {
		return in, fmt.Errorf("profile: %w (generate the data with `jellybean gen-data`)", err)
	}
	if p.ratioItems > len(in.IDs) {
		in.CountIDs = in.Manifest.IDs[:min(p.ratioItems, len(in.Manifest.IDs))]
	}
	if err := in.Workflow.CheckFiles(); err != nil {
		return in, fmt.Errorf("profile: %w", err)
	}
	if _, err := onnx.Init(); err != nil {
		return in, err
	}
	return in, nil
}

func measureInputs(p profileFlags, in profile.Items, o profile.Options) (*profile.Result, error) {
	var err error
	if o.Batches, err = sweep.ParseSizes(p.batches); err != nil {
		return nil, err
	}
	o.Repeats, o.MinTime = p.repeats, p.minTime
	if o.Variants, err = profile.ParseVariants(p.variants); err != nil {
		return nil, err
	}
	return profile.Measure(in, o)
}

func writeProfile(res *profile.Result, out string) error {
	files, err := res.Files(out)
	if err != nil {
		return err
	}
	fmt.Println("profile:", strings.Join(files, " "))
	return nil
}

// profileDevice resolves --device for a rank: GPU discovery (NVML) only when a GPU is asked for, so CPU
// profiles never touch the driver.
func profileDevice(want string, localIndex int, host string, rank int) (string, error) {
	if want == "" || want == "cpu" {
		return "cpu", nil
	}
	inv, err := gpu.Discover()
	if err != nil {
		return "", fmt.Errorf("rank %d on host %s: %w", rank, host, err)
	}
	return gpu.DeviceForSlot(inv, want, localIndex, host, rank)
}
