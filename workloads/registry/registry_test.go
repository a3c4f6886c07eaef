package registry

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRegisterAndLookup(t *testing.T) {
	Register(&Workload{Name: "test-a", Workflow: "a/workflow.toml"})
	w, err := Lookup("test-a")
	if err != nil || w.Workflow != "a/workflow.toml" {
		t.Fatalf("Lookup = %+v, %v", w, err)
	}
	if _, err := Lookup("nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) || !strings.Contains(err.Error(), "test-a") {
		t.Errorf("unknown workload: %v (want its name and the registered ones)", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a name twice did not panic")
		}
	}()
	Register(&Workload{Name: "test-a"})
}

// WriteEval refuses a document without the common keys, and ReadMetrics reads what it wrote.
func TestWriteAndReadEval(t *testing.T) {
	dir := t.TempDir()
	m := Metrics{Items: 3, AccuracyMetric: "hits", Accuracy: 66.67, Values: map[string]float64{"hits": 66.67, "misses": 33.33}}
	type doc struct {
		Metrics
		Run string `json:"run"`
	}
	if err := WriteEval(dir, &Evaluation{Metrics: m, Doc: map[string]any{"run": dir}}); err == nil || !strings.Contains(err.Error(), "common keys") {
		t.Errorf("document without the common keys written: %v", err)
	}
	if err := WriteEval(dir, &Evaluation{Metrics: m, Doc: doc{m, dir}}); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMetrics(filepath.Join(dir, EvalFile))
	if err != nil || got.Accuracy != 66.67 || got.AccuracyMetric != "hits" || got.Values["misses"] != 33.33 || got.Items != 3 {
		t.Errorf("ReadMetrics = %+v, %v", got, err)
	}
	old := filepath.Join(dir, "old.json")
	if err := os.WriteFile(old, []byte(`{"items":3,"vqa_accuracy":50}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMetrics(old); err == nil || !strings.Contains(err.Error(), "accuracy_metric") {
		t.Errorf("eval.json without accuracy_metric: %v", err)
	}
}
