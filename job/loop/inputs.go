package loop

import (
	"fmt"
	"math"
	"sort"

	"jellybean/job/profile/capacity"
	"jellybean/plan/optimizer"
	"jellybean/plan/optimizer/inputs"
	"jellybean/plan/workflow"
	"jellybean/workloads/registry"
)

// Latencies holds profiled milliseconds per item: [host][stage][variant].
type Latencies map[string]map[string]map[string]float64

// Message is the size of one item's message on an edge, for one variant of the sending stage.
type Message struct {
	From, To, FromVariant string
	KB                    float64
}

// Combo is the measured end-to-end accuracy of one variant per model node (an accuracy profile's row,
// from the workload's profiler: it only offers combinations its models can run, e.g. a head with the
// features of the network it was trained on).
type Combo = registry.Combo

// Instance is everything the optimizer's native input needs.
type Instance struct {
	Workflow           *workflow.Workflow // the optimizer's graph: its nodes but the sink
	Rate, Threshold    float64            // items/s into each source; percent
	Hosts              []Host
	Latency            Latencies
	Messages           []Message
	Combos             []Combo
	CrossTierCostPerGB float64 // $/GB between hosts of different tiers
	// Ratios are the profile's rate ratios (ratios.csv): a node after a fan-out receives several items
	// per item of its input. They come from the heaviest trace (capacity.HeaviestTrace), since the
	// workers must carry whichever variants the solver picks.
	Ratios []capacity.Ratio
}

// Native renders the instance as the optimizer's jellybean.toml: the workflow's sources at the rate, its
// processing nodes (the sink, which only writes results, is left out; the node feeding it is the
// optimizer's sink), one worker type per host (count = slots), a latency row per host × node × variant,
// the message sizes, link costs between tiers (sources count as the edge host's tier) and one accuracy
// row per combination, naming every model node's variant so that the solver never pairs variants the
// workload cannot run together.
func Native(in Instance) ([]byte, error) {
	if !(in.Rate > 0) || math.IsInf(in.Rate, 0) {
		return nil, fmt.Errorf("input rate %v: must be > 0", in.Rate)
	}
	if len(in.Combos) == 0 {
		return nil, fmt.Errorf("no accuracy profile: no variant combination to choose from")
	}
	g, err := GraphOf(in.Workflow)
	if err != nil {
		return nil, err
	}
	n := inputs.Native{Sink: g.Sink, Threshold: in.Threshold, Stages: g.Stages}
	heaviest, err := capacity.HeaviestTrace(in.Ratios, g.Inputs())
	if err != nil {
		return nil, err
	}
	for i := range n.Stages {
		st := &n.Stages[i]
		for _, u := range st.Inputs {
			if r := capacity.TraceRatio(heaviest, u, st.Name); r != 1 {
				if st.Ratio == nil {
					st.Ratio = map[string]float64{}
				}
				st.Ratio[u] = r
			}
		}
	}
	for _, src := range g.Sources {
		n.Sources = append(n.Sources, inputs.NativeSource{Name: src, Rate: in.Rate})
	}
	for _, h := range in.Hosts {
		n.Workers = append(n.Workers, inputs.NativeWorker{Name: h.Name, Price: h.Price, Tier: h.Tier, Count: h.Slots})
		stages, ok := in.Latency[h.Name]
		if !ok {
			return nil, fmt.Errorf("host %s: no latency profiled", h.Name)
		}
		for _, st := range g.Stages {
			if len(stages[st.Name]) == 0 {
				return nil, fmt.Errorf("host %s: node %s was not profiled", h.Name, st.Name)
			}
			for _, v := range sortedKeys(stages[st.Name]) {
				n.Latency = append(n.Latency, inputs.NativeLatency{Stage: st.Name, Worker: h.Name, Variant: v, Ms: stages[st.Name][v]})
			}
		}
	}
	for _, m := range in.Messages {
		n.Messages = append(n.Messages, inputs.NativeMessage{From: m.From, To: m.To, FromVariant: m.FromVariant, KB: m.KB})
	}
	edgeTier := 0
	for _, h := range in.Hosts {
		if h.Name == EdgeHost(in.Hosts) {
			edgeTier = h.Tier
		}
	}
	for _, b := range in.Hosts {
		if in.CrossTierCostPerGB == 0 {
			break
		}
		for _, a := range in.Hosts {
			if a.Tier != b.Tier {
				n.Links = append(n.Links, inputs.NativeLink{From: a.Name, To: b.Name, Cost: in.CrossTierCostPerGB})
			}
		}
		if b.Tier != edgeTier {
			for _, src := range g.Sources {
				n.Links = append(n.Links, inputs.NativeLink{From: src, To: b.Name, Cost: in.CrossTierCostPerGB})
			}
		}
	}
	combos := append([]Combo(nil), in.Combos...)
	sort.SliceStable(combos, func(i, j int) bool { return combos[i].Accuracy > combos[j].Accuracy })
	for _, c := range combos {
		n.Accuracy = append(n.Accuracy, inputs.NativeAccuracy{Variants: c.Variants, Accuracy: c.Accuracy})
	}
	data, err := n.Encode()
	if err != nil {
		return nil, err
	}
	return append([]byte("# written by `jellybean loop` from the host profile and the accuracy profile of this run's split\n"), data...), nil
}

// PlanOptions are the plan settings the loop writes into variants.toml: the workflow file, where sources
// and the sink run, which hostfile host each optimizer worker is, and the job's settings. With them,
// `jellybean optimize --inputs runs/<id>/loop/inputs -o plan.toml` rebuilds the loop's plan.
func PlanOptions(job, workflowFile, dataset string, batch, threads, limit int, compress string, hosts []Host) optimizer.PlanOptions {
	return optimizer.PlanOptions{Job: job, Workflow: workflowFile, Dataset: dataset, BatchSize: batch, Threads: threads,
		Limit: limit, Compress: compress, SourceHost: EdgeHost(hosts), SinkHost: EdgeHost(hosts), Hosts: HostOf(hosts)}
}

// Graph is the optimizer's view of a workflow: its sources, its processing nodes with their inputs, and
// the last of them (the node that feeds the workflow's sink).
type Graph struct {
	Sources []string
	Stages  []inputs.NativeStage
	Sink    string
}

// GraphOf derives the optimizer's graph from the workflow.
func GraphOf(w *workflow.Workflow) (Graph, error) {
	var g Graph
	if w == nil {
		return g, fmt.Errorf("no workflow")
	}
	sink := w.Sink()
	if sink < 0 || len(w.Nodes[sink].Inputs) != 1 {
		return g, fmt.Errorf("%s: the optimizer needs one node feeding the sink", w.Path)
	}
	g.Sink = w.Nodes[sink].Inputs[0]
	for i, n := range w.Nodes {
		switch {
		case i == sink:
		case n.Kind == workflow.KindSource:
			g.Sources = append(g.Sources, n.Name)
		default:
			g.Stages = append(g.Stages, inputs.NativeStage{Name: n.Name, Inputs: n.Inputs})
		}
	}
	return g, nil
}

// Inputs maps every node of the graph (sources included) to its inputs.
func (g Graph) Inputs() map[string][]string {
	graph := map[string][]string{}
	for _, src := range g.Sources {
		graph[src] = nil
	}
	for _, st := range g.Stages {
		graph[st.Name] = st.Inputs
	}
	return graph
}

// PerSourceItem turns latencies per item of each stage into latencies per item of the sources: a stage
// after a fan-out handles units[stage] items per source item (from the heaviest trace, as the optimizer
// is told), so that the CPU a source item costs can be summed over stages (ChooseRate).
func PerSourceItem(lat Latencies, w *workflow.Workflow, ratios []capacity.Ratio) (Latencies, error) {
	g, err := GraphOf(w)
	if err != nil {
		return nil, err
	}
	heaviest, err := capacity.HeaviestTrace(ratios, g.Inputs())
	if err != nil {
		return nil, err
	}
	units, err := capacity.Units(g.Inputs(), func(from, to string) float64 { return capacity.TraceRatio(heaviest, from, to) })
	if err != nil {
		return nil, err
	}
	out := Latencies{}
	for h, stages := range lat {
		out[h] = map[string]map[string]float64{}
		for st, vs := range stages {
			u, ok := units[st]
			if !ok {
				u = 1
			}
			out[h][st] = map[string]float64{}
			for v, ms := range vs {
				out[h][st][v] = ms * u
			}
		}
	}
	return out, nil
}
