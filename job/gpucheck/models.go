package gpucheck

import (
	"fmt"

	"jellybean/collective"
	"jellybean/job/flow"
	"jellybean/job/profile"
	"jellybean/plan/workflow"
)

// WorkflowModels lists every model node variant of the workflow with a maker of real inputs: the first
// items of the manifest, run through the nodes upstream of the model and the node's own steps before it
// (on the CPU), stacked as the runner's model step stacks them. makeInputs cycles through the items when
// a batch is larger than the items read.
func WorkflowModels(workflowPath, manifest string, items int) ([]Model, func(Model, int) ([]Input, error), error) {
	in, err := profile.LoadItems(workflowPath, manifest, items)
	if err != nil {
		return nil, nil, err
	}
	w := in.Workflow
	var models []Model
	ready := map[[2]string][]*flow.Item{} // (node, variant) -> items as the model receives them
	for _, a := range profile.Assignments(w) {
		for _, nv := range a.For {
			i := w.Index(nv[0])
			n := &w.Nodes[i]
			if n.Model == nil {
				continue
			}
			sub, at := beforeModel(w, i, nv[1])
			tr, err := profile.RunTrace(profile.Items{Workflow: sub, Manifest: in.Manifest, IDs: in.IDs}, a.Variants, flow.Env{Device: "cpu", BatchSize: len(in.IDs)})
			if err != nil {
				return nil, nil, fmt.Errorf("inputs of node %q variant %q: %w", nv[0], nv[1], err)
			}
			ready[nv] = tr.Emitted[at]
			tr.Close()
			m := Model{Node: nv[0], Variant: nv[1], File: w.Resolve(n.Variant(nv[1]).File)}
			for _, b := range n.Model.Inputs {
				m.Inputs = append(m.Inputs, b.Name)
			}
			for _, b := range n.Model.Outputs {
				m.Outputs = append(m.Outputs, b.Name)
			}
			models = append(models, m)
		}
	}
	makeInputs := func(m Model, batch int) ([]Input, error) {
		its := ready[[2]string{m.Node, m.Variant}]
		if len(its) == 0 {
			return nil, fmt.Errorf("node %s variant %s: no items reached the model", m.Node, m.Variant)
		}
		if batch < 1 {
			return nil, fmt.Errorf("batch size %d: must be >= 1", batch)
		}
		picked := make([]*flow.Item, batch)
		for k := range picked {
			picked[k] = its[k%len(its)]
		}
		return ModelInputs(w.Node(m.Node).Model, picked)
	}
	return models, makeInputs, nil
}

// ModelInputs stacks the items' tensors for the model's input bindings, as the runner does: ragged
// tensors zero-padded to the longest, and lengths_of inputs as int64 [N].
func ModelInputs(m *workflow.Model, items []*flow.Item) ([]Input, error) {
	var out []Input
	for _, b := range m.Inputs {
		if b.LengthsOf != "" {
			var of workflow.Binding
			for _, o := range m.Inputs {
				if o.Name == b.LengthsOf {
					of = o
				}
			}
			lengths := make([]int64, len(items))
			for k, it := range items {
				t, err := it.Need(of.ItemTensor())
				if err != nil {
					return nil, err
				}
				if len(t.Shape) > 0 {
					lengths[k] = t.Shape[0]
				}
			}
			out = append(out, Input{Name: b.Name, Shape: []int64{int64(len(items))}, I64: lengths})
			continue
		}
		ts := make([]collective.Tensor, len(items))
		for k, it := range items {
			t, err := it.Need(b.ItemTensor())
			if err != nil {
				return nil, err
			}
			ts[k] = t
		}
		t, err := flow.Stack(b.Name, ts)
		if err != nil {
			return nil, err
		}
		in, err := InputOf(b.Name, t)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

// beforeModel is the part of the workflow that makes node i's model inputs for the variant: the nodes
// upstream of i, and i itself without its model and post steps (its steps with the variant's params, e.g.
// a detector's input size), emitting the tensors its model reads. It returns the sub-workflow and the
// index of that last node.
func beforeModel(w *workflow.Workflow, i int, variant string) (*workflow.Workflow, int) {
	up := map[int]bool{}
	var mark func(int)
	mark = func(j int) {
		for _, name := range w.Nodes[j].Inputs {
			if k := w.Index(name); k >= 0 && !up[k] {
				up[k] = true
				mark(k)
			}
		}
	}
	mark(i)
	sub := &workflow.Workflow{Name: w.Name, Path: w.Path, Dir: w.Dir}
	for j := range w.Nodes {
		if up[j] {
			sub.Nodes = append(sub.Nodes, w.Nodes[j])
		}
	}
	n := w.Nodes[i]
	n.Emit = nil
	for _, b := range n.Model.Inputs {
		if b.LengthsOf == "" {
			n.Emit = append(n.Emit, b.ItemTensor())
		}
	}
	if v := n.Variant(variant); v != nil {
		n.Steps = make([]workflow.Step, len(w.Nodes[i].Steps))
		for k, st := range w.Nodes[i].Steps {
			n.Steps[k] = st.With(v.Params)
		}
	}
	n.Model, n.Post = nil, nil
	sub.Nodes = append(sub.Nodes, n)
	return sub, len(sub.Nodes) - 1
}
