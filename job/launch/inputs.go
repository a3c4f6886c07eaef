package launch

import (
	"fmt"
	"path/filepath"

	"jellybean/plan"
	"jellybean/workloads/vqa"
)

// runInputs lists, for a run of plan p, the files that define its results (role → path, as the
// fingerprint names them) and the ids of the items the job processes (the dataset's first p.Limit items
// when a limit is set). The dataset's manifest, every file it references and every stage's model are
// inputs; the plan itself is fingerprinted separately, as parsed.
//
// This is the one place where the launcher knows the workload's dataset format.
func runInputs(p *plan.Plan, root string) (files map[string]string, items []int64, err error) {
	files = map[string]string{}
	manifestPath := plan.Resolve(root, p.Dataset)
	m, err := vqa.LoadManifest(manifestPath)
	if err != nil {
		return nil, nil, fmt.Errorf("dataset: %w", err)
	}
	files["dataset"] = manifestPath
	for _, it := range m.Items {
		if p.Limit > 0 && len(items) == p.Limit {
			break
		}
		items = append(items, it.ID)
		// Keyed by path relative to the manifest, so that a change names the file a user recognises.
		files["dataset file "+filepath.ToSlash(it.Image)] = m.ImagePath(it)
		files["dataset file "+filepath.ToSlash(it.Audio)] = m.AudioPath(it)
	}
	for _, s := range p.Stages {
		if s.Model != "" {
			files["model "+s.Name] = plan.Resolve(root, s.Model)
		}
	}
	return files, items, nil
}
