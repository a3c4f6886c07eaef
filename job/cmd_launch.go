package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"jellybean/hostfiles"
	"jellybean/job/launch"
)

func init() {
	register("launch", "start a job: one `jellybean run` per hostfile rank, locally or over ssh", runLaunch)
}

func runLaunch(args []string) error {
	fs := flag.NewFlagSet("launch", flag.ContinueOnError)
	var cfg launch.Config
	fs.StringVar(&cfg.Hostfile, "H", "", "hostfile (Open MPI or MPICH syntax)")
	fs.StringVar(&cfg.Plan, "p", "", "plan (TOML)")
	fs.StringVar(&cfg.Resume, "resume", "", "continue run `RUN_ID`: only items missing from its results.jsonl")
	fs.BoolVar(&cfg.ResumeForce, "resume-force", false, "with --resume: continue although the run's inputs changed (mixes results of both; recorded in inputs.json)")
	fs.StringVar(&cfg.RunID, "run-id", "", "id for the new run (default: timestamp-based)")
	fs.StringVar(&cfg.RunsDir, "runs", "runs", "directory holding run directories")
	fs.StringVar(&cfg.Root, "root", "", "JellyBean root, the ranks' working directory (default: current directory)")
	idFile := fs.String("run-id-file", "", "write the run id to `FILE` once the run directory exists")
	listRanks := fs.Bool("list-ranks", false, "print the host of every rank of -H, one line per rank (Slurm's SLURM_HOSTFILE format), and exit")
	fs.DurationVar(&cfg.Grace, "grace", 5*time.Second, "time between SIGTERM and SIGKILL when stopping ranks")
	fs.DurationVar(&cfg.ProgressInterval, "progress-every", 10*time.Second, "progress line interval when stderr is not a terminal")
	ssh, err := launch.SSHOptionsFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	fs.IntVar(&ssh.Port, "ssh-port", ssh.Port, "ssh port of remote hosts ($JELLYBEAN_SSH_PORT)")
	fs.StringVar(&ssh.Identity, "ssh-identity", ssh.Identity, "ssh private key ($JELLYBEAN_SSH_IDENTITY)")
	fs.StringVar(&ssh.RemoteRoot, "remote-root", ssh.RemoteRoot, "JellyBean root on remote hosts ($JELLYBEAN_REMOTE_ROOT; default: same path)")
	fs.StringVar(&ssh.RemoteBinary, "remote-bin", ssh.RemoteBinary, "jellybean program on remote hosts ($JELLYBEAN_REMOTE_BIN; default bin/jellybean)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags: -H HOSTFILE -p PLAN [--resume RUN_ID])", fs.Arg(0))
	}
	if *listRanks {
		return printRanks(cfg.Hostfile)
	}
	cfg.SSH = ssh
	if st, err := os.Stderr.Stat(); err == nil {
		cfg.ErrIsTerminal = st.Mode()&os.ModeCharDevice != 0
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	cfg.Signals = sigs
	if *idFile != "" {
		cfg.OnRunDir = func(id, _ string) { _ = os.WriteFile(*idFile, []byte(id+"\n"), 0o644) }
	}
	_, err = launch.Run(cfg)
	return err
}

// printRanks writes the host of each rank in rank order: with `srun --distribution=arbitrary` and
// SLURM_HOSTFILE pointing at this list, Slurm's task numbers are JellyBean's ranks.
func printRanks(hostfile string) error {
	if hostfile == "" {
		return fmt.Errorf("--list-ranks needs -H HOSTFILE")
	}
	hf, err := hostfiles.Load(hostfile)
	if err != nil {
		return err
	}
	for _, s := range hf.Ranks() {
		fmt.Println(s.Host)
	}
	return nil
}
