package inputs

import (
	"os"

	"jellybean/plan"
	"jellybean/plan/optimizer"
)

// VariantsFile is the optional file of an inputs folder that maps stages and variants onto the runner's
// ops and ONNX files (see plan/optimizer/README.md).
const VariantsFile = "variants.toml"

type variantsTOML struct {
	Job        string `toml:"job"`
	Workload   string `toml:"workload"`
	Dataset    string `toml:"dataset"`
	BasePort   int    `toml:"base_port"`
	BatchSize  int    `toml:"batch_size"`
	SourceHost string `toml:"source_host"`
	SinkHost   string `toml:"sink_host"`
	Stages     map[string]struct {
		Op     string            `toml:"op"`
		Models map[string]string `toml:"models"`
	} `toml:"stage"`
	Devices map[string]string `toml:"devices"`
}

// ParseVariants reads variants.toml into plan options; unknown keys are errors.
func ParseVariants(name string, data []byte) (optimizer.PlanOptions, error) {
	var v variantsTOML
	if err := plan.DecodeStrictTOML(name, data, &v); err != nil {
		return optimizer.PlanOptions{}, err
	}
	o := optimizer.PlanOptions{Job: v.Job, Workload: v.Workload, Dataset: v.Dataset, BasePort: v.BasePort,
		BatchSize: v.BatchSize, SourceHost: v.SourceHost, SinkHost: v.SinkHost, Devices: v.Devices,
		Ops: map[string]string{}, Models: map[string]map[string]string{}}
	for stage, s := range v.Stages {
		if s.Op != "" {
			o.Ops[stage] = s.Op
		}
		o.Models[stage] = s.Models
	}
	return o, nil
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
