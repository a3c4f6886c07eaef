package plan

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode"

	"jellybean/hostfiles"
	"jellybean/plan/workflow"
)

// Options say what Validate may check beyond the plan itself.
type Options struct {
	Hostfile   *hostfiles.Hostfile // when set: every worker's host is in it and fills exactly its slots
	Root       string              // JellyBean root that relative paths resolve against
	CheckFiles bool                // check that the dataset and model files exist (under Root)
	// NoWorkflow skips loading the workflow file (tools that only read a plan's placement). Without
	// it, Validate binds the plan to its workflow (Bind) and checks stages against the nodes.
	NoWorkflow bool
}

// maxErrors bounds how many problems one Validate call lists, so a badly broken plan stays readable.
const maxErrors = 20

// Validate checks a plan for everything that can be known before ranks start; device availability
// (a cuda worker on a host without that GPU) is checked by each rank at start-up. It returns every
// problem found, each naming the stage, worker index and key at fault, as one single-line error that
// leads with the first problem.
func Validate(p *Plan, name string, o Options) error {
	v := validator{name: name}
	v.global(p)
	if p.Workflow == "" && !o.NoWorkflow {
		v.add("workflow: missing (the workflow file whose nodes the stages run)")
	}
	if !o.NoWorkflow && p.Flow == nil && p.Workflow != "" {
		if err := p.Bind(o.Root); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	for i := range p.Stages {
		v.stage(p, i, o)
	}
	v.graph(p)
	if o.Hostfile != nil {
		v.hosts(p, o.Hostfile)
	}
	if o.CheckFiles {
		v.files(p, o.Root)
	}
	return v.err()
}

type validator struct {
	name string
	errs []string
}

func (v *validator) add(format string, args ...any) {
	v.errs = append(v.errs, fmt.Sprintf(format, args...))
}

func (v *validator) err() error {
	switch len(v.errs) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("%s: %s", v.name, v.errs[0])
	}
	// One line, so that launchers and logs show it whole: the first problem, then the rest in brief.
	rest := v.errs[1:]
	if len(rest) > maxErrors {
		rest = append(rest[:maxErrors:maxErrors], fmt.Sprintf("... %d more", len(v.errs)-1-maxErrors))
	}
	return fmt.Errorf("%s: %s (and %d more problems: %s)", v.name, v.errs[0], len(v.errs)-1, strings.Join(rest, "; "))
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func (v *validator) global(p *Plan) {
	if p.Dataset == "" {
		v.add("dataset: missing (path of the manifest the sources read)")
	}
	// The job name lands in summaries, reports and logs, and tools may put it in paths or scheduler job
	// names: keep path separators, ".." and control characters out of it.
	if strings.Contains(p.Job, "..") || strings.ContainsAny(p.Job, "/\\") || strings.IndexFunc(p.Job, unicode.IsControl) >= 0 {
		v.add("job = %q: must not contain '/', '\\', '..' or control characters", p.Job)
	}
	if p.Limit < 0 {
		v.add("limit = %d: must be >= 0 (0 = all items)", p.Limit)
	}
	if p.BasePort != 0 && (p.BasePort < 1024 || p.BasePort > 65535) {
		v.add("base_port = %d: must be in 1024..65535", p.BasePort)
	}
	if p.BatchSize < 0 || p.BatchSize > 4096 {
		v.add("batch_size = %d: must be in 0..4096 (0 = default %d)", p.BatchSize, DefaultBatchSize)
	}
	if p.InputRate < 0 || !finite(p.InputRate) {
		v.add("input_rate = %v: must be >= 0 (0 = as fast as possible)", p.InputRate)
	}
	switch p.Compress {
	case "", "off", "fastest", "default", "auto":
	default:
		v.add("compress = %q: want off, fastest, default or auto", p.Compress)
	}
	if len(p.Stages) == 0 {
		v.add("no [[stage]] tables")
	}
}

func (v *validator) stage(p *Plan, i int, o Options) {
	s := &p.Stages[i]
	where := fmt.Sprintf("stage[%d] %q", i, s.Name)
	if s.Name == "" {
		v.add("stage[%d]: name is missing", i)
	} else if j := p.StageIndex(s.Name); j != i {
		v.add("%s: name already used by stage[%d]", where, j)
	}
	if n := s.Node; n != nil {
		switch {
		case n.Model != nil && n.Variant(s.Variant) == nil && !(s.Variant == "" && len(n.Model.Variants) == 1):
			v.add("%s: variant = %q: not a variant of workflow node %q (variants %v)", where, s.Variant, n.Name, n.VariantNames())
		case n.Model == nil && s.Variant != "":
			v.add("%s: variant = %q, but workflow node %q runs no model", where, s.Variant, n.Name)
		}
		if o := p.StageByName(n.ModelSameVariantAs()); o != nil && o.Variant != s.Variant {
			v.add("%s: variant = %q, but the workflow ties it to stage %q, which runs %q", where, s.Variant, o.Name, o.Variant)
		}
	}
	if s.BatchSize < 0 || s.BatchSize > 4096 {
		v.add("%s: batch_size = %d: must be in 0..4096", where, s.BatchSize)
	}
	if len(s.Workers) == 0 {
		v.add("%s: no [[stage.worker]] (every stage needs at least one rank)", where)
	}
	if p.IsSink(i) && len(s.Workers) > 1 {
		v.add("%s: a sink has exactly one worker, found %d", where, len(s.Workers))
	}
	for w, wk := range s.Workers {
		ww := fmt.Sprintf("%s worker[%d]", where, w)
		if wk.Host == "" {
			v.add("%s: host: missing", ww)
		}
		if !(wk.Weight > 0) || !finite(wk.Weight) {
			v.add("%s: weight = %v: must be > 0", ww, wk.Weight)
		}
		if wk.Threads < 0 || wk.Threads > 1024 {
			v.add("%s: threads = %d: must be in 0..1024 (0 = cores / ranks on the host)", ww, wk.Threads)
		}
		if wk.Capacity < 0 || !finite(wk.Capacity) {
			v.add("%s: capacity = %v: must be >= 0", ww, wk.Capacity)
		}
		if err := checkDevice(wk.Device); err != nil {
			v.add("%s: %v", ww, err)
		} else if wk.Device != "" && wk.Device != "cpu" && s.Node != nil && !p.IsModel(i) {
			v.add("%s: device = %q, but node %q runs no model (use cpu)", ww, wk.Device, s.Name)
		}
	}
}

// checkDevice accepts "", "cpu", "cuda" and "cuda:N".
func checkDevice(d string) error {
	switch {
	case d == "" || d == "cpu" || d == "cuda":
		return nil
	case strings.HasPrefix(d, "cuda:"):
		if n, err := strconv.Atoi(d[len("cuda:"):]); err == nil && n >= 0 {
			return nil
		}
	}
	return fmt.Errorf("device = %q: want cpu, cuda or cuda:N", d)
}

func (v *validator) graph(p *Plan) {
	if p.Flow == nil {
		return
	}
	if _, err := p.TopoOrder(); err != nil {
		v.add("%v", err)
	}
}

func (v *validator) hosts(p *Plan, hf *hostfiles.Hostfile) {
	perHost := map[string]int{}
	for i, s := range p.Stages {
		for w, wk := range s.Workers {
			if wk.Host == "" {
				continue
			}
			if hf.Host(wk.Host) == nil {
				v.add("stage[%d] %q worker[%d]: host = %q is not in hostfile %s (hosts: %s)",
					i, s.Name, w, wk.Host, hf.Name, strings.Join(hf.HostNames(), ", "))
				continue
			}
			perHost[wk.Host]++
		}
	}
	for _, h := range hf.Hosts {
		if n := perHost[h.Name]; n != h.Slots {
			v.add("host %q has %d slots in hostfile %s (line %d) but the plan places %d workers on it: "+
				"every slot runs exactly one worker", h.Name, h.Slots, hf.Name, h.Line, n)
		}
		if base := p.Port(); base+h.Slots-1 > 65535 {
			v.add("base_port %d + %d slots on host %q exceeds port 65535", base, h.Slots, h.Name)
		}
	}
}

func (v *validator) files(p *Plan, root string) {
	if p.Dataset != "" {
		if _, err := os.Stat(Resolve(root, p.Dataset)); err != nil {
			v.add("dataset = %q: %v (generate it with `jellybean gen-data`)", p.Dataset, statReason(err))
		}
	}
	if p.Flow != nil {
		if err := p.Flow.CheckFiles(); err != nil {
			v.add("%v", err)
		}
	}
}

func statReason(err error) string {
	if errors.Is(err, os.ErrNotExist) {
		return "file not found"
	}
	return err.Error()
}

// Bind loads the plan's workflow file (relative to root) and ties every stage to its node: each node of
// the workflow has exactly one stage, and each stage's inputs are its node's inputs.
func (p *Plan) Bind(root string) error {
	w, err := workflow.Load(Resolve(root, p.Workflow))
	if err != nil {
		return fmt.Errorf("workflow = %q: %w", p.Workflow, err)
	}
	for i := range p.Stages {
		s := &p.Stages[i]
		if j := p.StageIndex(s.Name); j != i {
			return fmt.Errorf("stage[%d] %q: name already used by stage[%d]", i, s.Name, j)
		}
		n := w.Node(s.Name)
		if n == nil {
			var names []string
			for _, n := range w.Nodes {
				names = append(names, n.Name)
			}
			return fmt.Errorf("stage[%d] %q: no node of that name in workflow %s (nodes: %s)", i, s.Name, w.Path, strings.Join(names, ", "))
		}
		s.Node, s.Inputs = n, n.Inputs
	}
	for _, n := range w.Nodes {
		if p.StageByName(n.Name) == nil {
			return fmt.Errorf("workflow %s node %q has no [[stage]] (every node runs on at least one worker)", w.Path, n.Name)
		}
	}
	p.Flow = w
	return nil
}
