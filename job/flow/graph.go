package flow

import (
	"fmt"
	"slices"
	"time"

	"jellybean/plan/workflow"
)

// Graph is a workflow compiled for a choice of variants: every node's tensor flow checked, and the
// nodes a rank runs built for real.
type Graph struct {
	Workflow *workflow.Workflow
	Nodes    []*Node // by workflow node index
}

// Node is one compiled workflow node.
type Node struct {
	Index int
	Spec  *workflow.Node
	// Depth is the fan-out depth of the items the node emits (0: dataset items).
	Depth int
	// Emits are the tensors the node sends downstream (sink: the fields it writes).
	Emits []TensorSpec
	// Fields are the manifest fields a source's steps read.
	Fields []string
	// Variant is the model variant chosen for the node ("" for nodes without a model).
	Variant string

	fanIn   []TensorSpec // item-level specs of the tensors a fan-in collects
	steps   []step       // built nodes only: steps, model, post steps in order
	emit    []string
	pending *families // fan-in state across micro-batches
	built   bool
	lastOut []*Item // RunSequential: this node's output of the current batch
}

type step struct {
	where string // "step[1] (op tokenize)", for errors
	s     Step
}

// Compile checks the workflow for the chosen variants (model node name -> variant) and builds the nodes
// listed in build for running (loading their models on env's device); the other nodes are only checked,
// which reads model metadata but creates no session. Errors name the workflow file, node and field.
func Compile(w *workflow.Workflow, variants map[string]string, env Env, build ...int) (*Graph, error) {
	order, err := w.TopoOrder()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", w.Path, err)
	}
	env.Dir = w.Dir
	g := &Graph{Workflow: w, Nodes: make([]*Node, len(w.Nodes))}
	for _, i := range order {
		n, err := g.compileNode(i, variants, env, slices.Contains(build, i))
		if err != nil {
			g.Close()
			return nil, fmt.Errorf("%s: node %q: %w", w.Path, w.Nodes[i].Name, err)
		}
		g.Nodes[i] = n
	}
	return g, nil
}

// Close releases the built nodes' resources.
func (g *Graph) Close() error {
	var first error
	for _, n := range g.Nodes {
		if n == nil {
			continue
		}
		if err := n.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (g *Graph) compileNode(i int, variants map[string]string, env Env, build bool) (*Node, error) {
	w := g.Workflow
	spec := &w.Nodes[i]
	n := &Node{Index: i, Spec: spec, built: build}
	avail := map[string]TensorSpec{}
	var order []string // tensor names in the order they became available
	put := func(t TensorSpec) {
		if _, ok := avail[t.Name]; !ok {
			order = append(order, t.Name)
		}
		avail[t.Name] = t
	}
	n.Depth = -1
	if spec.Kind == workflow.KindSource {
		n.Depth = 0
	}
	for _, in := range spec.Inputs {
		up := g.Nodes[w.Index(in)]
		if n.Depth >= 0 && up.Depth != n.Depth {
			return nil, fmt.Errorf("inputs: %q emits items at fan-out depth %d, but %q at depth %d: a join matches items of one level",
				in, up.Depth, spec.Inputs[0], n.Depth)
		}
		n.Depth = up.Depth
		for _, t := range up.Emits {
			if _, dup := avail[t.Name]; dup {
				return nil, fmt.Errorf("inputs: tensor %q arrives from more than one input (rename it with emit or a step)", t.Name)
			}
			put(t)
		}
	}
	if len(spec.FanIn) > 0 {
		if n.Depth == 0 {
			return nil, fmt.Errorf("fan_in: no fan-out upstream: the items arriving here are whole dataset items")
		}
		lists := map[string]TensorSpec{}
		for _, name := range spec.FanIn {
			t, ok := avail[name]
			if !ok {
				return nil, fmt.Errorf("fan_in: tensor %q does not reach this node (it has %v)", name, order)
			}
			n.fanIn = append(n.fanIn, t)
			rank := t.Rank
			if rank >= 0 {
				rank++
			}
			lists[name] = TensorSpec{Name: name, DType: t.DType, Rank: rank}
		}
		avail, order = map[string]TensorSpec{}, nil
		for _, name := range spec.FanIn {
			put(lists[name])
		}
		n.Depth--
		n.pending = newFamilies()
	}
	var written []string
	addStep := func(field string, k int, st workflow.Step) error {
		where := fmt.Sprintf("%s[%d] (op %q)", field, k, st.Op)
		f, ok := Lookup(st.Op)
		if !ok {
			return fmt.Errorf("%s: unknown op (registered: %v)", where, Registered())
		}
		e := env
		e.Check = !build
		s, sig, err := f(Params(st.Params), e)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if build {
			n.steps = append(n.steps, step{where: where, s: s})
		}
		if len(sig.Fields) > 0 && spec.Kind != workflow.KindSource {
			return fmt.Errorf("%s: reads manifest fields %v: only a source's steps read the manifest", where, sig.Fields)
		}
		n.Fields = append(n.Fields, sig.Fields...)
		for _, r := range sig.Reads {
			if err := fits(r, avail, order); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
		if sig.FanOut {
			n.Depth++
		}
		for _, t := range sig.Writes {
			put(t)
			written = append(written, t.Name)
		}
		return nil
	}
	// The variant first: it may set parameters of the node's steps.
	var overrides map[string]any
	if spec.Model != nil {
		v := variants[spec.Name]
		if v == "" && len(spec.Model.Variants) == 1 {
			v = spec.Model.Variants[0].Name
		}
		if spec.Variant(v) == nil {
			return nil, fmt.Errorf("variant %q: not one of the node's variants %v", v, spec.VariantNames())
		}
		if o := spec.Model.SameVariantAs; o != "" && variants[o] != "" && variants[o] != v {
			return nil, fmt.Errorf("variant %q, but model.same_variant_as = %q runs %q: both must run the same variant", v, o, variants[o])
		}
		overrides = spec.Variant(v).Params
		for key := range overrides {
			if !paramUsed(spec, key) {
				return nil, fmt.Errorf("model.variant %q: params.%s: no step of the node has that parameter", v, key)
			}
		}
	}
	withVariant := func(st workflow.Step) workflow.Step { return st.With(overrides) }
	for k, st := range spec.Steps {
		if err := addStep("step", k, withVariant(st)); err != nil {
			return nil, err
		}
	}
	if spec.Model != nil {
		v := variants[spec.Name]
		if v == "" {
			v = spec.Model.Variants[0].Name
		}
		n.Variant = v
		m, writes, err := newModelStep(w.Resolve(spec.Variant(v).File), spec.Model, avail, order, env, build)
		if err != nil {
			return nil, fmt.Errorf("model.variant %q: %w", v, err)
		}
		if build {
			n.steps = append(n.steps, step{where: fmt.Sprintf("model (variant %q)", v), s: m})
		}
		for _, t := range writes {
			put(t)
			written = append(written, t.Name)
		}
	}
	for k, st := range spec.Post {
		if err := addStep("post", k, withVariant(st)); err != nil {
			return nil, err
		}
	}
	if spec.Kind == workflow.KindSink {
		if n.Depth != 0 {
			return nil, fmt.Errorf("items reach the sink at fan-out depth %d: regroup sub-items with fan_in first", n.Depth)
		}
		for _, f := range spec.Fields {
			t, ok := avail[f]
			if !ok {
				return nil, fmt.Errorf("fields: tensor %q does not reach the sink (it has %v)", f, order)
			}
			n.Emits = append(n.Emits, t)
		}
		return n, nil
	}
	n.emit = spec.Emit
	if len(n.emit) == 0 {
		n.emit = dedup(written)
		if len(n.emit) == 0 {
			return nil, fmt.Errorf("writes no tensor, so it has nothing to send downstream (name the ones to forward with emit)")
		}
	}
	for _, name := range n.emit {
		t, ok := avail[name]
		if !ok {
			return nil, fmt.Errorf("emit: tensor %q is not available here (it has %v)", name, order)
		}
		n.Emits = append(n.Emits, t)
	}
	return n, nil
}

// fits checks that a tensor the step reads is available with a compatible dtype and rank.
func fits(want TensorSpec, avail map[string]TensorSpec, order []string) error {
	have, ok := avail[want.Name]
	if !ok {
		return fmt.Errorf("reads tensor %q, which no upstream node or earlier step writes (available: %v)", want.Name, order)
	}
	if want.DType != 0 && have.DType != 0 && want.DType != have.DType {
		return fmt.Errorf("reads tensor %q as %s, but it is %s", want.Name, want.DType, have.DType)
	}
	if want.Rank >= 0 && have.Rank >= 0 && want.Rank != have.Rank {
		return fmt.Errorf("reads tensor %q with rank %d, but it has rank %d", want.Name, want.Rank, have.Rank)
	}
	return nil
}

func dedup(names []string) []string {
	var out []string
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// SetBatchSize changes the micro-batch size of the node's model (the profiler times one node at several
// batch sizes on one compiled graph); on a GPU a partial batch is then filled up to b, not to the size
// compiled. It returns the size before, to restore; nodes without a batched model ignore it (and return 0).
func (n *Node) SetBatchSize(b int) (prev int) {
	for _, st := range n.steps {
		if m, ok := st.s.(*modelStep); ok {
			prev = m.setBatch(b)
		}
	}
	return prev
}

// PreparesShapes reports whether the node's model keeps a session per input shape (on a GPU: see
// shapeSessions), so that its first run of each shape costs what later runs do not: the profiler runs
// such a node over its traced items once before timing it, to time the steady state.
func (n *Node) PreparesShapes() bool {
	for _, st := range n.steps {
		if m, ok := st.s.(*modelStep); ok && m.sessions != nil && m.sessions.max > 1 {
			return true
		}
	}
	return false
}

// Process runs the node on a micro-batch: regroups sub-items (fan-in), runs the steps, model and post
// steps, and keeps only the emitted tensors. Placeholders of empty families skip the steps. It returns
// the items to send on and the time spent inside a model runtime.
func (n *Node) Process(items []*Item) ([]*Item, time.Duration, error) {
	if !n.built {
		return nil, 0, fmt.Errorf("node %q was compiled for checking only", n.Spec.Name)
	}
	var err error
	if n.pending != nil {
		if items, err = n.pending.add(items, n.fanIn); err != nil {
			return nil, 0, fmt.Errorf("node %q: fan_in: %w", n.Spec.Name, err)
		}
	}
	var holders, work []*Item
	for _, it := range items {
		if it.Placeholder() {
			holders = append(holders, it)
		} else {
			work = append(work, it)
		}
	}
	var model time.Duration
	for _, s := range n.steps {
		if len(work) == 0 {
			break
		}
		out, err := s.s.Process(work)
		if t, ok := s.s.(Timed); ok {
			model += t.TakeModelTime()
		}
		if err != nil {
			return nil, model, fmt.Errorf("node %q %s: %w", n.Spec.Name, s.where, err)
		}
		work = work[:0]
		for _, it := range out {
			if it.Placeholder() {
				holders = append(holders, it)
			} else {
				work = append(work, it)
			}
		}
	}
	out := append(work, holders...)
	if err := n.keepEmitted(out); err != nil {
		return nil, model, err
	}
	return out, model, nil
}

// Finish reports sub-item families that never completed (at the end of the stream).
func (n *Node) Finish() error {
	if n.pending != nil && n.pending.len() > 0 {
		return fmt.Errorf("node %q: fan_in: end of stream with %d families incomplete, e.g. %s", n.Spec.Name, n.pending.len(), n.pending.example())
	}
	return nil
}

// Close releases the node's steps.
func (n *Node) Close() error {
	var first error
	for _, s := range n.steps {
		if err := s.s.Close(); err != nil && first == nil {
			first = err
		}
	}
	n.steps = nil
	return first
}

// paramUsed reports whether some step of the node has the parameter (a variant may only change those).
func paramUsed(n *workflow.Node, key string) bool {
	for _, st := range append(append([]workflow.Step(nil), n.Steps...), n.Post...) {
		if _, ok := st.Params[key]; ok {
			return true
		}
	}
	return false
}
