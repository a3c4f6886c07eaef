package loop

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"jellybean/hostfiles"
	"jellybean/job/flow"
	"jellybean/job/launch"
	"jellybean/job/profile/capacity"
	"jellybean/job/report"
	"jellybean/job/tiers"
	"jellybean/plan"
	"jellybean/plan/optimizer"
	"jellybean/plan/optimizer/inputs"
	"jellybean/plan/workflow"
	"jellybean/workloads/registry"
)

// Config says what `jellybean loop` does. Zero values take the defaults of the command line.
type Config struct {
	Root      string // JellyBean root: the ranks' working directory (default: current directory)
	Hostfile  string // hosts to profile and place workers on
	Infra     string // optional infrastructure.toml (`jellybean tiers up`): tiers and prices per host
	Rate      float64
	AutoRate  bool    // choose the rate from the profile (ChooseRate) instead of Rate
	Threshold float64 // accuracy target, percent
	Workload  string  // registered workload (its evaluator and accuracy profiler); default: the workflow's name
	DataDir   string  // dataset directory holding <split>/manifest.jsonl (default: the workload's)
	Split     string
	Limit     int // process at most this many items (0 = the whole split)
	Solver    string
	TimeLimit time.Duration
	RunID     string
	RunsDir   string
	Workflow  string // workflow file the plan runs, relative to Root (default: the workload's)
	Batch     int    // the plan's micro-batch size
	Threads   int    // intra-op threads of every model worker, in the profile and in the plan
	Cores     int    // CPU cores the hosts' ranks share, for --rate auto
	Util      float64
	RunnerMs  float64 // with AutoRate: the runner's CPU ms per item besides the models (DefaultRunnerMs)
	// Unpaced runs the plan without pacing (input_rate = 0): the optimizer still places workers for Rate,
	// but the sources read as fast as they can, so the run measures the plan's maximum throughput, which
	// is compared with the predicted maximum (report.PredictedMaximum).
	Unpaced bool
	// ProfileSlots is how many ranks per host the latency profile runs (0 = every slot of the hostfile).
	// The ranks of one host take turns measuring the same models, so one is enough for the optimizer's
	// per-host figures; more only repeat them (their median is kept).
	ProfileSlots int
	// Confirm profiles the plan's variants on their own inputs (profile --variants) once the optimizer
	// has chosen them, puts those rows in place of the first profile's and optimizes again: the first
	// profile times each variant of a node with the first variant of the nodes upstream, and a node's
	// cost can depend on them (OCR: the recogniser's pieces from the 1280-pixel detector cost 8.3–9 ms of
	// CPU each, those from the 480-pixel one 6.9 ms, so the plan's recogniser had been predicted 25 %
	// faster than it ran).
	Confirm bool
	// Recheck re-times the plan's variants right after its run (profile --variants, into
	// loop/profile-after) and compares the run with capacities predicted from that profile too: on a
	// shared machine whose speed moves between the profile and the run, it tells the model's error
	// (both comparisons off) from the machine's drift (only the first off).
	Recheck bool

	ProfileItems, ProfileRepeats int
	// ProfileRatioItems is how many items the profile counts the rate ratios on (profile --ratio-items;
	// 0: the items the run takes, --limit, at most DefaultRatioItems).
	ProfileRatioItems int
	// ProfileMinTime is the least time the profile's timed runs of one model and batch size span
	// (profile.Options.MinTime; 0: --repeats alone).
	ProfileMinTime time.Duration
	Binary         string        // jellybean executable (the profile step and local ranks)
	Launch         launch.Config // SSH options, signals, terminal flag; files and ids are set here
	Log            io.Writer

	workload *registry.Workload
	flow     *workflow.Workflow
}

// Step is one timed step of the loop.
type Step struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	Note    string  `json:"note,omitempty"`
}

// Summary is runs/<id>/loop/loop.json: what the loop chose and what the run measured.
type Summary struct {
	RunID             string             `json:"run_id"`
	Rate              float64            `json:"rate_items_per_second"`
	RateWhy           string             `json:"rate_why"`
	Variants          map[string]string  `json:"variants"`
	Workers           map[string]int     `json:"workers"`
	PredictedAccuracy float64            `json:"predicted_accuracy"`
	MeasuredAccuracy  float64            `json:"measured_accuracy"`
	Stages            []StageComparison  `json:"stages"`
	Steps             []Step             `json:"steps"`
	Report            string             `json:"report"`
	PredictedCost     map[string]float64 `json:"predicted_cost"`
	// Paced is false for an --unpaced run. PredictedMaximum is the most source items/s the plan carries:
	// what its slowest stage sustains, or the cores bound where that is lower; Bottleneck names which
	// (report.CoresBottleneck for the cores). Throughput is the run's measured end-to-end figure.
	Paced            bool    `json:"paced"`
	PredictedMaximum float64 `json:"predicted_maximum_items_per_second"`
	Bottleneck       string  `json:"bottleneck"`
	// CoresBound is the most the profiled stages carry when the ranks share the hosts' cores (Cores
	// each): see report.CoresBound.
	CoresBound float64 `json:"cores_bound_items_per_second"`
	Throughput float64 `json:"throughput_items_per_second"`
	// SteadyThroughput is the rate from the first result to the last (the pipeline full): what an
	// unpaced run compares with PredictedMaximum.
	SteadyThroughput float64           `json:"steady_throughput_items_per_second,omitempty"`
	Capacity         []CapacityCompare `json:"capacity"`
	// Recheck (loop --recheck) holds the same comparisons against a profile of the plan's variants
	// taken right after the run.
	Recheck *Recheck `json:"recheck,omitempty"`
}

// Recheck is the run compared with a profile taken right after it (Config.Recheck): the capacity rows
// and the predicted maximum as that profile gives them. Its ratios off where the main profile's are not
// mean the model; the other way round, the machine's speed moved between the profile and the run.
type Recheck struct {
	Profile          string            `json:"profile"`
	PredictedMaximum float64           `json:"predicted_maximum_items_per_second"`
	Bottleneck       string            `json:"bottleneck"`
	Capacity         []CapacityCompare `json:"capacity"`
}

// CapacityCompare is one row of the capacity table: what a stage's workers sustain, predicted from the
// profile (at the plan's batch size, and at the run's mean batch size) and measured in the run, in the
// stage's own items per second (see report.CapacityRow).
type CapacityCompare struct {
	Stage       string  `json:"stage"`
	Variant     string  `json:"variant,omitempty"`
	Workers     int     `json:"workers"`
	Units       float64 `json:"items_per_source_item"`
	MeanBatch   float64 `json:"mean_batch"`
	AtPlanBatch float64 `json:"predicted_at_plan_batch"`
	Predicted   float64 `json:"predicted_items_per_second"`
	Measured    float64 `json:"measured_items_per_second"`
	Ratio       float64 `json:"ratio"`
	Basis       string  `json:"basis"`
	Busy        float64 `json:"busy"`    // share of the run its workers were on the CPU (below 0.5: starved)
	Starved     float64 `json:"starved"` // share of its micro-batches that waited for their first items (capacity.Model.StarvedMsPerItem)
}

// StageComparison is one row of the predicted-vs-measured table.
type StageComparison struct {
	Stage     string  `json:"stage"`
	Predicted float64 `json:"predicted_items_per_second"`
	Measured  float64 `json:"measured_items_per_second"`
	Ratio     float64 `json:"ratio"`
}

// CheckNumbers refuses numeric settings that make no sense, naming the flag, so that a typo fails at once
// rather than after the profile: a threshold outside 0..100 (or NaN), a negative or NaN rate, share or
// runner cost, a negative count or duration. Zero keeps meaning "the default" where the command line's
// default is used.
func (c *Config) CheckNumbers() error {
	bad := func(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }
	switch {
	case bad(c.Threshold) || c.Threshold < 0 || c.Threshold > 100:
		return fmt.Errorf("--threshold %v: want an accuracy in percent, 0 to 100", c.Threshold)
	case !c.AutoRate && (bad(c.Rate) || !(c.Rate > 0)):
		return fmt.Errorf("--rate %v: want items/s > 0 or auto", c.Rate)
	case bad(c.Util) || c.Util < 0 || c.Util > 1:
		return fmt.Errorf("--utilisation %v: want a share of the cores, 0 to 1", c.Util)
	case bad(c.RunnerMs) || c.RunnerMs < 0:
		return fmt.Errorf("--runner-ms %v: want milliseconds >= 0", c.RunnerMs)
	case c.Limit < 0:
		return fmt.Errorf("--limit %d: want 0 (all items) or more", c.Limit)
	case c.Batch < 0:
		return fmt.Errorf("--batch %d: want a micro-batch size >= 1", c.Batch)
	case c.Threads < 0:
		return fmt.Errorf("--threads %d: want >= 1", c.Threads)
	case c.Cores < 0:
		return fmt.Errorf("--cores %d: want >= 1 (0 = this machine's)", c.Cores)
	case c.ProfileItems < 0:
		return fmt.Errorf("--profile-items %d: want >= 1", c.ProfileItems)
	case c.ProfileSlots < 0:
		return fmt.Errorf("--profile-slots %d: want >= 0 (0 = every slot)", c.ProfileSlots)
	case c.ProfileRepeats < 0:
		return fmt.Errorf("--profile-repeats %d: want >= 1", c.ProfileRepeats)
	case c.ProfileMinTime < 0:
		return fmt.Errorf("--profile-min-time %v: want >= 0", c.ProfileMinTime)
	case c.TimeLimit < 0:
		return fmt.Errorf("--time-limit %v: want a positive duration", c.TimeLimit)
	}
	return nil
}

func (c *Config) defaults() error {
	if err := c.CheckNumbers(); err != nil {
		return err
	}
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	def(&c.Root, wd)
	def(&c.Hostfile, "hostfiles/localhost")
	def(&c.Split, "test")
	def(&c.Solver, "exact")
	def(&c.RunsDir, "runs")
	if c.Batch <= 0 {
		c.Batch = 8
	}
	if c.Threads <= 0 {
		c.Threads = 1
	}
	if c.Util <= 0 {
		c.Util = DefaultUtilisation
	}
	if c.ProfileRatioItems <= 0 {
		c.ProfileRatioItems = DefaultRatioItems
		if c.Limit > 0 {
			c.ProfileRatioItems = min(c.Limit, DefaultRatioItems)
		}
	}
	if c.ProfileItems <= 0 {
		c.ProfileItems = 16
	}
	if c.ProfileRepeats <= 0 {
		c.ProfileRepeats = 10
	}
	if c.TimeLimit <= 0 {
		c.TimeLimit = 60 * time.Second
	}
	if c.Log == nil {
		c.Log = os.Stderr
	}
	if c.Binary == "" {
		if c.Binary, err = os.Executable(); err != nil {
			return err
		}
	}
	if c.RunID == "" {
		c.RunID = launch.NewRunID(time.Now())
	}
	if !launch.ValidRunID(c.RunID) {
		return fmt.Errorf("--run-id %q: not a run id (letters, digits, '.', '_', '-')", c.RunID)
	}
	return c.findWorkload()
}

// findWorkload resolves the workflow file and the workload whose hooks measure and score it: the one
// named by Workload, or by the workflow file's name.
func (c *Config) findWorkload() error {
	var err error
	switch {
	case c.Workflow != "":
		c.workload, c.flow, err = registry.ForWorkflow(plan.Resolve(c.Root, c.Workflow))
		if err != nil {
			return err
		}
		if c.Workload != "" && c.Workload != c.workload.Name {
			return fmt.Errorf("--workflow %s is workflow %q, not --workload %q", c.Workflow, c.workload.Name, c.Workload)
		}
	case c.Workload != "":
		if c.workload, err = registry.Lookup(c.Workload); err != nil {
			return err
		}
		c.Workflow = c.workload.Workflow
		if c.flow, err = workflow.Load(plan.Resolve(c.Root, c.Workflow)); err != nil {
			return err
		}
	default:
		return fmt.Errorf("no workflow: give --workflow FILE or --workload NAME")
	}
	if c.workload.ProfileAccuracy == nil || c.workload.Eval == nil {
		return fmt.Errorf("workload %q has no accuracy profiler or evaluator: the loop needs both", c.workload.Name)
	}
	if c.DataDir == "" {
		c.DataDir = c.workload.DataDir // relative to Root, like the plan's dataset
	}
	return nil
}

// Run closes the loop; see the package comment. Everything it writes before the launch goes to a
// staging folder, runs/.<id>.loop, which becomes runs/<id>/loop once the launcher has made runs/<id>.
func Run(cfg Config) (*Summary, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	sum := &Summary{RunID: cfg.RunID, Paced: !cfg.Unpaced}
	logf := func(format string, a ...any) { fmt.Fprintf(cfg.Log, "loop: "+format+"\n", a...) }
	step := func(name string, f func() (string, error)) error {
		logf("%s ...", name)
		t0 := time.Now()
		note, err := f()
		s := Step{Name: name, Seconds: math.Round(time.Since(t0).Seconds()*100) / 100, Note: note}
		if err != nil {
			return fmt.Errorf("loop: %s: %w", name, err)
		}
		sum.Steps = append(sum.Steps, s)
		if note != "" {
			logf("%s done in %.1f s: %s", name, s.Seconds, note)
		} else {
			logf("%s done in %.1f s", name, s.Seconds)
		}
		return nil
	}

	runDir := filepath.Join(cfg.RunsDir, cfg.RunID)
	if _, err := os.Stat(runDir); err == nil {
		return nil, fmt.Errorf("run %s already exists in %s", cfg.RunID, cfg.RunsDir)
	}
	hf, err := hostfiles.Load(cfg.Hostfile)
	if err != nil {
		return nil, err
	}
	var infra *tiers.Infrastructure
	if cfg.Infra != "" {
		infra = &tiers.Infrastructure{}
		data, err := os.ReadFile(cfg.Infra)
		if err != nil {
			return nil, err
		}
		if err := plan.DecodeStrictTOML(cfg.Infra, data, infra); err != nil {
			return nil, err
		}
	}
	hosts, err := HostsOf(hf, infra, cfg.Infra)
	if err != nil {
		return nil, err
	}
	manifest := filepath.Join(cfg.DataDir, cfg.Split, "manifest.jsonl")
	man, err := flow.LoadManifest(manifest)
	if err != nil {
		return nil, fmt.Errorf("split %s: %w (generate it with `jellybean gen-data --workload %s --split %s`)", cfg.Split, err, cfg.workload.Name, cfg.Split)
	}
	if cfg.Limit >= len(man.IDs) {
		cfg.Limit = 0
	}
	stage := filepath.Join(cfg.RunsDir, "."+cfg.RunID+".loop")
	if err := os.RemoveAll(stage); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return nil, err
	}
	compress := "off"
	if infra != nil {
		compress = "fastest" // tiers are separated by shaped links: compressing pays there
	}

	// a. Latency of every variant on every host, and the message size of every edge.
	profDir := filepath.Join(stage, "profile")
	profHostfile := cfg.Hostfile
	if err := step("profile", func() (string, error) {
		if cfg.ProfileSlots > 0 {
			profHostfile = filepath.Join(stage, "profile-hostfile")
			if err := os.WriteFile(profHostfile, []byte(ProfileHostfile(hf, cfg.ProfileSlots)), 0o644); err != nil {
				return "", err
			}
		}
		return "", runProfile(cfg, profHostfile, manifest, profDir)
	}); err != nil {
		return nil, err
	}

	// b. Accuracy of every combination on the items the job will process.
	var acc *registry.Accuracy
	if err := step("accuracy", func() (note string, err error) {
		acc, note, err = accuracyProfile(cfg, manifest, filepath.Join(stage, "accuracy"))
		return note, err
	}); err != nil {
		return nil, err
	}

	inDir := filepath.Join(stage, "inputs")
	var lat, perSrc Latencies // per item of each stage; per item of the sources (fan-outs multiply)
	planPath, hostfilePath := filepath.Join(stage, "plan.toml"), filepath.Join(stage, "hostfile")
	var pl *plan.Plan
	// c–d run again after the chosen variants were timed on their own inputs (Config.Confirm), until
	// the plan keeps variants that were (at most maxConfirms profiles).
	confirmed := map[string]bool{}
	for {
		// c. The optimizer's inputs.
		if err := step("inputs", func() (string, error) {
			lat, err = ReadLatencies(filepath.Join(profDir, "latency.csv"), cfg.Batch)
			if err != nil {
				return "", err
			}
			msgFile := "message_sizes.csv"
			if compress != "off" {
				msgFile = "message_sizes_zstd.csv"
			}
			msgs, err := ReadMessages(filepath.Join(profDir, msgFile))
			if err != nil {
				return "", err
			}
			ratios, err := capacity.ReadRatios(filepath.Join(profDir, "ratios.csv"))
			if err != nil {
				return "", err
			}
			if perSrc, err = PerSourceItem(lat, cfg.flow, ratios); err != nil {
				return "", err
			}
			combos := acc.Combos
			sum.Rate, sum.RateWhy = cfg.Rate, "given with --rate"
			if cfg.AutoRate {
				rc, err := ChooseRate(perSrc, combos, cfg.Threshold, cfg.cores(), cfg.Util, cfg.RunnerMs)
				if err != nil {
					return "", err
				}
				sum.Rate, sum.RateWhy = rc.Rate, rc.Why
				logf("rate auto: %s", rc.Why)
			}
			cross := 0.0
			if infra != nil {
				cross = DefaultCrossTierCostPerGB
			}
			native, err := Native(Instance{Workflow: cfg.flow, Rate: sum.Rate, Threshold: cfg.Threshold, Hosts: hosts, Latency: lat,
				Messages: msgs, Combos: combos, CrossTierCostPerGB: cross, Ratios: ratios})
			if err != nil {
				return "", err
			}
			opts := PlanOptions("loop-"+cfg.RunID, cfg.Workflow, manifest, cfg.Batch, cfg.Threads, cfg.Limit, compress, hosts)
			variants, err := inputs.EncodeVariants(opts)
			if err != nil {
				return "", err
			}
			if err := os.MkdirAll(inDir, 0o755); err != nil {
				return "", err
			}
			if err := os.WriteFile(filepath.Join(inDir, inputs.NativeFile), native, 0o644); err != nil {
				return "", err
			}
			return fmt.Sprintf("rate %.1f items/s", sum.Rate), os.WriteFile(filepath.Join(inDir, inputs.VariantsFile), variants, 0o644)
		}); err != nil {
			return nil, err
		}

		// d. Solve and write the plan with a hostfile that matches it.
		if err := step("optimize", func() (string, error) {
			pl, err = solve(cfg, inDir)
			if err != nil {
				return "", err
			}
			// A later round (after confirm) must not keep an earlier round's figures.
			sum.PredictedMaximum, sum.Bottleneck, sum.CoresBound = 0, "", 0
			cm, err := report.LoadCapacityModel(profDir)
			if err != nil {
				return "", err
			}
			if cm != nil {
				m, err := predictMaximum(pl, cm, cfg.cores())
				if err != nil {
					return "", err
				}
				if m.stageOK {
					logf("the plan's slowest stage, %s, carries at most %.2f items/s", m.stage, m.stageMax)
				}
				if m.hasCores {
					sum.CoresBound = m.cores
					logf("sharing %d core(s), the profiled stages carry at most %.2f items/s", cfg.cores(), m.cores)
				}
				sum.PredictedMaximum, sum.Bottleneck = m.max, m.bottleneck
				if cfg.Unpaced {
					if !m.stageOK {
						return "", fmt.Errorf("--unpaced: the profile in %s predicts no stage of the plan", profDir)
					}
					if err := Unpace(pl, cm, m.max); err != nil {
						return "", err
					}
				}
			}
			data, err := pl.Encode()
			if err != nil {
				return "", err
			}
			if err := os.WriteFile(planPath, data, 0o644); err != nil {
				return "", err
			}
			sum.Variants, sum.Workers = pl.Variants(), map[string]int{}
			for _, st := range pl.Stages {
				sum.Workers[st.Name] = len(st.Workers)
			}
			sum.PredictedAccuracy = pl.Predicted.Accuracy
			sum.PredictedCost = map[string]float64{"compute": pl.Predicted.ComputeCost, "communication": pl.Predicted.CommunicationCost, "total": pl.Predicted.TotalCost}
			if d, ok := DemandMs(perSrc, Combo{Variants: sum.Variants}); ok {
				logf("chosen variants need %.2f ms of profiled CPU per item (+ %.2f ms of the runner's elsewhere): %.2f of %d cores at %.1f items/s",
					d, cfg.RunnerMs, (d+cfg.RunnerMs)*sum.Rate/1000, cfg.cores(), sum.Rate)
			}
			return fmt.Sprintf("variants %v, workers %v, predicted accuracy %.2f%%, cost %.4f", sum.Variants, sum.Workers,
				pl.Predicted.Accuracy, pl.Predicted.TotalCost), os.WriteFile(hostfilePath, []byte(Hostfile(pl)), 0o644)
		}); err != nil {
			return nil, err
		}
		chosen := variantsArg(sum.Variants)
		if !cfg.Confirm || confirmed[chosen] {
			break
		}
		if len(confirmed) >= maxConfirms {
			logf("the variants chosen last (%s) keep the first profile's figures: %d choices were profiled on their own inputs already", chosen, maxConfirms)
			break
		}
		confirmed[chosen] = true
		if err := step("confirm", func() (string, error) {
			return confirm(cfg, profHostfile, manifest, profDir, filepath.Join(stage, fmt.Sprintf("profile-chosen-%d", len(confirmed))), chosen)
		}); err != nil {
			return nil, err
		}
	}

	// e. Launch exactly as `jellybean launch` does, then evaluate and report.
	if err := step("launch", func() (string, error) {
		lc := cfg.Launch
		lc.Hostfile, lc.Plan, lc.RunID, lc.RunsDir, lc.Root = hostfilePath, planPath, cfg.RunID, cfg.RunsDir, cfg.Root
		lc.Binary = cfg.Binary
		moved := false
		lc.OnRunDir = func(id, dir string) {
			// The launcher has copied plan and hostfile: the staging folder can move into the run.
			moved = os.Rename(stage, filepath.Join(dir, "loop")) == nil
		}
		res, err := launch.Run(lc)
		if !moved {
			logf("the loop's files stay in %s", stage)
		}
		if err != nil {
			return "", err
		}
		if !moved {
			return "", fmt.Errorf("could not move %s into %s/loop", stage, res.RunDir)
		}
		return fmt.Sprintf("%d ranks, %.1f s", res.Ranks, res.Wall.Seconds()), nil
	}); err != nil {
		return nil, err
	}
	if err := step("eval", func() (string, error) {
		ev, err := cfg.workload.Eval(cfg.Root, runDir)
		if err != nil {
			return "", err
		}
		sum.MeasuredAccuracy = ev.Accuracy
		return ev.Summary, registry.WriteEval(runDir, ev)
	}); err != nil {
		return nil, err
	}
	if err := step("report", func() (string, error) {
		sum.Report, err = report.Write(runDir, filepath.Join(runDir, "loop", "profile"), filepath.Join(runDir, "report"))
		return sum.Report, err
	}); err != nil {
		return nil, err
	}
	an, err := analyseAgainst(runDir, filepath.Join(runDir, "loop", "profile"))
	if err != nil {
		return nil, err
	}
	for _, row := range an.Stages {
		sum.Stages = append(sum.Stages, StageComparison{Stage: row.Name, Predicted: row.Predicted, Measured: row.Measured, Ratio: row.Ratio})
	}
	sum.Throughput, sum.SteadyThroughput = an.Throughput, an.SteadyThroughput
	sum.Capacity = capacityRows(an)
	if cfg.Recheck {
		if err := step("recheck", func() (string, error) {
			rc, err := recheck(cfg, runDir, manifest, pl, sum.Variants)
			if err != nil {
				return "", err
			}
			sum.Recheck = rc
			return fmt.Sprintf("%s; predicted maximum %.2f items/s (set by %s)", rc.Profile, rc.PredictedMaximum, rc.Bottleneck), nil
		}); err != nil {
			return nil, err
		}
	}
	data, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return nil, err
	}
	return sum, os.WriteFile(filepath.Join(runDir, "loop", "loop.json"), append(data, '\n'), 0o644)
}

// maximum is what a plan carries at most by a profile: its slowest stage's figure, the cores bound,
// and the lesser of them with what sets it.
type maximum struct {
	stageMax, cores, max float64
	stage, bottleneck    string
	stageOK, hasCores    bool
}

func predictMaximum(pl *plan.Plan, cm *report.CapacityModel, cores int) (maximum, error) {
	var m maximum
	var err error
	if m.stageMax, m.stage, m.stageOK, err = report.PredictedMaximum(pl, cm); err != nil {
		return m, err
	}
	if m.cores, m.hasCores, err = report.CoresBound(pl, cm, func(string) int { return cores }); err != nil {
		return m, err
	}
	if m.stageOK {
		m.max, m.bottleneck = m.stageMax, m.stage
		// The ranks of a host share its cores: where they need them all first, the cores set the plan's
		// maximum, not a stage.
		if m.hasCores && m.cores < m.max {
			m.max, m.bottleneck = m.cores, report.CoresBottleneck
		}
	}
	return m, nil
}

// analyseAgainst compares the run in runDir with the profile in profDir.
func analyseAgainst(runDir, profDir string) (*report.Analysis, error) {
	r, err := report.Load(runDir)
	if err != nil {
		return nil, err
	}
	if err := r.LoadProfile(profDir); err != nil {
		return nil, err
	}
	return report.Analyse(r), nil
}

func capacityRows(an *report.Analysis) []CapacityCompare {
	var out []CapacityCompare
	for _, c := range an.Capacity {
		out = append(out, CapacityCompare{Stage: c.Stage, Variant: c.Variant, Workers: c.Workers, Units: c.Units,
			MeanBatch: c.MeanBatch, AtPlanBatch: c.AtPlanBatch, Predicted: c.Predicted, Measured: c.Measured, Ratio: c.Ratio, Basis: c.Basis, Busy: c.Busy, Starved: c.Starved})
	}
	return out
}

// recheck re-times the plan's variants on the profile's hosts right after the run (Config.Recheck)
// and compares the run with that profile. The rate ratios are the main profile's (they are counts, not
// times), so the re-timing runs only the timed items.
func recheck(cfg Config, runDir, manifest string, pl *plan.Plan, variants map[string]string) (*Recheck, error) {
	loopDir := filepath.Join(runDir, "loop")
	hostfile := cfg.Hostfile
	if cfg.ProfileSlots > 0 {
		hostfile = filepath.Join(loopDir, "profile-hostfile") // the loop's files moved into the run
	}
	after := filepath.Join(loopDir, "profile-after")
	if err := profileChosen(cfg, hostfile, manifest, after, variantsArg(variants)); err != nil {
		return nil, err
	}
	ratios, err := os.ReadFile(filepath.Join(loopDir, "profile", "ratios.csv"))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(after, "ratios.csv"), ratios, 0o644); err != nil {
		return nil, err
	}
	cm, err := report.LoadCapacityModel(after)
	if err != nil {
		return nil, err
	}
	out := &Recheck{Profile: filepath.Join(cfg.RunID, "loop", "profile-after")}
	if cm != nil {
		m, err := predictMaximum(pl, cm, cfg.cores())
		if err != nil {
			return nil, err
		}
		out.PredictedMaximum, out.Bottleneck = m.max, m.bottleneck
	}
	an, err := analyseAgainst(runDir, after)
	if err != nil {
		return nil, err
	}
	out.Capacity = capacityRows(an)
	return out, nil
}

// maxConfirms is how many choices of variants the loop profiles on their own inputs (Config.Confirm)
// before it keeps the plan as it is: a corrected profile can change the choice, whose variants are
// then timed too, but it must end.
const maxConfirms = 2

// confirm profiles the chosen variants (profile --variants) into dir and puts their rows in place of
// the same rows of profDir's latency.csv and message size files (the first profile's stay in
// latency-first.csv, message_sizes-first.csv, message_sizes_zstd-first.csv). The rate ratios are the
// first profile's: they are counts, counted on more items.
func confirm(cfg Config, hostfile, manifest, profDir, dir, chosen string) (string, error) {
	if err := profileChosen(cfg, hostfile, manifest, dir, chosen); err != nil {
		return "", err
	}
	replaced := map[string]int{}
	for _, f := range []struct {
		name  string
		merge func(all, chosen []byte) ([]byte, int, error)
	}{{"latency.csv", MergeLatencies}, {"message_sizes.csv", MergeMessageSizes}, {"message_sizes_zstd.csv", MergeMessageSizes}} {
		n, err := mergeProfileFile(profDir, dir, f.name, f.merge)
		if err != nil {
			return "", err
		}
		replaced[f.name] = n
	}
	return fmt.Sprintf("%s timed on their own inputs: %d latency rows and %d message sizes of the profile replaced",
		chosen, replaced["latency.csv"], replaced["message_sizes.csv"]), nil
}

// mergeProfileFile merges dir's file name into profDir's with merge, keeping profDir's first version
// as name-first.csv, and returns how many rows were replaced.
func mergeProfileFile(profDir, dir, name string, merge func(all, chosen []byte) ([]byte, int, error)) (int, error) {
	current := filepath.Join(profDir, name)
	all, err := os.ReadFile(current)
	if err != nil {
		return 0, err
	}
	first := filepath.Join(profDir, strings.TrimSuffix(name, ".csv")+"-first.csv")
	if _, err := os.Stat(first); errors.Is(err, fs.ErrNotExist) {
		if err := os.WriteFile(first, all, 0o644); err != nil {
			return 0, err
		}
	} else if err != nil {
		return 0, err
	}
	mine, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return 0, err
	}
	merged, n, err := merge(all, mine)
	if err != nil {
		return 0, fmt.Errorf("%s into %s: %w", filepath.Join(dir, name), current, err)
	}
	return n, os.WriteFile(current, merged, 0o644)
}

// profileChosen profiles only the variants chosen (profile --variants) into dir. It counts no rate
// ratios beyond the timed items: the callers keep the first profile's, counted on more.
func profileChosen(cfg Config, hostfile, manifest, dir, chosen string) error {
	cfg.ProfileRatioItems = cfg.ProfileItems
	return runProfile(cfg, hostfile, manifest, dir, "--variants", chosen)
}

// variantsArg is profile --variants for a plan's choice: node=variant pairs in node order.
func variantsArg(v map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(v) {
		parts = append(parts, k+"="+v[k])
	}
	return strings.Join(parts, ",")
}

// DefaultRatioItems is how many items of the split the loop's profile counts the rate ratios on when
// the run takes more (or all): the sub-items a fan-out makes vary from item to item (OCR: 10–40 lines a
// page), and counting runs only the nodes up to the fan-outs, so a few dozen items cost seconds.
const DefaultRatioItems = 64

func (c *Config) cores() int {
	if c.Cores > 0 {
		return c.Cores
	}
	return runtime.NumCPU() // localhost and emulated tiers share this machine's cores
}

// runProfile runs `jellybean profile` on every host of the hostfile, at the plan's batch size and threads.
func runProfile(cfg Config, hostfile, manifest, out string, extra ...string) error {
	args := []string{"profile", "-H", hostfile, "--workflow", cfg.Workflow, "--data", manifest, "--items", strconv.Itoa(cfg.ProfileItems),
		"--ratio-items", strconv.Itoa(cfg.ProfileRatioItems),
		"--batch", batchList(cfg.Batch), "--repeats", strconv.Itoa(cfg.ProfileRepeats), "--min-time", cfg.ProfileMinTime.String(),
		"--threads", strconv.Itoa(cfg.Threads), "-o", out}
	args = append(args, extra...)
	cmd := exec.Command(cfg.Binary, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = cfg.Root, cfg.Log, cfg.Log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("jellybean %s: %w", strings.Join(args, " "), err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("jellybean %s: %w", strings.Join(args, " "), err)
		}
		return nil
	case sig := <-cfg.Launch.Signals:
		// The loop was told to stop: stop the profile job we started (it stops its own ranks), by PID.
		cmd.Process.Signal(syscall.SIGTERM)
		<-done
		return fmt.Errorf("interrupted by %v during the profile step (stopped jellybean profile, PID %d)", sig, cmd.Process.Pid)
	}
}

// batchList is the batch sizes profiled: 1 and the plan's (what paced micro-batches range over).
func batchList(b int) string {
	if b <= 1 {
		return "1"
	}
	return "1," + strconv.Itoa(b)
}

// accuracyProfile measures (or takes from the cache) the accuracy of every combination on the job's items
// with the workload's profiler, which writes its own files into dir; combinations.json holds the
// combinations. The cache keeps a copy of those files under RunsDir/.loop-cache.
func accuracyProfile(cfg Config, manifest, dir string) (*registry.Accuracy, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	if cfg.Limit > 0 {
		var err error
		if manifest, err = LimitManifest(manifest, cfg.Limit, dir); err != nil {
			return nil, "", err
		}
	}
	models, err := ModelsFingerprint(cfg.flow)
	if err != nil {
		return nil, "", err
	}
	manBytes, err := os.ReadFile(manifest)
	if err != nil {
		return nil, "", err
	}
	cache := filepath.Join(cfg.RunsDir, ".loop-cache", "accuracy-"+CacheKey(models, manBytes, cfg.Limit, ProgramFingerprint()))
	if p, err := ReadAccuracy(filepath.Join(cache, combosFile)); err == nil {
		return p, "cached " + cache, copyFiles(cache, dir)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, "", err
	}
	what := "of the job"
	p, err := cfg.workload.ProfileAccuracy(registry.AccuracyOptions{Workflow: plan.Resolve(cfg.Root, cfg.Workflow), Manifest: manifest,
		Threads: cfg.Threads, Out: dir, What: what, Log: cfg.Log})
	if err != nil {
		return nil, "", err
	}
	if len(p.Combos) == 0 {
		return nil, "", fmt.Errorf("workload %q: the accuracy profile has no combinations", cfg.workload.Name)
	}
	if err := writeJSON(filepath.Join(dir, combosFile), p); err != nil {
		return nil, "", err
	}
	// Fill a temporary folder and rename it, so that an interrupted loop leaves no half cache behind.
	tmp := cache + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return nil, "", err
	}
	if err := copyFiles(dir, tmp); err != nil {
		return nil, "", err
	}
	if err := os.Rename(tmp, cache); err != nil {
		return nil, "", err
	}
	return p, "measured, cached as " + cache, nil
}

// combosFile holds an accuracy profile's combinations, beside the workload's own files.
const combosFile = "combinations.json"

// copyFiles copies the regular files at the top of src into dst (not the limited manifest, nor the links
// to the dataset that LimitManifest made).
func copyFiles(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() == "manifest.jsonl" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// solve reads the written inputs back (so the files are exactly what was solved), runs the solver and
// renders the plan with workers on hostfile hosts.
func solve(cfg Config, inDir string) (*plan.Plan, error) {
	in, err := inputs.ReadDir(inDir, "")
	if err != nil {
		return nil, err
	}
	sol, err := optimizer.Solve(in.Problem, in.Config, cfg.Solver, cfg.TimeLimit)
	if err != nil {
		return nil, err
	}
	if hint := optimizer.MILPHint(sol); hint != "" {
		fmt.Fprintln(os.Stderr, "loop: optimize:", hint)
	}
	opts, err := inputs.ReadVariants(inDir)
	if err != nil {
		return nil, err
	}
	pl, err := optimizer.ToPlan(in.Problem, sol, opts)
	if err != nil {
		return nil, err
	}
	// Tie the stages to the workflow's nodes, so that the plan knows which stages run models (variants).
	return pl, pl.Bind(cfg.Root)
}

// PrintTable writes the short predicted-vs-measured table and the report's path.
func PrintTable(w io.Writer, s *Summary) {
	fmt.Fprintf(w, "run %s: rate %.1f items/s, variants %v\n", s.RunID, s.Rate, s.Variants)
	fmt.Fprintf(w, "%-18s %10s %10s %7s\n", "stage", "predicted", "measured", "ratio")
	for _, st := range s.Stages {
		fmt.Fprintf(w, "%-18s %10.1f %10.1f %6.0f%%\n", st.Stage, st.Predicted, st.Measured, 100*st.Ratio)
	}
	fmt.Fprintf(w, "%-18s %9.2f%% %9.2f%%\n", "accuracy", s.PredictedAccuracy, s.MeasuredAccuracy)
	if s.PredictedMaximum > 0 {
		mode := "paced run"
		if !s.Paced {
			mode = "unpaced run"
		}
		measured, what := s.Throughput, ""
		if !s.Paced && s.SteadyThroughput > 0 {
			measured, what = s.SteadyThroughput, fmt.Sprintf(", steady: first to last result; %.2f over the whole run", s.Throughput)
		}
		fmt.Fprintf(w, "%-18s %10.2f %10.2f %6.0f%%  (%s%s; set by %s)\n", "max throughput", s.PredictedMaximum, measured,
			100*measured/s.PredictedMaximum, mode, what, s.Bottleneck)
		if s.CoresBound > 0 {
			fmt.Fprintf(w, "%-18s %10.2f %10.2f %6.0f%%  (the profiled stages' CPU per item on the shared cores)\n", "cores bound", s.CoresBound, s.Throughput,
				100*s.Throughput/s.CoresBound)
		}
	}
	if len(s.Capacity) > 0 {
		fmt.Fprintf(w, "%-18s %10s %10s %7s %s\n", "capacity", "predicted", "measured", "ratio", "(items/s of the stage's own items, at the run's mean batch)")
		for _, c := range s.Capacity {
			fmt.Fprintf(w, "%-18s %10.1f %10.1f %6.0f%%  batch %.1f, %.2f per source item, busy %.0f%%, starved %.0f%%\n", c.Stage, c.Predicted, c.Measured, 100*c.Ratio, c.MeanBatch, c.Units, 100*c.Busy, 100*c.Starved)
		}
	}
	if rc := s.Recheck; rc != nil {
		fmt.Fprintf(w, "%-18s %10s %10s %7s %s\n", "re-timed after", "predicted", "measured", "ratio", "(the plan's variants profiled again right after the run: "+rc.Profile+")")
		for _, c := range rc.Capacity {
			fmt.Fprintf(w, "%-18s %10.1f %10.1f %6.0f%%\n", c.Stage, c.Predicted, c.Measured, 100*c.Ratio)
		}
		if rc.PredictedMaximum > 0 && s.SteadyThroughput > 0 {
			fmt.Fprintf(w, "%-18s %10.2f %10.2f %6.0f%%  (set by %s)\n", "max throughput", rc.PredictedMaximum, s.SteadyThroughput,
				100*s.SteadyThroughput/rc.PredictedMaximum, rc.Bottleneck)
		}
	}
	for _, st := range s.Steps {
		fmt.Fprintf(w, "step %-9s %7.1f s\n", st.Name, st.Seconds)
	}
	fmt.Fprintf(w, "report: %s\n", s.Report)
}
