package profile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jellybean/plan/workflow"
)

// parsedTextWorkflow is textWorkflow's workflow file, parsed only (no model is loaded: Go alone).
func parsedTextWorkflow(t *testing.T) *workflow.Workflow {
	t.Helper()
	path, _ := textWorkflow(t, t.TempDir())
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := workflow.Parse(filepath.Base(path), data)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// A plan's variants make one trace that times each model node in its chosen variant, on the inputs the
// chosen upstream variants make, and the nodes without a model; what does not name a plan is refused
// naming the node.
func TestChosenAssignment(t *testing.T) {
	w := parsedTextWorkflow(t)
	a, err := ChosenAssignment(w, map[string]string{"Embed": "big", "Count": "one", "Join": "one"})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(a.Variants); got != "map[Count:one Embed:big Join:one]" {
		t.Errorf("variants %s", got)
	}
	if got := fmt.Sprint(a.For); got != "[[Tokens default] [Embed big] [Count one] [Join one]]" {
		t.Errorf("timed %s: want every processing node once, in workflow order, models in their chosen variant", got)
	}
	for _, c := range []struct {
		variants map[string]string
		want     string
	}{
		{map[string]string{"Embed": "big", "Count": "one"}, `no variant chosen for model node "Join"`},
		{map[string]string{"Embed": "huge", "Count": "one", "Join": "one"}, `node "Embed" has no variant "huge" (variants: small, big)`},
		{map[string]string{"Embed": "big", "Count": "one", "Join": "one", "Tokens": "default"}, `"Tokens" is not a model node`},
	} {
		if _, err := ChosenAssignment(w, c.variants); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.variants, err, c.want)
		}
	}
}

func TestParseVariants(t *testing.T) {
	v, err := ParseVariants(" Detect=det1280, Recognise = rec-full")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(v); got != "map[Detect:det1280 Recognise:rec-full]" {
		t.Errorf("parsed %s", got)
	}
	if v, err := ParseVariants(""); v != nil || err != nil {
		t.Errorf("empty: %v, %v; want nil (every variant)", v, err)
	}
	for s, want := range map[string]string{
		"Detect":                   `"Detect" is not node=variant`,
		"Detect=a,Detect=b":        `node "Detect" named twice`,
		"Detect=det1280,=rec-full": `"=rec-full" is not node=variant`,
	} {
		if _, err := ParseVariants(s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", s, err, want)
		}
	}
}
