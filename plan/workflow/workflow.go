// Package workflow is the format of a workflow file: a TOML description of an inference workflow as a
// graph of named nodes (sources that read a dataset manifest, processing nodes that run registered steps
// and ONNX models, joins, fan-out/fan-in, one sink). This package parses the file and checks its
// structure; what each step means and whether tensors fit is checked by package job/flow, which owns the
// step registry.
package workflow

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Node kinds. A node with no kind processes items: steps, then an optional model, then post steps.
const (
	KindSource = "source" // reads the dataset manifest's items; its steps load the item's files
	KindSink   = "sink"   // writes results.jsonl (exactly one per workflow)
)

// Workflow is a parsed workflow file.
type Workflow struct {
	Name        string `toml:"name"`
	Description string `toml:"description"`
	Nodes       []Node `toml:"node"`

	Path string `toml:"-"` // the file, for messages
	Dir  string `toml:"-"` // relative file names in the workflow resolve against this directory
}

// Node is one vertex of the workflow graph; each runs as a stage of ranks.
type Node struct {
	Name   string   `toml:"name"`
	Kind   string   `toml:"kind"`   // "source", "sink" or "" (processing)
	Inputs []string `toml:"inputs"` // upstream nodes; several inputs join by item id
	// FanIn regroups the sub-items made by the innermost open fan-out under their parent, in sub-item
	// order, before the node's steps: each named tensor becomes a list (a tensor with one more leading
	// dimension; texts become a uint8 [n, longest] table padded with zero bytes).
	FanIn []string `toml:"fan_in"`
	Steps []Step   `toml:"step"`  // run first (pre-processing; sources: loading)
	Model *Model   `toml:"model"` // optional ONNX model
	Post  []Step   `toml:"post"`  // run after the model
	// Emit lists the tensors sent downstream; empty means every tensor this node wrote (not those it
	// received), so large inputs are not forwarded by accident.
	Emit []string `toml:"emit"`
	// Fields (sink only) are the tensors written to results.jsonl, in order, after "id".
	Fields []string `toml:"fields"`
}

// Step is one registered transform with its parameters, written as a table: op = "name", then the
// step's own keys.
type Step struct {
	Op     string
	Params map[string]any
}

// UnmarshalTOML takes the step's table apart: "op" names the step, every other key is a parameter that
// only the step itself interprets.
func (s *Step) UnmarshalTOML(v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("a step must be a table with op = \"...\"")
	}
	op, ok := m["op"].(string)
	if !ok || op == "" {
		return fmt.Errorf("step without op = \"name\"")
	}
	s.Op = op
	s.Params = map[string]any{}
	for k, v := range m {
		if k != "op" {
			s.Params[k] = v
		}
	}
	return nil
}

// With returns the step with overrides replacing its parameters of the same name (a model variant's
// params); the step itself is not changed.
func (s Step) With(overrides map[string]any) Step {
	if len(overrides) == 0 {
		return s
	}
	out := Step{Op: s.Op, Params: make(map[string]any, len(s.Params))}
	for k, v := range s.Params {
		out.Params[k] = v
		if o, ok := overrides[k]; ok {
			out.Params[k] = o
		}
	}
	return out
}

// Model is the ONNX model of a node: one file per variant, and how item tensors bind to its inputs and
// outputs.
type Model struct {
	// Batch = false runs the model one item at a time (models whose graph has a fixed batch of 1).
	Batch *bool `toml:"batch"`
	// Pad = false never zero-pads: items whose bound tensors differ in shape run in separate batches, so
	// an item's outputs do not depend on its batch-mates (models that mix information across a padded
	// dimension, such as attention over a text line's width). Default true: ragged items share a batch.
	Pad     *bool     `toml:"pad"`
	Inputs  []Binding `toml:"input"`
	Outputs []Binding `toml:"output"`
	// Variants are the interchangeable models the optimizer picks from (accuracy against cost).
	Variants []Variant `toml:"variant"`
	// SameVariantAs ties this node's variant to another model node's (a model trained on that node's
	// outputs): the plan must choose the same variant name for both.
	SameVariantAs string `toml:"same_variant_as"`
}

// Batched reports whether the model runs micro-batches (the default).
func (m *Model) Batched() bool { return m.Batch == nil || *m.Batch }

// Pads reports whether items of different shapes may share a batch, zero-padded (the default).
func (m *Model) Pads() bool { return m.Pad == nil || *m.Pad }

// Binding connects a model input or output (by its name in the ONNX graph) to an item tensor.
type Binding struct {
	Name   string `toml:"name"`   // tensor name in the ONNX graph
	Tensor string `toml:"tensor"` // item tensor (defaults to Name)
	// LengthsOf (inputs only) feeds int64 [N]: each item's length along the first dimension of the item
	// tensor bound to the named input, whose items are zero-padded to the longest in the batch.
	LengthsOf string `toml:"lengths_of"`
}

// ItemTensor is the item tensor a binding reads or writes.
func (b Binding) ItemTensor() string {
	if b.Tensor != "" {
		return b.Tensor
	}
	return b.Name
}

// Variant is one interchangeable model file, and the step parameters that go with it.
type Variant struct {
	Name string `toml:"name"`
	File string `toml:"file"` // relative to the workflow file's directory
	// Params replace the parameters of the same name of the node's steps when this variant runs (e.g. a
	// detector's input size, which costs more and finds more with the same model file).
	Params map[string]any `toml:"params"`
}

// Parse decodes a workflow file; unknown keys are errors naming the key. It checks the structure
// (Validate) too.
func Parse(path string, data []byte) (*Workflow, error) {
	var w Workflow
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&w)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return nil, fmt.Errorf("%s:%d: %s", path, perr.Position.Line, perr.Message)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, 0, len(und))
		for _, k := range und {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		return nil, fmt.Errorf("%s: unknown key(s): %s", path, strings.Join(keys, ", "))
	}
	w.Path, w.Dir = path, filepath.Dir(path)
	if err := w.Validate(); err != nil {
		return nil, err
	}
	return &w, nil
}

// Load reads and parses a workflow file.
func Load(path string) (*Workflow, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading workflow: %w", err)
	}
	return Parse(path, data)
}

// Resolve turns a file name from the workflow into a path: relative to the workflow's directory.
func (w *Workflow) Resolve(name string) string {
	if name == "" || filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(w.Dir, name)
}

// Node returns the named node, or nil.
func (w *Workflow) Node(name string) *Node {
	if i := w.Index(name); i >= 0 {
		return &w.Nodes[i]
	}
	return nil
}

// Index returns the index of the named node, or -1.
func (w *Workflow) Index(name string) int {
	for i := range w.Nodes {
		if w.Nodes[i].Name == name {
			return i
		}
	}
	return -1
}

// Variant returns the model node's variant of the given name, or nil.
func (n *Node) Variant(name string) *Variant {
	if n.Model == nil {
		return nil
	}
	for i := range n.Model.Variants {
		if n.Model.Variants[i].Name == name {
			return &n.Model.Variants[i]
		}
	}
	return nil
}

// VariantNames lists a model node's variants in file order.
func (n *Node) VariantNames() []string {
	if n.Model == nil {
		return nil
	}
	var names []string
	for _, v := range n.Model.Variants {
		names = append(names, v.Name)
	}
	return names
}

// Consumers returns the indexes of the nodes that read node i's output.
func (w *Workflow) Consumers(i int) []int {
	var out []int
	for j := range w.Nodes {
		for _, in := range w.Nodes[j].Inputs {
			if in == w.Nodes[i].Name {
				out = append(out, j)
				break
			}
		}
	}
	return out
}

// Sink returns the index of the sink node, or -1.
func (w *Workflow) Sink() int {
	for i := range w.Nodes {
		if w.Nodes[i].Kind == KindSink {
			return i
		}
	}
	return -1
}

// ModelNodes lists the indexes of the nodes that run a model, in file order.
func (w *Workflow) ModelNodes() []int {
	var out []int
	for i := range w.Nodes {
		if w.Nodes[i].Model != nil {
			out = append(out, i)
		}
	}
	return out
}

// ModelSameVariantAs returns the node whose variant this node's model must share, or "".
func (n *Node) ModelSameVariantAs() string {
	if n.Model == nil {
		return ""
	}
	return n.Model.SameVariantAs
}
