// Package plan defines the TOML plan that the optimizer writes and every rank of a job reads: which
// stages exist, which model variant each runs, and on which hosts/devices with which routing weights.
//
// This file holds the format (types, strict decoding, encoding). Validation against a hostfile and the
// file system lives beside it; the optimizer that produces plans lives in plan/optimizer.
package plan

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"jellybean/plan/workflow"
)

// Plan is one runnable JellyBean plan. Relative paths in it (dataset, models) are resolved against the
// JellyBean root directory, which is the working directory of every rank.
type Plan struct {
	Job       string  `toml:"job"`        // human-readable name of the job
	Workflow  string  `toml:"workflow"`   // workflow file (the graph of nodes this plan places)
	Dataset   string  `toml:"dataset"`    // dataset manifest the sources read
	Limit     int     `toml:"limit"`      // process at most this many items (0 = all)
	BasePort  int     `toml:"base_port"`  // rank listens on base_port + its slot index on its host
	BatchSize int     `toml:"batch_size"` // default micro-batch size of model stages
	InputRate float64 `toml:"input_rate"` // items/s into the job, shared by each source stage's workers; 0 = as fast as possible
	Compress  string  `toml:"compress"`   // off | fastest | default | auto

	Predicted Predicted `toml:"predicted"` // what the optimizer expects, for predicted-vs-measured reports
	Stages    []Stage   `toml:"stage"`

	// Flow is the workflow file, loaded by Bind (Validate binds too).
	Flow *workflow.Workflow `toml:"-"`
}

// Predicted carries the optimizer's figures for the plan; all optional.
type Predicted struct {
	ThroughputItemsPerSecond float64 `toml:"throughput_items_per_second" json:"throughput_items_per_second,omitempty"`
	ComputeCost              float64 `toml:"compute_cost" json:"compute_cost,omitempty"`
	CommunicationCost        float64 `toml:"communication_cost" json:"communication_cost,omitempty"`
	TotalCost                float64 `toml:"total_cost" json:"total_cost,omitempty"`
	Accuracy                 float64 `toml:"accuracy" json:"accuracy,omitempty"`
	OptimalityGap            float64 `toml:"optimality_gap" json:"optimality_gap,omitempty"`
	Solver                   string  `toml:"solver" json:"solver,omitempty"`

	// Stages holds each stage's own figures ([predicted.stage.<Name>]): a join or a ratio gives a
	// stage a rate other than the job's, and a report compares each stage with its own.
	Stages map[string]StagePrediction `toml:"stage,omitempty" json:"stage,omitempty"`
}

// StagePrediction is what the optimizer expects of one stage.
type StagePrediction struct {
	ThroughputItemsPerSecond float64 `toml:"throughput_items_per_second" json:"throughput_items_per_second"`                 // the rate the stage must carry
	CapacityItemsPerSecond   float64 `toml:"capacity_items_per_second,omitempty" json:"capacity_items_per_second,omitempty"` // its workers' summed capacity (0: unknown, e.g. sources)
}

// Stage places one node of the workflow on ranks.
type Stage struct {
	Name      string   `toml:"name"`       // the workflow node it runs
	Variant   string   `toml:"variant"`    // model variant (nodes with a model)
	BatchSize int      `toml:"batch_size"` // overrides Plan.BatchSize when > 0
	Workers   []Worker `toml:"worker"`

	// Filled by Bind from the workflow: the node and the names of the stages it reads.
	Node   *workflow.Node `toml:"-"`
	Inputs []string       `toml:"-"`
}

// Worker places one rank of a stage on a host.
type Worker struct {
	Host     string  `toml:"host"`     // host name as written in the hostfile
	Device   string  `toml:"device"`   // "cpu" (default) or "cuda:N"
	Weight   float64 `toml:"weight"`   // routing weight: share of the stage's items (e.g. req/s); > 0
	Threads  int     `toml:"threads"`  // intra-op threads; 0 = host cores / ranks on the host
	Capacity float64 `toml:"capacity"` // optional: predicted items/s this worker can sustain
}

// Parse decodes a plan from TOML. Unknown keys are errors: a typo must not silently become a default.
// name is used in error messages (usually the file path).
func Parse(name string, data []byte) (*Plan, error) {
	var p Plan
	md, err := toml.Decode(string(data), &p)
	if err != nil {
		var perr toml.ParseError
		if ok := asParseError(err, &perr); ok {
			return nil, fmt.Errorf("%s:%d: %s", name, perr.Position.Line, perr.Message)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		sort.Strings(keys)
		return nil, fmt.Errorf("%s: unknown key(s): %s", name, strings.Join(keys, ", "))
	}
	return &p, nil
}

func asParseError(err error, out *toml.ParseError) bool {
	pe, ok := err.(toml.ParseError)
	if ok {
		*out = pe
	}
	return ok
}

// Load reads and parses a plan file.
func Load(path string) (*Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading plan: %w", err)
	}
	return Parse(path, data)
}

// Encode renders the plan as TOML.
func (p *Plan) Encode() ([]byte, error) {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(p); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// StageByName returns the stage with the given name, or nil.
func (p *Plan) StageByName(name string) *Stage {
	for i := range p.Stages {
		if p.Stages[i].Name == name {
			return &p.Stages[i]
		}
	}
	return nil
}
