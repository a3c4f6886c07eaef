package plan

import (
	"fmt"
	"jellybean/plan/workflow"
	"path/filepath"
	"strings"
)

// DefaultBasePort is the first listening port when a plan leaves base_port out: above the registered
// service ports most clusters use, rank r on a host listens on DefaultBasePort + its slot index.
const DefaultBasePort = 29500

// DefaultBatchSize is the micro-batch size of model stages when neither the plan nor the stage sets one.
const DefaultBatchSize = 8

// IsSource reports whether stage i reads the dataset (a source node).
func (p *Plan) IsSource(i int) bool {
	return p.Stages[i].Node != nil && p.Stages[i].Node.Kind == workflow.KindSource
}

// IsSink reports whether stage i writes the results.
func (p *Plan) IsSink(i int) bool {
	return p.Stages[i].Node != nil && p.Stages[i].Node.Kind == workflow.KindSink
}

// IsModel reports whether stage i runs a model.
func (p *Plan) IsModel(i int) bool { return p.Stages[i].Node != nil && p.Stages[i].Node.Model != nil }

// StageKind says what stage i does, for summaries and reports: "source", "sink", "model" (runs a model)
// or "transform".
func (p *Plan) StageKind(i int) string {
	switch {
	case p.IsSource(i):
		return "source"
	case p.IsSink(i):
		return "sink"
	case p.IsModel(i):
		return "model"
	}
	return "transform"
}

// ModelFile returns the model file stage i runs (its variant's file, resolved), or "".
func (p *Plan) ModelFile(i int) string {
	s := &p.Stages[i]
	if s.Node == nil || s.Node.Model == nil {
		return ""
	}
	v := s.Node.Variant(s.Variant)
	if v == nil {
		return ""
	}
	return p.Flow.Resolve(v.File)
}

// StageIndex returns the index of the named stage, or -1.
func (p *Plan) StageIndex(name string) int {
	for i := range p.Stages {
		if p.Stages[i].Name == name {
			return i
		}
	}
	return -1
}

// InputIndexes returns the stage indexes of stage i's inputs (unknown names are skipped; Validate
// reports them).
func (p *Plan) InputIndexes(i int) []int {
	var in []int
	for _, name := range p.Stages[i].Inputs {
		if j := p.StageIndex(name); j >= 0 {
			in = append(in, j)
		}
	}
	return in
}

// Consumers returns the indexes of the stages that read stage i's output, in plan order.
func (p *Plan) Consumers(i int) []int {
	var out []int
	for j := range p.Stages {
		for _, name := range p.Stages[j].Inputs {
			if name == p.Stages[i].Name {
				out = append(out, j)
				break
			}
		}
	}
	return out
}

// TopoOrder returns the stage indexes so that every stage comes after its inputs, or an error naming a
// stage on a cycle.
func (p *Plan) TopoOrder() ([]int, error) {
	const (
		unvisited = iota
		visiting
		done
	)
	state := make([]int, len(p.Stages))
	order := make([]int, 0, len(p.Stages))
	var visit func(i int, path []string) error
	visit = func(i int, path []string) error {
		switch state[i] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("stage %q: inputs form a cycle: %s -> %s", p.Stages[i].Name,
				strings.Join(path, " -> "), p.Stages[i].Name)
		}
		state[i] = visiting
		for _, j := range p.InputIndexes(i) {
			if err := visit(j, append(path, p.Stages[i].Name)); err != nil {
				return err
			}
		}
		state[i] = done
		order = append(order, i)
		return nil
	}
	for i := range p.Stages {
		if err := visit(i, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// SinkIndex returns the index of the (single) sink stage, or -1.
func (p *Plan) SinkIndex() int {
	for i := range p.Stages {
		if p.IsSink(i) {
			return i
		}
	}
	return -1
}

// BatchSizeOf returns the effective micro-batch size of stage i.
func (p *Plan) BatchSizeOf(i int) int {
	switch {
	case p.Stages[i].BatchSize > 0:
		return p.Stages[i].BatchSize
	case p.BatchSize > 0:
		return p.BatchSize
	}
	return DefaultBatchSize
}

// Port returns the base port (the default when the plan leaves it out).
func (p *Plan) Port() int {
	if p.BasePort > 0 {
		return p.BasePort
	}
	return DefaultBasePort
}

// Resolve turns a path from the plan into one usable by the rank: relative paths are relative to the
// JellyBean root (the ranks' working directory).
func Resolve(root, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(root, path)
}

// Variants maps each model stage's name to its variant (recorded with every result).
func (p *Plan) Variants() map[string]string {
	v := map[string]string{}
	for i, s := range p.Stages {
		if p.IsModel(i) {
			v[s.Name] = s.Variant
		}
	}
	return v
}

// SourcesOf returns the source stages that feed stage i, directly or through other stages, in plan
// order.
func (p *Plan) SourcesOf(i int) []int {
	seen := map[int]bool{}
	var walk func(int)
	walk = func(j int) {
		if seen[j] {
			return
		}
		seen[j] = true
		for _, k := range p.InputIndexes(j) {
			walk(k)
		}
	}
	for _, k := range p.InputIndexes(i) {
		walk(k)
	}
	var out []int
	for j := range p.Stages {
		if seen[j] && len(p.Stages[j].Inputs) == 0 {
			out = append(out, j)
		}
	}
	return out
}

// JoinStage returns the first stage with more than one input (a join), or -1.
func (p *Plan) JoinStage() int {
	for i := range p.Stages {
		if len(p.Stages[i].Inputs) > 1 {
			return i
		}
	}
	return -1
}
