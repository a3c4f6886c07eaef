package launch

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"jellybean/job/flow"
	"jellybean/plan"
	"jellybean/plan/workflow"
)

// runInputs lists, for a run of plan p, the files that define its results (role → path, as the
// fingerprint names them) and the ids of the items the job processes (the dataset's first p.Limit items
// when a limit is set): the dataset's manifest and every file its lines name, the workflow file, the
// model file of each stage's variant, and every file a step's parameters name (vocabularies, charsets,
// labels). The plan itself is fingerprinted separately, as parsed.
func runInputs(p *plan.Plan, root string) (files map[string]string, items []int64, err error) {
	if p.Flow == nil {
		if err := p.Bind(root); err != nil {
			return nil, nil, err
		}
	}
	files = map[string]string{}
	manifestPath := plan.Resolve(root, p.Dataset)
	m, err := flow.LoadManifest(manifestPath)
	if err != nil {
		return nil, nil, fmt.Errorf("dataset: %w", err)
	}
	files["dataset"] = manifestPath
	for _, id := range m.IDs {
		if p.Limit > 0 && len(items) == p.Limit {
			break
		}
		items = append(items, id)
		rec, _ := m.Record(id)
		for field, raw := range rec.Fields {
			var name string
			if json.Unmarshal(raw, &name) != nil || name == "" {
				continue
			}
			path, _ := rec.Path(field)
			if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
				// Keyed by the name in the manifest, so that a change names the file a user recognises.
				files["dataset file "+filepath.ToSlash(name)] = path
			}
		}
	}
	files["workflow"] = p.Flow.Path
	for i, s := range p.Stages {
		if f := p.ModelFile(i); f != "" {
			files["model "+s.Name] = f
		}
	}
	for _, n := range p.Flow.Nodes {
		for _, st := range append(append([]workflow.Step(nil), n.Steps...), n.Post...) {
			params := st.Params
			keys := make([]string, 0, len(params))
			for k := range params {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				v, ok := params[k].(string)
				if !ok || v == "" {
					continue
				}
				path := p.Flow.Resolve(v)
				if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
					files["file "+n.Name+" "+k] = path
				}
			}
		}
	}
	return files, items, nil
}
