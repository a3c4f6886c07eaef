package workflow

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// maxListed bounds how many further problems one error lists, so that a broken file stays readable.
const maxListed = 10

// Validate checks the workflow's structure: names, kinds, inputs, the graph (acyclic, one sink, every
// node feeding something), models and their variants. It returns one error that names the file, the node
// and the field of the first problem, then the others in brief.
func (w *Workflow) Validate() error {
	var errs []string
	add := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if len(w.Nodes) == 0 {
		add("no [[node]] tables")
	}
	sinks := 0
	for i := range w.Nodes {
		n := &w.Nodes[i]
		at := fmt.Sprintf("node %q", n.Name)
		if n.Name == "" {
			add("node[%d]: name: missing", i)
			at = fmt.Sprintf("node[%d]", i)
		} else if j := w.Index(n.Name); j != i {
			add("%s: name: already used by node[%d]", at, j)
		}
		for _, in := range n.Inputs {
			if in == n.Name {
				add("%s: inputs: the node reads itself", at)
			} else if w.Index(in) < 0 {
				add("%s: inputs: unknown node %q", at, in)
			}
		}
		switch n.Kind {
		case KindSource:
			if len(n.Inputs) > 0 {
				add("%s: inputs: a source reads the dataset, not other nodes", at)
			}
			if len(n.Steps) == 0 {
				add("%s: step: a source needs at least one step that loads the item's files", at)
			}
			if n.Model != nil || len(n.Post) > 0 || len(n.FanIn) > 0 || len(n.Fields) > 0 {
				add("%s: a source has only steps (no model, post, fan_in or fields)", at)
			}
		case KindSink:
			sinks++
			if len(n.Inputs) == 0 {
				add("%s: inputs: missing (the node whose items the sink writes)", at)
			}
			if len(n.Fields) == 0 {
				add("%s: fields: missing (the tensors written to results.jsonl)", at)
			}
			if n.Model != nil || len(n.Steps) > 0 || len(n.Post) > 0 || len(n.Emit) > 0 {
				add("%s: a sink has only inputs, fields and fan_in (no model, steps, post or emit)", at)
			}
		case "":
			if len(n.Inputs) == 0 {
				add("%s: inputs: missing (a node without inputs must be kind = \"source\")", at)
			}
			if n.Model == nil && len(n.Steps) == 0 && len(n.Post) == 0 && len(n.FanIn) == 0 {
				add("%s: does nothing: give it a step, a model or a fan_in", at)
			}
			if len(n.Fields) > 0 {
				add("%s: fields: only a sink writes fields", at)
			}
		default:
			add("%s: kind = %q: want \"source\", \"sink\" or none (a processing node)", at, n.Kind)
		}
		if len(n.Post) > 0 && n.Model == nil {
			add("%s: post: post steps follow a model, and this node has none (use step)", at)
		}
		if n.Model != nil {
			w.checkModel(n, at, add)
		}
		if n.Kind != KindSink && n.Name != "" && w.Index(n.Name) == i && len(w.Consumers(i)) == 0 {
			add("%s: its output goes nowhere: no node lists it in inputs", at)
		}
	}
	if sinks != 1 {
		add("the workflow needs exactly one node with kind = %q, found %d", KindSink, sinks)
	}
	if len(errs) == 0 {
		if _, err := w.TopoOrder(); err != nil {
			add("%v", err)
		}
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("%s: %s", w.Path, errs[0])
	}
	rest := errs[1:]
	if len(rest) > maxListed {
		rest = append(rest[:maxListed:maxListed], fmt.Sprintf("... %d more", len(errs)-1-maxListed))
	}
	return fmt.Errorf("%s: %s (and %d more problems: %s)", w.Path, errs[0], len(errs)-1, strings.Join(rest, "; "))
}

func (w *Workflow) checkModel(n *Node, at string, add func(string, ...any)) {
	m := n.Model
	if len(m.Variants) == 0 {
		add("%s: model.variant: at least one [[node.model.variant]] with name and file", at)
	}
	seen := map[string]bool{}
	for i, v := range m.Variants {
		switch {
		case v.Name == "":
			add("%s: model.variant[%d]: name: missing", at, i)
		case seen[v.Name]:
			add("%s: model.variant[%d]: name %q used twice", at, i, v.Name)
		}
		seen[v.Name] = true
		if v.File == "" {
			add("%s: model.variant[%d] %q: file: missing", at, i, v.Name)
		}
	}
	if len(m.Inputs) == 0 || len(m.Outputs) == 0 {
		add("%s: model: needs [[node.model.input]] and [[node.model.output]] bindings", at)
	}
	names := map[string]bool{}
	for i, b := range m.Inputs {
		if b.Name == "" {
			add("%s: model.input[%d]: name: missing (the ONNX input's name)", at, i)
		}
		if names[b.Name] {
			add("%s: model.input[%d]: %q bound twice", at, i, b.Name)
		}
		names[b.Name] = true
		if b.LengthsOf != "" && b.Tensor != "" {
			add("%s: model.input[%d] %q: give either tensor or lengths_of, not both", at, i, b.Name)
		}
	}
	for i, b := range m.Inputs {
		if b.LengthsOf == "" {
			continue
		}
		found := false
		for _, o := range m.Inputs {
			found = found || (o.Name == b.LengthsOf && o.LengthsOf == "")
		}
		if !found {
			add("%s: model.input[%d] %q: lengths_of = %q is not another (tensor) input of the model", at, i, b.Name, b.LengthsOf)
		}
	}
	outs := map[string]bool{}
	for i, b := range m.Outputs {
		if b.Name == "" {
			add("%s: model.output[%d]: name: missing (the ONNX output's name)", at, i)
		}
		if b.LengthsOf != "" {
			add("%s: model.output[%d]: lengths_of applies to inputs only", at, i)
		}
		if outs[b.Name] {
			add("%s: model.output[%d]: %q bound twice", at, i, b.Name)
		}
		outs[b.Name] = true
	}
	if s := m.SameVariantAs; s != "" {
		o := w.Node(s)
		switch {
		case o == nil || o.Model == nil:
			add("%s: model.same_variant_as = %q: not a model node of this workflow", at, s)
		case o.Name == n.Name:
			add("%s: model.same_variant_as: names the node itself", at)
		default:
			for _, v := range m.Variants {
				if o.Variant(v.Name) == nil {
					add("%s: model.same_variant_as = %q: variant %q has no namesake there (variants %v)", at, s, v.Name, o.VariantNames())
				}
			}
		}
	}
}

// CheckFiles reports the first model file that does not exist, naming the node and variant.
func (w *Workflow) CheckFiles() error {
	for _, n := range w.Nodes {
		if n.Model == nil {
			continue
		}
		for _, v := range n.Model.Variants {
			if _, err := os.Stat(w.Resolve(v.File)); err != nil {
				reason := err.Error()
				if errors.Is(err, os.ErrNotExist) {
					reason = "file not found"
				}
				return fmt.Errorf("%s: node %q: model.variant %q: file = %q: %s", w.Path, n.Name, v.Name, v.File, reason)
			}
		}
	}
	return nil
}

// TopoOrder returns the node indexes so that every node comes after its inputs, or an error naming the
// nodes of a cycle.
func (w *Workflow) TopoOrder() ([]int, error) {
	const (
		unvisited = iota
		visiting
		done
	)
	state := make([]int, len(w.Nodes))
	order := make([]int, 0, len(w.Nodes))
	var visit func(i int, path []string) error
	visit = func(i int, path []string) error {
		switch state[i] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("node %q: inputs: form a cycle: %s -> %s", w.Nodes[i].Name, strings.Join(path, " -> "), w.Nodes[i].Name)
		}
		state[i] = visiting
		for _, in := range w.Nodes[i].Inputs {
			if j := w.Index(in); j >= 0 {
				if err := visit(j, append(path, w.Nodes[i].Name)); err != nil {
					return err
				}
			}
		}
		state[i] = done
		order = append(order, i)
		return nil
	}
	for i := range w.Nodes {
		if err := visit(i, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}
