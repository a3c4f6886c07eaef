package profile

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"jellybean/job/flow"
	"jellybean/plan/workflow"
)

// Items are real dataset items to profile with: the first items of a manifest, read by the workflow's
// sources. Every other node's inputs are made by running its upstream nodes on them (Trace), so the
// profiler needs to know nothing about any workflow.
type Items struct {
	Workflow *workflow.Workflow
	Manifest *flow.Manifest
	IDs      []int64
	// CountIDs, when longer than IDs, are the items the rate ratios are counted on (countReceived): a
	// fan-out's sub-items per item need a larger sample than an op's cost per item.
	CountIDs []int64
}

// LoadItems reads the workflow and the first n items of the manifest (all when n <= 0), checking that
// the items have every field the sources read.
func LoadItems(workflowPath, manifestPath string, n int) (Items, error) {
	var in Items
	w, err := workflow.Load(workflowPath)
	if err != nil {
		return in, err
	}
	man, err := flow.LoadManifest(manifestPath)
	if err != nil {
		return in, err
	}
	if len(man.IDs) == 0 {
		return in, fmt.Errorf("%s: no items", manifestPath)
	}
	in.Workflow, in.Manifest, in.IDs = w, man, man.IDs
	if n > 0 && n < len(in.IDs) {
		in.IDs = in.IDs[:n]
	}
	return in, nil
}

// Trace is one pass of the items through every node of the workflow but the sink, for one choice of
// variants: what each node received (joined across its inputs) and what it emitted.
type Trace struct {
	Graph    *flow.Graph
	Order    []int                // node indexes, inputs first (the sink left out)
	Received map[int][]*flow.Item // node index -> its input items, before its steps (sources: the bare items)
	Emitted  map[int][]*flow.Item
}

// Close releases the traced graph's sessions.
func (t *Trace) Close() error { return t.Graph.Close() }

// RunTrace compiles the workflow for the variants (model node -> variant; nodes left out run their first
// variant) on env's device and runs the items through it, in dependency order, micro-batch by micro-batch
// of env.BatchSize items.
func RunTrace(in Items, variants map[string]string, env flow.Env) (*Trace, error) {
	w := in.Workflow
	order, err := w.TopoOrder()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", w.Path, err)
	}
	sink := w.Sink()
	var build []int
	for _, i := range order {
		if i != sink {
			build = append(build, i)
		}
	}
	g, err := compileFor(in, variants, env, build)
	if err != nil {
		return nil, err
	}
	t := &Trace{Graph: g, Order: build, Received: map[int][]*flow.Item{}, Emitted: map[int][]*flow.Item{}}
	for _, i := range build {
		n := &w.Nodes[i]
		var items []*flow.Item
		if n.Kind == workflow.KindSource {
			items = sourceItems(in.Manifest, in.IDs)
		} else {
			var ups [][]*flow.Item
			for _, name := range n.Inputs {
				ups = append(ups, t.Emitted[w.Index(name)])
			}
			if items, err = Join(ups); err != nil {
				g.Close()
				return nil, fmt.Errorf("%s: node %q: %w", w.Path, n.Name, err)
			}
		}
		t.Received[i] = items
		if t.Emitted[i], err = processAll(g.Nodes[i], items, env.BatchSize); err != nil {
			g.Close()
			return nil, err
		}
	}
	return t, nil
}

// sourceItems are the bare dataset items ids with their manifest lines, as a source receives them.
func sourceItems(m *flow.Manifest, ids []int64) []*flow.Item {
	items := make([]*flow.Item, len(ids))
	for k, id := range ids {
		rec, _ := m.Record(id)
		items[k] = &flow.Item{ID: id, Record: rec}
	}
	return items
}

// compileFor compiles the nodes build of the workflow for the variants, checking that the items have
// every field its sources among them read.
func compileFor(in Items, variants map[string]string, env flow.Env, build []int) (*flow.Graph, error) {
	w := in.Workflow
	g, err := flow.Compile(w, variants, env, build...)
	if err != nil {
		return nil, err
	}
	for _, i := range build {
		if w.Nodes[i].Kind == workflow.KindSource {
			if err := in.Manifest.CheckFields(g.Nodes[i].Fields); err != nil {
				g.Close()
				return nil, err
			}
		}
	}
	return g, nil
}

// processAll runs the node on the items in micro-batches of bs, as a worker does, and returns what it
// emitted.
func processAll(n *flow.Node, items []*flow.Item, bs int) ([]*flow.Item, error) {
	var out []*flow.Item
	bs = max(bs, 1)
	for lo := 0; lo < len(items); lo += bs {
		o, _, err := n.Process(Clone(items[lo:min(lo+bs, len(items))]))
		if err != nil {
			return nil, err
		}
		out = append(out, o...)
	}
	if err := n.Finish(); err != nil {
		return nil, err
	}
	return out, nil
}

// Join merges the items of several inputs by item (and sub-item) key, as a join stage of the runner
// does: each merged item carries the tensors of all its inputs, in the first input's item order.
func Join(inputs [][]*flow.Item) ([]*flow.Item, error) {
	if len(inputs) == 1 {
		return inputs[0], nil
	}
	byKey := make([]map[string]*flow.Item, len(inputs))
	for k, items := range inputs {
		byKey[k] = map[string]*flow.Item{}
		for _, it := range items {
			byKey[k][it.Key()] = it
		}
	}
	var out []*flow.Item
	for _, it := range inputs[0] {
		m := &flow.Item{ID: it.ID, Sub: it.Sub, SubN: it.SubN, T0: it.T0}
		for k := range inputs {
			o, ok := byKey[k][it.Key()]
			if !ok {
				return nil, fmt.Errorf("input %d has no %s", k, it.Name())
			}
			m.Tensors = append(m.Tensors, o.Tensors...)
		}
		out = append(out, m)
	}
	return out, nil
}

// Clone copies items so that processing them leaves the originals as they were (tensor data is shared:
// steps write new tensors rather than changing the data of those they read).
func Clone(items []*flow.Item) []*flow.Item {
	out := make([]*flow.Item, len(items))
	for i, it := range items {
		c := *it
		c.Tensors = slices.Clone(it.Tensors)
		out[i] = &c
	}
	return out
}

// Assignment is one choice of variants to trace, and the (node, variant) pairs it is traced for.
type Assignment struct {
	Variants map[string]string
	For      [][2]string // (node, variant) pairs measured on this trace
}

// Assignments lists the traces that give every model node's every variant real inputs: each variant
// runs with the first variant of the other model nodes, except nodes tied to it by same_variant_as,
// which run the same variant (a head is only fed features of the network it was trained with).
// Assignments that coincide are merged; the first one also measures the nodes without a model.
func Assignments(w *workflow.Workflow) []Assignment {
	models := w.ModelNodes()
	tie := func(a, b string) bool { // same tie group
		root := func(n string) string {
			for range len(w.Nodes) {
				nd := w.Node(n)
				if nd == nil || nd.ModelSameVariantAs() == "" {
					return n
				}
				n = nd.ModelSameVariantAs()
			}
			return n
		}
		return root(a) == root(b)
	}
	base := map[string]string{}
	for _, i := range models {
		base[w.Nodes[i].Name] = w.Nodes[i].Model.Variants[0].Name
	}
	var out []Assignment
	index := map[string]int{}
	for _, i := range models {
		n := &w.Nodes[i]
		for _, v := range n.VariantNames() {
			a := map[string]string{}
			for _, j := range models {
				m := w.Nodes[j].Name
				a[m] = base[m]
				if tie(m, n.Name) && w.Nodes[j].Variant(v) != nil {
					a[m] = v
				}
			}
			key := assignmentKey(a)
			k, ok := index[key]
			if !ok {
				k = len(out)
				index[key] = k
				out = append(out, Assignment{Variants: a})
			}
			out[k].For = append(out[k].For, [2]string{n.Name, v})
		}
	}
	if len(out) == 0 {
		out = append(out, Assignment{Variants: base})
	}
	for i := range w.Nodes {
		n := &w.Nodes[i]
		if n.Model == nil && n.Kind == "" {
			out[0].For = append(out[0].For, [2]string{n.Name, DefaultVariant})
		}
	}
	return out
}

// ChosenAssignment is the one trace that measures a plan's variants (profile --variants): every model
// node runs its chosen variant, so each node is timed on the inputs it gets in the plan, and the nodes
// without a model are measured too. It fails naming the node when a model node has no chosen variant,
// a chosen variant does not exist, or a name is no model node of the workflow.
func ChosenAssignment(w *workflow.Workflow, variants map[string]string) (Assignment, error) {
	a := Assignment{Variants: map[string]string{}}
	models := map[string]bool{}
	for _, i := range w.ModelNodes() {
		n := &w.Nodes[i]
		models[n.Name] = true
		v, ok := variants[n.Name]
		if !ok {
			return Assignment{}, fmt.Errorf("no variant chosen for model node %q (variants: %s)", n.Name, strings.Join(n.VariantNames(), ", "))
		}
		if n.Variant(v) == nil {
			return Assignment{}, fmt.Errorf("node %q has no variant %q (variants: %s)", n.Name, v, strings.Join(n.VariantNames(), ", "))
		}
		a.Variants[n.Name] = v
	}
	for name := range variants {
		if !models[name] {
			return Assignment{}, fmt.Errorf("%q is not a model node of the workflow", name)
		}
	}
	for i := range w.Nodes {
		n := &w.Nodes[i]
		switch {
		case n.Model != nil:
			a.For = append(a.For, [2]string{n.Name, a.Variants[n.Name]})
		case n.Kind == "":
			a.For = append(a.For, [2]string{n.Name, DefaultVariant})
		}
	}
	return a, nil
}

// ParseVariants reads "node=variant,node=variant" (profile --variants); empty gives nil (every
// variant). A pair without "=" or a node named twice is an error naming it.
func ParseVariants(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		node, variant, ok := strings.Cut(strings.TrimSpace(pair), "=")
		node, variant = strings.TrimSpace(node), strings.TrimSpace(variant)
		if !ok || node == "" || variant == "" {
			return nil, fmt.Errorf("variants: %q is not node=variant", pair)
		}
		if _, dup := out[node]; dup {
			return nil, fmt.Errorf("variants: node %q named twice", node)
		}
		out[node] = variant
	}
	return out, nil
}

// DefaultVariant is the variant name of nodes without a model, as the optimizer's inputs call it.
const DefaultVariant = "default"

func assignmentKey(a map[string]string) string {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s;", k, a[k])
	}
	return b.String()
}
