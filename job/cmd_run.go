package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"jellybean/collective"
	"jellybean/hostfiles"
	"jellybean/job/exitcode"
	"jellybean/job/gpu"
	"jellybean/job/launch"
	"jellybean/job/pipeline"
	"jellybean/job/runid"
	"jellybean/plan"
	"jellybean/ranks"
)

func init() {
	register("run", "run one rank of a job (started by launch.sh, srun or mpirun)", runRank)
}

// lifelineGrace is how long a rank whose launcher vanished (stdin EOF) may take to stop cleanly.
const lifelineGrace = 3 * time.Second

func runRank(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	hostfile := fs.String("H", "hostfiles/localhost", "hostfile")
	planPath := fs.String("p", "plan/examples/default.toml", "plan")
	rankFlag := fs.String("rank", "", "this rank (default: from JELLYBEAN_RANK, OMPI_COMM_WORLD_RANK, PMIX_RANK, PMI_RANK, SLURM_PROCID, RANK)")
	runDir := fs.String("run-dir", "", "run directory (default runs/$JELLYBEAN_JOB_ID or runs/slurm-$SLURM_JOB_ID)")
	resume := fs.Bool("resume", false, "skip items already in the run directory's results.jsonl")
	secretStdin := fs.Bool("secret-stdin", false, "read the job secret from the first line of stdin; exit when stdin closes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	watchSignals := func() { signal.Notify(sigs, os.Interrupt, syscall.SIGTERM) }
	watchSignals()
	defer signal.Stop(sigs)
	go func() {
		if s, ok := <-sigs; ok {
			cancel(fmt.Errorf("received %v", s))
		}
	}()

	secret, err := jobSecret(*secretStdin, cancel)
	if err != nil {
		return err
	}
	hf, err := hostfiles.Load(*hostfile)
	if err != nil {
		return err
	}
	rank, from, err := ranks.Discover(*rankFlag, os.Getenv)
	if err != nil {
		return err
	}
	if err := ranks.CheckWorld(rank, from, hf.WorldSize(), hf.Name, os.Getenv); err != nil {
		return err
	}
	p, err := plan.Load(*planPath)
	if err != nil {
		return err
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	if err := plan.Validate(p, *planPath, plan.Options{Hostfile: hf, Root: root, CheckFiles: true}); err != nil {
		return err
	}
	jobID, dir, err := jobIdentity(*runDir, os.Getenv)
	if err != nil {
		return err
	}
	layout, err := ranks.NewLayout(hf, p, runtime.NumCPU())
	if err != nil {
		return err
	}
	me := layout.Workers[rank]
	device := me.Device
	if strings.HasPrefix(device, "cuda") {
		inv, err := gpu.Discover()
		if err != nil {
			return fmt.Errorf("rank %d on host %s: %w", rank, me.Host, err)
		}
		device = layout.ResolveDevice(rank, len(inv.Devices))
		if err := gpu.CheckPlacement(inv, device, me.Host, rank); err != nil {
			return err
		}
	}
	if rank == 0 {
		if err := seedRunDir(dir, *planPath, *hostfile); err != nil {
			return err
		}
	}
	logf := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "%s rank %d: %s\n", time.Now().UTC().Format("15:04:05.000"), rank, fmt.Sprintf(format, a...))
	}
	if warn := hostMismatch(me.Host); warn != "" {
		logf("%s", warn)
	}
	rendezvous, err := launch.RendezvousAddr(os.Getenv, layout.Workers[0].Host, p.Port())
	if err != nil {
		return err
	}
	// Under our launcher (locally, or over ssh with the secret on stdin) the launcher holds the run's lock;
	// under srun or mpirun the sink rank takes it, so that two jobs never write one run.
	lockRun := !runid.LauncherHolds(os.Getenv) && !*secretStdin
	err = pipeline.Run(ctx, pipeline.Config{Hostfile: hf, Plan: p, PlanName: *planPath, Rank: rank, Root: root,
		Rendezvous: rendezvous, LockRun: lockRun,
		RunDir: dir, JobID: jobID, Secret: secret, Resume: *resume, Cores: runtime.NumCPU(), Device: device, Logf: logf,
		ModelsLoaded: watchSignals})
	if err != nil && context.Cause(ctx) != nil && !errors.Is(context.Cause(ctx), context.Canceled) {
		return fmt.Errorf("rank %d (%s): %w (%v)", rank, me.Host, context.Cause(ctx), err)
	}
	if err != nil {
		err = fmt.Errorf("rank %d (%s): %w", rank, me.Host, asPeerFailure(err))
		var pf *exitcode.PeerFailure
		if errors.As(err, &pf) { // exit status exitcode.PeerFailed; the launcher reads whom we followed
			fmt.Fprintln(os.Stderr, exitcode.FollowedLine(pf.Peer))
		}
		return err
	}
	return nil
}

// asPeerFailure marks an error that a peer caused (its failure report, or the collective losing it) as
// an *exitcode.PeerFailure naming that peer, so that this rank exits with exitcode.PeerFailed: the
// launcher then blames the peer, not us.
func asPeerFailure(err error) error {
	var pf *exitcode.PeerFailure
	if errors.As(err, &pf) {
		return err
	}
	var pe *collective.PeerError
	if errors.As(err, &pe) {
		return &exitcode.PeerFailure{Peer: pe.Rank, Err: err}
	}
	return err
}

// jobSecret reads the per-job secret: from the first line of stdin (ssh ranks; stdin then stays open as
// the launcher's lifeline and its end stops this rank), else from JELLYBEAN_JOB_SECRET. Never from argv.
func jobSecret(fromStdin bool, cancel context.CancelCauseFunc) ([]byte, error) {
	var text, from string
	if fromStdin {
		in := bufio.NewReader(os.Stdin)
		line, err := in.ReadString('\n')
		if err != nil && line == "" {
			return nil, fmt.Errorf("--secret-stdin: reading the secret from stdin: %v", err)
		}
		text, from = strings.TrimSpace(line), "stdin"
		go func() {
			_, _ = io.Copy(io.Discard, in)
			cancel(errors.New("stdin closed: the launcher is gone"))
			time.Sleep(lifelineGrace)
			fmt.Fprintln(os.Stderr, "jellybean run: stdin closed (launcher gone); exiting")
			os.Exit(1)
		}()
	} else {
		text, from = os.Getenv("JELLYBEAN_JOB_SECRET"), "JELLYBEAN_JOB_SECRET"
		if text == "" {
			return nil, errors.New("no job secret: set JELLYBEAN_JOB_SECRET (hex, the same for every rank) or pass --secret-stdin")
		}
	}
	secret, err := hex.DecodeString(text)
	if err != nil || len(secret) < 16 {
		return nil, fmt.Errorf("job secret from %s must be at least 16 bytes of hex", from)
	}
	return secret, nil
}

// jobIdentity returns the job id and run directory: the launcher sets JELLYBEAN_JOB_ID and --run-dir;
// under Slurm the id derives from SLURM_JOB_ID, under PMIx-based mpirun from PMIX_NAMESPACE. Every rank
// of a job derives the same id, which the collective's handshake checks.
func jobIdentity(runDir string, getenv func(string) string) (string, string, error) {
	id := getenv("JELLYBEAN_JOB_ID")
	switch {
	case id != "":
	case getenv("SLURM_JOB_ID") != "":
		id = "slurm-" + getenv("SLURM_JOB_ID")
	case getenv("PMIX_NAMESPACE") != "":
		id = "mpi-" + safeName(getenv("PMIX_NAMESPACE"))
	case runDir != "":
		id = filepath.Base(runDir)
	default:
		return "", "", errors.New("no job id: set JELLYBEAN_JOB_ID (the same for every rank) or pass --run-dir")
	}
	if runDir == "" {
		runDir = filepath.Join("runs", id)
	}
	return id, runDir, nil
}

// safeName keeps letters, digits, '.', '_' and '-' (a launcher's namespace may hold '@' or '/').
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '-'
	}, s)
}

// seedRunDir creates the run directory and keeps copies of the plan and hostfile in it when nobody did
// (the launcher does; srun and mpirun do not).
func seedRunDir(dir, planPath, hostfile string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating run directory: %w", err)
	}
	for src, name := range map[string]string{planPath: "plan.toml", hostfile: "hostfile"} {
		dst := filepath.Join(dir, name)
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// hostMismatch warns when the hostfile places this rank on a named host that is not this machine (srun
// or mpirun placed it elsewhere than the hostfile says; peers will then look for it in the wrong place).
func hostMismatch(host string) string {
	if host == "localhost" || net.ParseIP(host) != nil {
		return ""
	}
	name, err := os.Hostname()
	if err != nil {
		return ""
	}
	short := func(s string) string { s, _, _ = strings.Cut(s, "."); return s }
	if short(name) == short(host) {
		return ""
	}
	return fmt.Sprintf("warning: the hostfile places this rank on %q but this machine is %q; "+
		"peers will connect to %s", host, name, host)
}
