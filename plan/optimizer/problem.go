package optimizer

import (
	"fmt"
	"math"
)

// Problem is one optimizer instance: the workflow graph, the workers, the profiles and the targets.
type Problem struct {
	Nodes    []string // logical nodes, sources included, in order of first appearance
	IsSource []bool   // per node
	Inputs   [][]int  // per node: its input nodes
	Outputs  [][]int  // per node: its output nodes
	Edges    []Edge   // logical edges in input order; the evaluator sums them in this order
	Rate     []float64

	Workers []Worker // file order fixes the worker index used in tie-breaks

	// Cap[node][variant][worker] = 1000/latency (req/s); 0 means the worker cannot run that variant.
	Cap []map[string][]float64
	// Variants[node] lists the variant names known for the node (profile order); sources: ["default"].
	Variants [][]string

	msg map[msgKey]float64

	Link    [][]float64 // Link[a][b] = cost × scaling, directed worker→worker; 0 if unlisted
	SrcLink [][]float64 // SrcLink[node][w] = cost × scaling for a source node; nil rows for other nodes

	Accuracy  AccuracyProfile
	Sink      string
	Threshold float64
	NumTiers  int
}

// Edge is one logical edge u→v.
type Edge struct{ From, To int }

// Worker is one host that can run one stage.
type Worker struct {
	Name  string
	Price float64 // $/hour, paid in full whatever the load
	Tier  int
}

type msgKey struct {
	u, v   int
	uv, vv string
}

// AccuracyProfile is the pickle of the original, in JSON form: per-operator sample profiles for the beam
// search and an end-to-end table mapping a variant combination to accuracy.
type AccuracyProfile struct {
	Operators []string          // ML operators of the end-to-end table, in column order
	EndToEnd  []EndToEndEntry   // rows of the table
	PerOp     []OperatorProfile // per-operator profiles
}

// EndToEndEntry is one row of the end-to-end accuracy table.
type EndToEndEntry struct {
	Variants []string
	Accuracy float64
}

// OperatorProfile describes one ML operator for the beam search.
type OperatorProfile struct {
	Name     string
	Inputs   []string
	Weight   float64
	Variants []string // in profile order
	Cost     map[string]float64
	Samples  map[string][]Sample
}

// Sample is one measured (input accuracies, output accuracy) point of an operator variant.
type Sample struct {
	InputsAcc []float64
	OutputAcc float64
}

// NodeIndex returns the index of a node name, or -1.
func (p *Problem) NodeIndex(name string) int {
	for i, n := range p.Nodes {
		if n == name {
			return i
		}
	}
	return -1
}

// SetMessageSize records msg(u,v) for variants (uv, vv) in KB per request of v.
func (p *Problem) SetMessageSize(u, v int, uv, vv string, size float64) {
	if p.msg == nil {
		p.msg = map[msgKey]float64{}
	}
	p.msg[msgKey{u, v, uv, vv}] = size
}

// MessageSize looks msg(u,v) up: the exact variants first, then (default, vv), (uv, default),
// (default, default). ok is false when no row matches.
func (p *Problem) MessageSize(u, v int, uv, vv string) (float64, bool) {
	for _, k := range []msgKey{{u, v, uv, vv}, {u, v, "default", vv}, {u, v, uv, "default"}, {u, v, "default", "default"}} {
		if s, ok := p.msg[k]; ok {
			return s, true
		}
	}
	return 0, false
}

// TopoOrder returns the nodes in a topological order (smallest index first among ready nodes).
func (p *Problem) TopoOrder() ([]int, error) {
	n := len(p.Nodes)
	indeg := make([]int, n)
	for v := range n {
		indeg[v] = len(p.Inputs[v])
	}
	var order []int
	done := make([]bool, n)
	for len(order) < n {
		next := -1
		for v := range n {
			if !done[v] && indeg[v] == 0 {
				next = v
				break
			}
		}
		if next < 0 {
			return nil, fmt.Errorf("logical graph has a cycle")
		}
		done[next] = true
		order = append(order, next)
		for _, w := range p.Outputs[next] {
			indeg[w]--
		}
	}
	return order, nil
}

// Finish derives Outputs, Rate (T(v) = min over inputs u of T(u)·ratio(u,v)) from Inputs, the source
// rates and the normalisation ratios (missing ratio = 1.0). sourceRate and ratio are keyed by name.
func (p *Problem) Finish(sourceRate map[string]float64, ratio map[[2]string]float64) error {
	n := len(p.Nodes)
	p.Outputs = make([][]int, n)
	for _, e := range p.Edges {
		p.Outputs[e.From] = append(p.Outputs[e.From], e.To)
	}
	order, err := p.TopoOrder()
	if err != nil {
		return err
	}
	p.Rate = make([]float64, n)
	for _, v := range order {
		if p.IsSource[v] {
			r, ok := sourceRate[p.Nodes[v]]
			if !ok {
				return fmt.Errorf("source %q has no input injection rate", p.Nodes[v])
			}
			p.Rate[v] = r
			continue
		}
		t := math.Inf(1)
		for _, u := range p.Inputs[v] {
			r, ok := ratio[[2]string{p.Nodes[u], p.Nodes[v]}]
			if !ok {
				r = 1.0
			}
			t = math.Min(t, p.Rate[u]*r)
		}
		p.Rate[v] = t
	}
	return nil
}

// CanRun reports whether worker w can run node v with variant vr.
func (p *Problem) CanRun(v int, vr string, w int) bool {
	c := p.Cap[v][vr]
	return c != nil && c[w] > 0
}

// ModelAssignment maps every node to its variant ("default" for sources and non-ML nodes).
type ModelAssignment []string

// Combos returns the variant combinations of the end-to-end table whose accuracy is ≥ threshold,
// in table order, as full per-node assignments.
func (p *Problem) Combos(threshold float64) []Combo {
	var out []Combo
	for _, e := range p.Accuracy.EndToEnd {
		if e.Accuracy < threshold {
			continue
		}
		out = append(out, Combo{Models: p.modelsFor(e.Variants), Accuracy: e.Accuracy})
	}
	return out
}

// Combo is a full model assignment with its end-to-end accuracy.
type Combo struct {
	Models   ModelAssignment
	Accuracy float64
}

func (p *Problem) modelsFor(variants []string) ModelAssignment {
	m := make(ModelAssignment, len(p.Nodes))
	for i := range m {
		m[i] = "default"
	}
	for j, op := range p.Accuracy.Operators {
		if v := p.NodeIndex(op); v >= 0 && j < len(variants) {
			m[v] = variants[j]
		}
	}
	return m
}

// AccuracyOf looks a model assignment up in the end-to-end table.
func (p *Problem) AccuracyOf(m ModelAssignment) (float64, bool) {
	for _, e := range p.Accuracy.EndToEnd {
		match := true
		for j, op := range p.Accuracy.Operators {
			v := p.NodeIndex(op)
			if v < 0 || j >= len(e.Variants) || m[v] != e.Variants[j] {
				match = false
				break
			}
		}
		if match {
			return e.Accuracy, true
		}
	}
	return 0, false
}
