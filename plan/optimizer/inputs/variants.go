package inputs

import (
	"bytes"
	"os"

	"jellybean/plan"
	"jellybean/plan/optimizer"

	"github.com/BurntSushi/toml"
)

// VariantsFile is the optional file of an inputs folder that maps stages and variants onto the runner's
// ops and ONNX files (see plan/optimizer/README.md).
const VariantsFile = "variants.toml"

type variantsTOML struct {
	Job        string                  `toml:"job,omitempty"`
	Workflow   string                  `toml:"workflow,omitempty"`
	Dataset    string                  `toml:"dataset,omitempty"`
	BasePort   int                     `toml:"base_port,omitempty"`
	BatchSize  int                     `toml:"batch_size,omitempty"`
	Limit      int                     `toml:"limit,omitempty"`
	Compress   string                  `toml:"compress,omitempty"`
	Threads    int                     `toml:"threads,omitempty"`
	SourceHost string                  `toml:"source_host,omitempty"`
	SinkHost   string                  `toml:"sink_host,omitempty"`
	Stages     map[string]variantStage `toml:"stage"`
	Devices    map[string]string       `toml:"devices,omitempty"` // worker name → device
	Hosts      map[string]string       `toml:"hosts,omitempty"`   // worker name → hostfile host
}

type variantStage struct {
	Node string `toml:"node,omitempty"` // workflow node the optimizer stage runs (default: its name)
}

// ParseVariants reads variants.toml into plan options; unknown keys are errors.
func ParseVariants(name string, data []byte) (optimizer.PlanOptions, error) {
	var v variantsTOML
	if err := plan.DecodeStrictTOML(name, data, &v); err != nil {
		return optimizer.PlanOptions{}, err
	}
	o := optimizer.PlanOptions{Job: v.Job, Workflow: v.Workflow, Dataset: v.Dataset, BasePort: v.BasePort,
		BatchSize: v.BatchSize, Limit: v.Limit, Compress: v.Compress, Threads: v.Threads,
		SourceHost: v.SourceHost, SinkHost: v.SinkHost, Devices: v.Devices, Hosts: v.Hosts,
		Nodes: map[string]string{}}
	for stage, s := range v.Stages {
		if s.Node != "" {
			o.Nodes[stage] = s.Node
		}
	}
	return o, nil
}

// EncodeVariants renders plan options as variants.toml, the inverse of ParseVariants: an inputs folder
// that carries it turns into the same plan whoever runs `jellybean optimize` on it.
func EncodeVariants(o optimizer.PlanOptions) ([]byte, error) {
	v := variantsTOML{Job: o.Job, Workflow: o.Workflow, Dataset: o.Dataset, BasePort: o.BasePort,
		BatchSize: o.BatchSize, Limit: o.Limit, Compress: o.Compress, Threads: o.Threads,
		SourceHost: o.SourceHost, SinkHost: o.SinkHost, Devices: o.Devices, Hosts: o.Hosts,
		Stages: map[string]variantStage{}}
	for stage, node := range o.Nodes {
		v.Stages[stage] = variantStage{Node: node}
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ReadVariants reads dir/variants.toml if present (zero options otherwise).
func ReadVariants(dir string) (optimizer.PlanOptions, error) {
	path := dir + "/" + VariantsFile
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return optimizer.PlanOptions{}, nil
	}
	if err != nil {
		return optimizer.PlanOptions{}, err
	}
	return ParseVariants(path, data)
}
