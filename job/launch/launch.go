// Package launch starts a JellyBean job the way mpirun does: one `jellybean run` per rank of a hostfile,
// directly on this machine or through ssh on others, with a fresh per-job secret, each rank's output in
// runs/<id>/ranks/<rank>.log, a progress display, and the first failure stopping every other rank.
//
// The pure parts (command lines, progress, log tails, run ids) are separate from the process
// supervision (supervise.go) so that they can be table-tested.
package launch

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"jellybean/hostfiles"
	"jellybean/job/flow"
	"jellybean/job/runid"
	"jellybean/plan"
)

// Config is one launch.
type Config struct {
	Hostfile string   // hostfile path; optional with Resume (the run's copy is used)
	Plan     string   // plan path; optional with Resume; not used with Command
	Command  []string // when set, ranks run `jellybean <Command...> -H HOSTFILE --rank N --run-dir DIR` instead of `run -p PLAN`
	RunID    string   // id for a new run ("" = timestamp-based)
	Resume   string   // id of an existing run to continue; ranks then process only missing items
	// ResumeForce resumes although the run's inputs (plan, hostfile, dataset, models, binary) changed
	// since it started: the results then mix both; the launcher says so loudly and records it.
	ResumeForce bool
	Version     string // this build, recorded in inputs.json (default: from the build info)

	Root     string // JellyBean root: working directory of the ranks (default: current directory)
	RunsDir  string // where run directories live (default: <Root>/runs)
	Binary   string // jellybean executable for local ranks (default: this executable)
	Hostname string // this machine's name, for deciding which hosts are local (default: os.Hostname)
	SSH      SSHOptions

	Grace            time.Duration // SIGTERM → SIGKILL delay when stopping ranks (default 5s)
	ProgressInterval time.Duration // between progress lines when Err is not a terminal (default 10s)
	Out              io.Writer     // final report (default os.Stdout)
	Err              io.Writer     // progress and messages (default os.Stderr)
	ErrIsTerminal    bool          // redraw one progress line instead of printing lines
	Signals          <-chan os.Signal
	OnRunDir         func(id, dir string) // called once the run directory exists (e.g. to record the id)
}

// Result describes a finished launch.
type Result struct {
	RunID  string
	RunDir string // absolute
	Ranks  int
	Wall   time.Duration
	// Complete is set when --resume found the run already finished: nothing was started or changed.
	Complete bool
}

// Run launches the job and supervises it until every rank has exited. It returns a *RankFailure when a
// rank failed (after stopping the others) and an *Interrupted when a signal arrived on cfg.Signals.
func Run(cfg Config) (*Result, error) {
	if err := cfg.fillDefaults(); err != nil {
		return nil, err
	}
	id, dir, lock, err := prepareRunDir(&cfg)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	hf, err := hostfiles.Load(filepath.Join(dir, HostfileFile))
	if err != nil {
		return nil, err
	}
	if cfg.OnRunDir != nil {
		cfg.OnRunDir(id, dir)
	}
	if cfg.Command == nil {
		complete, err := checkInputs(cfg, id, dir)
		if err != nil {
			return nil, err
		}
		if complete {
			reportSuccess(cfg.Out, cfg.Root, dir, 0)
			return &Result{RunID: id, RunDir: dir, Ranks: len(hf.Ranks()), Complete: true}, nil
		}
	}

	job := Job{
		Root:    cfg.Root,
		Binary:  cfg.Binary,
		RunDir:  rankPath(cfg.Root, dir),
		JobID:   "jb-" + id,
		Secret:  NewSecret(),
		Resume:  cfg.Resume != "",
		Command: cfg.Command,
	}
	job.Hostfile = filepath.Join(job.RunDir, HostfileFile)
	if job.Rendezvous, err = launchRendezvous(hf, cfg.Hostname); err != nil {
		return nil, err
	}
	if cfg.Command == nil {
		job.Plan = filepath.Join(job.RunDir, PlanFile)
	}

	slots := hf.Ranks()
	fmt.Fprintf(cfg.Err, "jellybean launch: run %s: %d rank(s) on %s; logs in %s\n",
		id, len(slots), strings.Join(hf.HostNames(), ", "), filepath.Join(rankPath(cfg.Root, dir), RanksDir))
	start := time.Now()
	failure, err := supervise(cfg, job, dir, slots)
	wall := time.Since(start)
	res := &Result{RunID: id, RunDir: dir, Ranks: len(slots), Wall: wall}
	if err != nil {
		return res, err
	}
	if failure != nil {
		if cfg.Command == nil {
			// The sink's last progress line may be seconds old: what counts is what results.jsonl holds.
			fmt.Fprintf(cfg.Err, "jellybean launch: %s holds %d result(s); `--resume %s` finishes the rest\n",
				filepath.Join(rankPath(cfg.Root, dir), ResultsFile), countLines(filepath.Join(dir, ResultsFile)), id)
		}
		return res, failure
	}
	if cfg.Command == nil { // another sub-command reports its own results
		reportSuccess(cfg.Out, cfg.Root, dir, wall)
	}
	return res, nil
}

func (cfg *Config) fillDefaults() error {
	var err error
	if cfg.Root == "" {
		if cfg.Root, err = os.Getwd(); err != nil {
			return err
		}
	}
	if cfg.Root, err = filepath.Abs(cfg.Root); err != nil {
		return err
	}
	if cfg.RunsDir == "" {
		cfg.RunsDir = filepath.Join(cfg.Root, "runs")
	} else if !filepath.IsAbs(cfg.RunsDir) {
		cfg.RunsDir = filepath.Join(cfg.Root, cfg.RunsDir)
	}
	if cfg.Binary == "" {
		if cfg.Binary, err = os.Executable(); err != nil {
			return fmt.Errorf("finding the jellybean executable: %w", err)
		}
	}
	if cfg.Hostname == "" {
		cfg.Hostname = thisHostname()
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 5 * time.Second
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = 10 * time.Second
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.Err == nil {
		cfg.Err = os.Stderr
	}
	if cfg.Version == "" {
		cfg.Version = runid.Version()
	}
	return nil
}

// prepareRunDir validates the inputs and creates (or, for --resume, checks) the run directory, and takes
// the run's lock: one launcher at a time writes a run. Inputs are checked before anything is created, so
// a typo leaves no half-made run behind.
func prepareRunDir(cfg *Config) (id, dir string, lock *runid.Lock, err error) {
	id, dir, lock, err = createOrCheckRunDir(cfg)
	if err != nil {
		lock.Release()
		return "", "", nil, err
	}
	return id, dir, lock, nil
}

func createOrCheckRunDir(cfg *Config) (id, dir string, lock *runid.Lock, err error) {
	if cfg.Command != nil {
		if cfg.Resume != "" || cfg.Plan != "" {
			return "", "", nil, errors.New("a launch of another sub-command takes neither a plan nor --resume")
		}
		if cfg.Hostfile == "" {
			return "", "", nil, errors.New("need -H HOSTFILE")
		}
		if cfg.RunID != "" && !ValidRunID(cfg.RunID) {
			return "", "", nil, fmt.Errorf("run id %q: not a run id (letters, digits, '.', '_', '-')", cfg.RunID)
		}
		if _, err := hostfiles.Load(cfg.Hostfile); err != nil {
			return "", "", nil, err
		}
		id, err = createRunDir(cfg.RunsDir, cfg.RunID, "", cfg.Hostfile)
		if err != nil {
			return "", "", nil, err
		}
		dir = filepath.Join(cfg.RunsDir, id)
		lock, err = runid.Acquire(dir)
		return id, dir, lock, err
	}
	if cfg.Resume != "" {
		if !ValidRunID(cfg.Resume) {
			return "", "", nil, fmt.Errorf("--resume %q: not a run id (letters, digits, '.', '_', '-')", cfg.Resume)
		}
		if cfg.RunID != "" && cfg.RunID != cfg.Resume {
			return "", "", nil, errors.New("--run-id and --resume name different runs")
		}
		dir = filepath.Join(cfg.RunsDir, cfg.Resume)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return "", "", nil, fmt.Errorf("--resume %s: no run directory %s", cfg.Resume, dir)
		}
		// Locked before anything is read: a second launcher is refused at once, naming the first.
		if lock, err = runid.Acquire(dir); err != nil {
			return "", "", nil, err
		}
		if err := checkResumable(cfg.RunsDir, cfg.Resume, cfg.Plan, cfg.Hostfile); err != nil {
			return "", "", lock, err
		}
		if err := validateJob(cfg, filepath.Join(dir, HostfileFile), filepath.Join(dir, PlanFile)); err != nil {
			return "", "", lock, err
		}
		return cfg.Resume, dir, lock, nil
	}
	if cfg.Hostfile == "" || cfg.Plan == "" {
		return "", "", nil, errors.New("need -H HOSTFILE and -p PLAN (or --resume RUN_ID)")
	}
	if cfg.RunID != "" && !ValidRunID(cfg.RunID) {
		return "", "", nil, fmt.Errorf("--run-id %q: not a run id (letters, digits, '.', '_', '-')", cfg.RunID)
	}
	if err := validateJob(cfg, cfg.Hostfile, cfg.Plan); err != nil {
		return "", "", nil, err
	}
	id, err = createRunDir(cfg.RunsDir, cfg.RunID, cfg.Plan, cfg.Hostfile)
	if err != nil {
		return "", "", nil, err
	}
	dir = filepath.Join(cfg.RunsDir, id)
	lock, err = runid.Acquire(dir)
	return id, dir, lock, err
}

// validateJob checks the hostfile and the plan against each other before any rank starts, so that a typo
// is one error from the launcher rather than a failure of every rank. Model and dataset files are checked
// under the local root unless remote hosts have a root of their own.
func validateJob(cfg *Config, hostfilePath, planPath string) error {
	hf, err := hostfiles.Load(hostfilePath)
	if err != nil {
		return err
	}
	p, err := plan.Load(planPath)
	if err != nil {
		return err
	}
	local := cfg.SSH.RemoteRoot == ""
	if err := plan.Validate(p, planPath, plan.Options{Hostfile: hf, Root: cfg.Root, CheckFiles: local}); err != nil {
		return err
	}
	if !local {
		return nil
	}
	// The workflow's tensor flow, step parameters and model bindings, for the plan's variants: a
	// malformed workflow is one error here, not one per rank.
	_, err = flow.Compile(p.Flow, p.Variants(), flow.Env{})
	return err
}

// rankPath is how ranks are told about a path: relative to the root when it lies inside it (so that a
// remote host with its JellyBean checkout elsewhere finds it), else absolute.
func rankPath(root, p string) string {
	if rel, err := filepath.Rel(root, p); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
		return rel
	}
	return p
}

// rankEnv is the environment every rank process starts from: the launcher's, minus the variables through
// which a rank could pick up another job's identity or secret.
func rankEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "JELLYBEAN_JOB_ID", "JELLYBEAN_JOB_SECRET", "JELLYBEAN_RANK", runid.HeldEnv, EnvRendezvous, EnvFixedPorts:
			continue
		}
		env = append(env, kv)
	}
	return env
}
