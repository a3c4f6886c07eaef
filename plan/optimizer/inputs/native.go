package inputs

import (
	"bytes"
	"fmt"
	"math"

	"jellybean/plan"
	"jellybean/plan/optimizer"

	"github.com/BurntSushi/toml"
)

// NativeFile is the file name that marks an inputs folder in our native format.
const NativeFile = "jellybean.toml"

// Native is the whole instance in our one-file TOML format (see plan/optimizer/README.md for an example).
// ParseNative reads it; tools that write it (jellybean loop, jellybean profile's fragment) fill these
// types and call Encode, so there is one definition of the format.
type Native struct {
	Sink      string           `toml:"sink,omitempty"`
	Threshold float64          `toml:"threshold,omitempty"`
	Sources   []NativeSource   `toml:"source,omitempty"`
	Stages    []NativeStage    `toml:"stage,omitempty"`
	Workers   []NativeWorker   `toml:"worker,omitempty"`
	Latency   []NativeLatency  `toml:"latency,omitempty"`
	Messages  []NativeMessage  `toml:"message,omitempty"`
	Links     []NativeLink     `toml:"link,omitempty"`
	Accuracy  []NativeAccuracy `toml:"accuracy,omitempty"`
}

// NativeSource is a source node and its input rate (items/s).
type NativeSource struct {
	Name string  `toml:"name"`
	Rate float64 `toml:"rate"`
}

// NativeStage is a workflow stage and the nodes it reads.
type NativeStage struct {
	Name   string             `toml:"name"`
	Inputs []string           `toml:"inputs"`
	Ratio  map[string]float64 `toml:"ratio,omitempty"` // per input; default 1.0
}

// NativeWorker is a worker, or with Count > 1 a worker type expanded to name_0 … name_{count-1}.
type NativeWorker struct {
	Name  string  `toml:"name"`
	Price float64 `toml:"price"` // $ per hour
	Tier  int     `toml:"tier"`
	Count int     `toml:"count,omitempty"`
}

// NativeLatency is the ms per item of a stage's variant on a worker (type).
type NativeLatency struct {
	Stage   string  `toml:"stage"`
	Worker  string  `toml:"worker"`
	Variant string  `toml:"variant,omitempty"`
	Ms      float64 `toml:"ms"`
}

// NativeMessage is the size of one item's message on an edge, per variant of its ends.
type NativeMessage struct {
	From        string  `toml:"from"`
	To          string  `toml:"to"`
	FromVariant string  `toml:"from_variant,omitempty"`
	ToVariant   string  `toml:"to_variant,omitempty"`
	KB          float64 `toml:"kb"`
}

// NativeLink is the cost of moving data from a worker (type) or source to a worker (type).
type NativeLink struct {
	From string  `toml:"from"`
	To   string  `toml:"to"`
	Cost float64 `toml:"cost"` // $ per GB
}

// NativeAccuracy is the end-to-end accuracy of one variant combination.
type NativeAccuracy struct {
	Variants map[string]string `toml:"variants"`
	Accuracy float64           `toml:"accuracy"`
}

// Encode renders n as TOML that ParseNative reads back.
func (n *Native) Encode() ([]byte, error) {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(n); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ParseNative reads our native TOML format. Link costs are taken as $/GB and scaled by
// cfg.CommCostScalingFactor like the original's; latencies by cfg.LatencyOverestimateRatio.
func ParseNative(name string, data []byte, cfg optimizer.Config) (*Instance, error) {
	var n Native
	if err := plan.DecodeStrictTOML(name, data, &n); err != nil {
		return nil, err
	}
	errf := func(format string, a ...any) error { return fmt.Errorf("%s: "+format, append([]any{name}, a...)...) }
	p := &optimizer.Problem{Sink: n.Sink, Threshold: n.Threshold}
	nodeIdx := map[string]int{}
	add := func(nm string, src bool) error {
		if nm == "" {
			return errf("a source or stage has no name")
		}
		if _, dup := nodeIdx[nm]; dup {
			return errf("node %q defined twice", nm)
		}
		nodeIdx[nm] = len(p.Nodes)
		p.Nodes = append(p.Nodes, nm)
		p.IsSource = append(p.IsSource, src)
		p.Inputs = append(p.Inputs, nil)
		return nil
	}
	rates := map[string]float64{}
	for i, s := range n.Sources {
		if err := add(s.Name, true); err != nil {
			return nil, err
		}
		if !(s.Rate > 0) || math.IsInf(s.Rate, 0) {
			return nil, errf("source[%d] (%s): rate must be > 0", i, s.Name)
		}
		rates[s.Name] = s.Rate
	}
	for _, s := range n.Stages {
		if err := add(s.Name, false); err != nil {
			return nil, err
		}
	}
	ratios := map[[2]string]float64{}
	for i, s := range n.Stages {
		v := nodeIdx[s.Name]
		if len(s.Inputs) == 0 {
			return nil, errf("stage[%d] (%s): inputs is empty", i, s.Name)
		}
		for _, in := range s.Inputs {
			u, ok := nodeIdx[in]
			if !ok {
				return nil, errf("stage[%d] (%s): input %q is not a source or stage", i, s.Name, in)
			}
			p.Edges = append(p.Edges, optimizer.Edge{From: u, To: v})
			p.Inputs[v] = append(p.Inputs[v], u)
		}
		for in, r := range s.Ratio {
			if !(r > 0) {
				return nil, errf("stage[%d] (%s): ratio.%s must be > 0", i, s.Name, in)
			}
			ratios[[2]string{in, s.Name}] = r
		}
	}
	if err := p.Finish(rates, ratios); err != nil {
		return nil, errf("%v", err)
	}
	workerIdx := map[string][]int{}
	for i, w := range n.Workers {
		if w.Name == "" || w.Price < 0 || w.Tier < 0 || w.Count < 0 {
			return nil, errf("worker[%d] (%s): needs a name, price ≥ 0, tier ≥ 0, count ≥ 0", i, w.Name)
		}
		if _, dup := workerIdx[w.Name]; dup {
			return nil, errf("worker[%d]: %q defined twice", i, w.Name)
		}
		names := []string{w.Name}
		if w.Count > 1 {
			names = make([]string, w.Count)
			for k := range names {
				names[k] = fmt.Sprintf("%s_%d", w.Name, k)
			}
		}
		for _, nm := range names {
			workerIdx[w.Name] = append(workerIdx[w.Name], len(p.Workers))
			p.Workers = append(p.Workers, optimizer.Worker{Name: nm, Price: w.Price, Tier: w.Tier})
			p.NumTiers = max(p.NumTiers, w.Tier+1)
		}
	}
	nw := len(p.Workers)
	if nw == 0 {
		return nil, errf("no [[worker]]")
	}
	initCapacities(p)
	for i, l := range n.Latency {
		v, ok := nodeIdx[l.Stage]
		if !ok || p.IsSource[v] {
			return nil, errf("latency[%d]: stage %q is not a stage", i, l.Stage)
		}
		ws, ok := workerIdx[l.Worker]
		if !ok {
			return nil, errf("latency[%d]: unknown worker %q", i, l.Worker)
		}
		if !(l.Ms > 0) || math.IsInf(l.Ms, 0) {
			return nil, errf("latency[%d]: ms must be > 0", i)
		}
		vr := l.Variant
		if vr == "" {
			vr = "default"
		}
		caps, ok := p.Cap[v][vr]
		if !ok {
			caps = make([]float64, nw)
			p.Cap[v][vr] = caps
			p.Variants[v] = append(p.Variants[v], vr)
		}
		for _, w := range ws {
			caps[w] = 1000. / (l.Ms * cfg.LatencyOverestimateRatio)
		}
	}
	for i, m := range n.Messages {
		u, okU := nodeIdx[m.From]
		v, okV := nodeIdx[m.To]
		if !okU || !okV || m.KB < 0 {
			return nil, errf("message[%d]: %s→%s: unknown node or negative kb", i, m.From, m.To)
		}
		fv, tv := m.FromVariant, m.ToVariant
		if fv == "" {
			fv = "default"
		}
		if tv == "" {
			tv = "default"
		}
		p.SetMessageSize(u, v, fv, tv, m.KB)
	}
	p.Link = make([][]float64, nw)
	for i := range p.Link {
		p.Link[i] = make([]float64, nw)
	}
	p.SrcLink = make([][]float64, len(p.Nodes))
	for v := range p.Nodes {
		if p.IsSource[v] {
			p.SrcLink[v] = make([]float64, nw)
		}
	}
	for i, l := range n.Links {
		if l.Cost < 0 || math.IsNaN(l.Cost) {
			return nil, errf("link[%d]: cost must be ≥ 0", i)
		}
		bs, ok := workerIdx[l.To]
		if !ok {
			return nil, errf("link[%d]: to: unknown worker %q", i, l.To)
		}
		if s, ok := nodeIdx[l.From]; ok && p.IsSource[s] {
			for _, b := range bs {
				p.SrcLink[s][b] = l.Cost * cfg.CommCostScalingFactor
			}
			continue
		}
		as, ok := workerIdx[l.From]
		if !ok {
			return nil, errf("link[%d]: from: %q is neither a worker nor a source", i, l.From)
		}
		for _, a := range as {
			for _, b := range bs {
				p.Link[a][b] = l.Cost * cfg.CommCostScalingFactor
			}
		}
	}
	// The end-to-end table: operators are the ML stages named in the first row, in stage order.
	for v, nm := range p.Nodes {
		if p.IsSource[v] || len(n.Accuracy) == 0 {
			continue
		}
		if _, ok := n.Accuracy[0].Variants[nm]; ok {
			p.Accuracy.Operators = append(p.Accuracy.Operators, nm)
		}
	}
	for i, a := range n.Accuracy {
		if len(a.Variants) != len(p.Accuracy.Operators) {
			return nil, errf("accuracy[%d]: names %d stages, the first row names %d", i, len(a.Variants), len(p.Accuracy.Operators))
		}
		e := optimizer.EndToEndEntry{Accuracy: a.Accuracy}
		for _, op := range p.Accuracy.Operators {
			vr, ok := a.Variants[op]
			if !ok {
				return nil, errf("accuracy[%d]: no variant for stage %s", i, op)
			}
			e.Variants = append(e.Variants, vr)
		}
		p.Accuracy.EndToEnd = append(p.Accuracy.EndToEnd, e)
	}
	if len(p.Accuracy.EndToEnd) == 0 {
		// No ML choices: one combination of default variants, always accurate enough.
		p.Accuracy.EndToEnd = []optimizer.EndToEndEntry{{Accuracy: p.Threshold}}
	}
	if err := p.Check(); err != nil {
		return nil, errf("%v", err)
	}
	return &Instance{Problem: p, Config: cfg}, nil
}

// initCapacities makes the empty capacity tables that the latency rows fill: one per node, keyed by
// variant; sources have a single "default" variant and no capacities.
func initCapacities(p *optimizer.Problem) {
	p.Cap = make([]map[string][]float64, len(p.Nodes))
	p.Variants = make([][]string, len(p.Nodes))
	for v := range p.Nodes {
		p.Cap[v] = map[string][]float64{}
		if p.IsSource[v] {
			p.Variants[v] = []string{"default"}
		}
	}
}
