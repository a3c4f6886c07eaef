// Package workflowtest helps tests run a workflow with one model file swapped (missing, corrupt,
// another variant) without touching the workflow in the repository.
package workflowtest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/BurntSushi/toml"
)

// WithModel copies the workflow file src into dir with every relative file name made absolute (so the
// copy finds its models and vocabularies from anywhere), and node's variant (every variant when variant
// is "") using file instead. It returns the copy's path.
func WithModel(t testing.TB, src, dir, node, variant, file string) string {
	t.Helper()
	var doc map[string]any
	if _, err := toml.DecodeFile(src, &doc); err != nil {
		t.Fatal(err)
	}
	base, err := filepath.Abs(filepath.Dir(src))
	if err != nil {
		t.Fatal(err)
	}
	doc = absolutize(doc, base).(map[string]any)
	found := false
	for _, n := range tables(doc["node"]) {
		if n["name"] != node {
			continue
		}
		model, _ := n["model"].(map[string]any)
		for _, v := range tables(model["variant"]) {
			if variant == "" || v["name"] == variant {
				v["file"], found = file, true
			}
		}
	}
	if !found {
		t.Fatalf("workflow %s has no model node %q with variant %q", src, node, variant)
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(doc); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// absolutize turns strings naming existing files relative to base into absolute paths, everywhere in a
// decoded TOML document.
func absolutize(v any, base string) any {
	switch x := v.(type) {
	case string:
		if x != "" && !filepath.IsAbs(x) {
			if st, err := os.Stat(filepath.Join(base, x)); err == nil && st.Mode().IsRegular() {
				return filepath.Join(base, x)
			}
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = absolutize(e, base)
		}
		return x
	case []map[string]any:
		for i, e := range x {
			x[i] = absolutize(e, base).(map[string]any)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = absolutize(e, base)
		}
		return x
	}
	return v
}

// tables returns an array of tables, however TOML wrote it ([[x]] sections or an inline array).
func tables(v any) []map[string]any {
	switch x := v.(type) {
	case []map[string]any:
		return x
	case []any:
		var out []map[string]any
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}
