package optimizer

import (
	"fmt"
	"sort"

	"jellybean/plan"
	"jellybean/plan/workflow"
)

// PlanOptions say how the optimizer's stages become a runnable plan: the workflow file whose nodes they
// are, where sources and the sink run, and which device each worker uses. Zero values take the defaults
// below.
type PlanOptions struct {
	Job, Workflow, Dataset string
	BasePort, BatchSize    int
	SourceHost, SinkHost   string // default "localhost"
	// Nodes maps an optimizer stage onto the workflow node it runs, when the names differ (the original
	// system's inputs name stages their own way). Default: the same name.
	Nodes map[string]string
	// Devices maps worker names to devices, from the infrastructure description; default "cpu". A
	// device is never guessed from a name.
	Devices map[string]string
	// Hosts maps optimizer worker names onto hostfile hosts: a worker type expanded to localhost_0 …
	// localhost_5 is six slots of host "localhost". Default: the worker name is the host.
	Hosts    map[string]string
	Threads  int    // intra-op threads of every model worker (0: the runner's default, cores / ranks on the host)
	Limit    int    // the plan's limit: process at most this many items (0: all)
	Compress string // the plan's compress setting (default: the runner's)
	// Flow, when set, is the loaded workflow: its nodes that the optimizer does not place (transforms,
	// the sink) get one worker beside the sources, and its sink names the sink stage.
	Flow *workflow.Workflow
}

// ToPlan renders a solution as a runnable plan: the sources, the stages with their chosen variants and
// workers (host = o.Hosts[worker name] or the worker name, weight = throughput share, capacity =
// 1000/latency), the workflow's other nodes and its sink, and the predicted figures: the job's and, per
// stage, the rate it must carry (joins and ratios included) and its workers' summed capacity.
func ToPlan(p *Problem, s *Solution, o PlanOptions) (*plan.Plan, error) {
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	out := &plan.Plan{
		Job: def(o.Job, "jellybean-optimized"), Workflow: o.Workflow, Dataset: o.Dataset,
		BasePort: o.BasePort, BatchSize: o.BatchSize, Limit: o.Limit, Compress: o.Compress,
		Predicted: plan.Predicted{ComputeCost: s.Compute, CommunicationCost: s.PrintedComm(), TotalCost: s.Total,
			Accuracy: s.Accuracy, OptimalityGap: s.Gap(), Solver: s.Solver, Stages: map[string]plan.StagePrediction{}},
	}
	host := func(worker string) string {
		if h := o.Hosts[worker]; h != "" {
			return h
		}
		return worker
	}
	if out.BasePort == 0 {
		out.BasePort = plan.DefaultBasePort
	}
	order, err := p.TopoOrder()
	if err != nil {
		return nil, err
	}
	if o.Flow == nil && o.Workflow != "" {
		// The plan must place every node of its workflow, so the workflow is read here (relative to the
		// working directory, the JellyBean root, like every path in a plan).
		if o.Flow, err = workflow.Load(o.Workflow); err != nil {
			return nil, err
		}
	}
	shares := s.Shares(p)
	var last []string
	for _, v := range order {
		name := def(o.Nodes[p.Nodes[v]], p.Nodes[v])
		isModel := s.Models[v] != ""
		if o.Flow != nil {
			n := o.Flow.Node(name)
			if n == nil {
				return nil, fmt.Errorf("optimizer stage %s: workflow %s has no node %q (map it with [stage.%s] node = ... in %s)",
					p.Nodes[v], o.Flow.Path, name, p.Nodes[v], "variants.toml")
			}
			isModel = n.Model != nil
		}
		st := plan.Stage{Name: name}
		pred := plan.StagePrediction{ThroughputItemsPerSecond: p.Rate[v]}
		if p.IsSource[v] {
			out.InputRate = p.Rate[v]
			st.Workers = []plan.Worker{{Host: def(o.SourceHost, "localhost"), Device: "cpu", Weight: p.Rate[v]}}
		} else {
			if isModel {
				st.Variant = s.Models[v]
			}
			caps := p.Cap[v][s.Models[v]]
			for i, w := range s.Workers[v] {
				if shares[v][i] <= 0 {
					continue
				}
				dev, threads := "cpu", 0
				if isModel {
					dev, threads = def(o.Devices[p.Workers[w].Name], "cpu"), o.Threads
				}
				st.Workers = append(st.Workers, plan.Worker{Host: host(p.Workers[w].Name), Device: dev, Weight: shares[v][i],
					Capacity: caps[w], Threads: threads})
				pred.CapacityItemsPerSecond += caps[w]
			}
		}
		out.Predicted.Stages[name] = pred
		if len(p.Outputs[v]) == 0 {
			last = append(last, name)
		}
		out.Stages = append(out.Stages, st)
		out.Predicted.ThroughputItemsPerSecond = p.Rate[v]
	}
	sort.Strings(last)
	sink := "Sink"
	if o.Flow != nil {
		if i := o.Flow.Sink(); i >= 0 {
			sink = o.Flow.Nodes[i].Name
		}
		// Nodes the optimizer does not model (plain transforms) run on one worker beside the sources.
		for _, n := range o.Flow.Nodes {
			if n.Kind != workflow.KindSink && out.StageByName(n.Name) == nil {
				out.Stages = append(out.Stages, plan.Stage{Name: n.Name,
					Workers: []plan.Worker{{Host: def(o.SourceHost, "localhost"), Device: "cpu", Weight: 1}}})
			}
		}
	}
	if len(last) == 1 { // the sink receives what the last stage emits
		out.Predicted.Stages[sink] = plan.StagePrediction{ThroughputItemsPerSecond: out.Predicted.Stages[last[0]].ThroughputItemsPerSecond}
	}
	out.Stages = append(out.Stages, plan.Stage{Name: sink,
		Workers: []plan.Worker{{Host: def(o.SinkHost, "localhost"), Device: "cpu", Weight: 1}}})
	return out, nil
}

// Report is the --json output: the original's keys plus ours.
type Report struct {
	ComputeCost       float64                       `json:"compute_cost"`
	CommunicationCost float64                       `json:"communication_cost"`
	EndToEndAccuracy  float64                       `json:"end_to_end_accuracy"`
	ModelAssignment   map[string]string             `json:"model_assignment"`
	WorkerAssignment  map[string][]string           `json:"worker_assignment"`
	TotalCost         float64                       `json:"total_cost"`
	LowerBound        *float64                      `json:"lower_bound,omitempty"`
	OptimalityGap     *float64                      `json:"optimality_gap,omitempty"`
	SolveSeconds      float64                       `json:"solve_seconds"`
	Solver            string                        `json:"solver"`
	Engines           []string                      `json:"engines,omitempty"` // libraries beside our own code (Engines)
	ThroughputShares  map[string]map[string]float64 `json:"throughput_shares"`
	Capacities        map[string]map[string]float64 `json:"capacities"`
	Warnings          []string                      `json:"warnings,omitempty"`
}

// NewReport fills the JSON report of a solution.
func NewReport(p *Problem, s *Solution, seconds float64) *Report {
	r := &Report{ComputeCost: s.Compute, CommunicationCost: s.PrintedComm(), EndToEndAccuracy: s.Accuracy,
		ModelAssignment: map[string]string{}, WorkerAssignment: map[string][]string{}, TotalCost: s.Total,
		SolveSeconds: seconds, Solver: s.Solver,
		ThroughputShares: map[string]map[string]float64{}, Capacities: map[string]map[string]float64{}}
	if s.Solver != "heuristic" { // the heuristic proves no bound, and uses no library
		lb, gap := s.LowerBound, s.Gap()
		r.LowerBound, r.OptimalityGap = &lb, &gap
		r.Engines = Engines()
	}
	shares := s.Shares(p)
	for v, name := range p.Nodes {
		if p.IsSource[v] {
			continue
		}
		if _, ml := indexOf(p.Accuracy.Operators, name); ml || p.Nodes[v] == p.Sink {
			r.ModelAssignment[name] = s.Models[v]
		}
		r.WorkerAssignment[name] = []string{}
		r.ThroughputShares[name] = map[string]float64{}
		r.Capacities[name] = map[string]float64{}
		for i, w := range s.Workers[v] {
			r.WorkerAssignment[name] = append(r.WorkerAssignment[name], p.Workers[w].Name)
			r.ThroughputShares[name][p.Workers[w].Name] = shares[v][i]
			r.Capacities[name][p.Workers[w].Name] = p.Cap[v][s.Models[v]][w]
		}
	}
	return r
}

func indexOf(xs []string, x string) (int, bool) {
	for i, y := range xs {
		if y == x {
			return i, true
		}
	}
	return -1, false
}
