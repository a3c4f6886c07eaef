package optimizer_test

import (
	"math"
	"testing"

	"jellybean/plan/optimizer"
	"jellybean/plan/optimizer/inputs"
)

func loadMedium(t testing.TB, withConfig bool) *inputs.Instance {
	t.Helper()
	cfg := ""
	if withConfig {
		cfg = "testdata/medium/config.yaml"
	}
	in, err := inputs.ReadDir("testdata/medium", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func relEq(a, b float64) bool { return a == b || math.Abs(a-b) <= 1e-12*math.Abs(b) }

func names(p *optimizer.Problem, ws []int) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = p.Workers[w].Name
	}
	return out
}

func TestHeuristicReproducesOriginal(t *testing.T) {
	in := loadMedium(t, true)
	p := in.Problem
	s, err := p.Heuristic(in.Config)
	if err != nil {
		t.Fatal(err)
	}
	if !relEq(s.Compute, 6.242) || !relEq(s.PrintedComm(), 1.2667783071018048) || s.Accuracy != 56.59 {
		t.Errorf("compute %v comm %v acc %v", s.Compute, s.PrintedComm(), s.Accuracy)
	}
	want := map[string][]string{
		"ExtractImageFeature": {"workflow-compute-cpu-1", "workflow-compute-cpu-2", "workflow-compute-cpu-5"},
		"SpeechRecognition":   {"workflow-compute-gpu-1", "workflow-compute-cpu-3"},
		"VQA":                 {"workflow-compute-cpu-6"},
	}
	models := map[string]string{"ExtractImageFeature": "resnet18", "SpeechRecognition": "wav2vec2-large-960h-lv60-self", "VQA": "default"}
	for node, ws := range want {
		v := p.NodeIndex(node)
		if got := names(p, s.Workers[v]); !equalStrings(got, ws) {
			t.Errorf("%s workers %v, want %v", node, got, ws)
		}
		if s.Models[v] != models[node] {
			t.Errorf("%s model %s, want %s", node, s.Models[v], models[node])
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestExactMedium(t *testing.T) {
	in := loadMedium(t, true)
	p := in.Problem
	h, err := p.Heuristic(in.Config)
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Exact(optimizer.ExactOptions{Incumbent: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v nodes %d", s, s.SearchedNodes)
	for v := range p.Nodes {
		t.Logf("%s %s %v", p.Nodes[v], s.Models[v], names(p, s.Workers[v]))
	}
	if !relEq(s.Total, 7.485018393756207) || s.Gap() != 0 {
		t.Errorf("total %v gap %v", s.Total, s.Gap())
	}
}

func TestBruteForceMedium(t *testing.T) {
	p := loadMedium(t, true).Problem
	for _, any := range []bool{false, true} {
		s, err := p.BruteForce(any)
		if err != nil {
			t.Fatal(err)
		}
		if !relEq(s.Total, 7.485018393756207) || !relEq(s.PrintedComm(), 1.2430183937562074) {
			t.Errorf("anyPartial=%v: total %v comm %v", any, s.Total, s.PrintedComm())
		}
		sr := p.NodeIndex("SpeechRecognition")
		if got := names(p, s.Workers[sr]); !equalStrings(got, []string{"workflow-compute-cpu-4", "workflow-compute-gpu-1"}) {
			t.Errorf("anyPartial=%v: SR %v", any, got)
		}
	}
}
