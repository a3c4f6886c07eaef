// Package hooks registers the spoken-VQA workload with the tools (workloads/registry): its workflow file,
// its dataset generator, its evaluator and its accuracy profiler. workloads/all imports it.
package hooks

import (
	"fmt"
	"path/filepath"
	"strings"

	"jellybean/job/onnx"
	"jellybean/plan/workflow"
	"jellybean/workloads/registry"
	"jellybean/workloads/vqa"
	"jellybean/workloads/vqa/dataset"
	"jellybean/workloads/vqa/evaluate"
)

// Name is the workload's name: the name = "..." of workflow.toml.
const Name = "vqa"

func init() {
	registry.Register(&registry.Workload{
		Name:            Name,
		Workflow:        "workloads/vqa/workflow.toml",
		DataDir:         "workloads/vqa/data",
		Splits:          dataset.Splits,
		GenData:         genData,
		MaxItems:        dataset.MaxItems,
		Eval:            eval,
		ProfileAccuracy: profileAccuracy,
	})
}

func genData(o registry.GenOptions) error {
	if _, ok := dataset.DefaultSize[o.Split]; !ok {
		return fmt.Errorf("split %q: want one of %v", o.Split, dataset.Splits)
	}
	if o.N == 0 {
		o.N = dataset.DefaultSize[o.Split]
	}
	spec := dataset.Spec{Out: o.Out, Split: o.Split, N: o.N, Seed: o.Seed}
	if !o.Force && dataset.Complete(spec) {
		fmt.Fprintf(o.Log, "gen-data: %s is complete (%d items, seed %d); nothing to do\n", spec.ManifestPath(), o.N, o.Seed)
		return nil
	}
	if err := dataset.Generate(spec, o.Log); err != nil {
		return err
	}
	fmt.Fprintf(o.Log, "gen-data: wrote %s\n", spec.ManifestPath())
	return nil
}

func eval(root, runDir string) (*registry.Evaluation, error) {
	rep, err := evaluate.EvalRun(root, runDir)
	if err != nil {
		return nil, err
	}
	return &registry.Evaluation{
		Metrics: registry.Metrics{Items: rep.Items, AccuracyMetric: rep.AccuracyMetric, Accuracy: rep.Accuracy, Values: rep.Metrics},
		Summary: fmt.Sprintf("%d items, VQA accuracy %.2f%%, ASR WER %.2f%%, CER %.2f%% (missing %d)",
			rep.Items, rep.VQAAccuracy, rep.ASRWER, rep.ASRCER, rep.Missing),
		Doc: rep,
	}, nil
}

// profileAccuracy measures every (image, speech) combination with evaluate.RunProfile, on the models
// that the workflow's variants name, and reports each combination by the workflow's model nodes.
func profileAccuracy(o registry.AccuracyOptions) (*registry.Accuracy, error) {
	w, err := workflow.Load(o.Workflow)
	if err != nil {
		return nil, err
	}
	modelsDir, nodeOf, err := modelNodes(w)
	if err != nil {
		return nil, err
	}
	if _, err := onnx.Init(); err != nil {
		return nil, err
	}
	p, err := evaluate.RunProfile(evaluate.ProfileOptions{ModelsDir: modelsDir, Manifest: o.Manifest, Threads: o.Threads, Log: o.Log})
	if err != nil {
		return nil, err
	}
	if o.Out != "" {
		if err := evaluate.WriteProfile(o.Out, p, strings.TrimSpace(fmt.Sprintf("%d items %s", p.Items, o.What))); err != nil {
			return nil, err
		}
	}
	return Combos(p, nodeOf, w), nil
}

// Combos turns a VQA accuracy profile into the registry's combinations: the image variant runs the image
// node and the VQA head trained on its features, the speech variant the recognition node. Combinations
// with a variant the workflow does not offer (models.json may list more) are left out.
func Combos(p *evaluate.Profile, nodeOf map[string]string, w *workflow.Workflow) *registry.Accuracy {
	acc := &registry.Accuracy{Workload: Name, Metric: evaluate.AccuracyMetric, Items: p.Items}
	for _, c := range p.Combinations {
		v := map[string]string{nodeOf[vqa.KindImage]: c.Image, nodeOf[vqa.KindASR]: c.Speech, nodeOf[vqa.KindVQA]: c.Image}
		offered := true
		for node, variant := range v {
			if n := w.Node(node); n == nil || n.Variant(variant) == nil {
				offered = false
			}
		}
		if offered {
			acc.Combos = append(acc.Combos, registry.Combo{Accuracy: c.VQAAccuracy, Variants: v})
		}
	}
	return acc
}

// modelNodes finds, for each model kind of models.json, the workflow node whose variants are those
// files, so that a renamed node or a moved models folder stays consistent with the runner.
func modelNodes(w *workflow.Workflow) (modelsDir string, nodeOf map[string]string, err error) {
	nodeOf = map[string]string{}
	for _, i := range w.ModelNodes() {
		n := &w.Nodes[i]
		dir := filepath.Dir(w.Resolve(n.Model.Variants[0].File))
		if modelsDir == "" {
			modelsDir = dir
		} else if dir != modelsDir {
			return "", nil, fmt.Errorf("%s: node %q: models in %s, the others in %s (one models folder with models.json)", w.Path, n.Name, dir, modelsDir)
		}
	}
	models, err := vqa.LoadModels(modelsDir)
	if err != nil {
		return "", nil, err
	}
	for _, i := range w.ModelNodes() {
		n := &w.Nodes[i]
		for _, v := range n.Model.Variants {
			for _, m := range models {
				if filepath.Join(modelsDir, m.File) == filepath.Clean(w.Resolve(v.File)) {
					if prev, ok := nodeOf[m.Kind]; ok && prev != n.Name {
						return "", nil, fmt.Errorf("%s: %s models run in nodes %q and %q", w.Path, m.Kind, prev, n.Name)
					}
					nodeOf[m.Kind] = n.Name
				}
			}
		}
	}
	for _, k := range []string{vqa.KindImage, vqa.KindASR, vqa.KindVQA} {
		if nodeOf[k] == "" {
			return "", nil, fmt.Errorf("%s: no model node runs the %s models of %s/models.json", w.Path, k, modelsDir)
		}
	}
	return modelsDir, nodeOf, nil
}
