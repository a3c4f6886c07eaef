package optimizer_test

import (
	"math"
	"strings"
	"testing"

	"jellybean/plan/optimizer"
)

func TestPour(t *testing.T) {
	tests := []struct {
		demand float64
		caps   []float64
		want   []float64
	}{
		{10, []float64{4, 4, 4}, []float64{4, 4, 2}},
		{10, []float64{20}, []float64{10}},
		{8, []float64{4, 4, 4}, []float64{4, 4, 0}},
		{40, []float64{7.402781496073257, 9.970522979687468, 27.25175877855001}, []float64{7.402781496073257, 9.970522979687468, 22.626695524239274}},
	}
	for _, tc := range tests {
		got := optimizer.Pour(tc.demand, tc.caps)
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("Pour(%v, %v) = %v, want %v", tc.demand, tc.caps, got, tc.want)
				break
			}
		}
	}
}

// readmePlan is the original's README plan on the medium example (the worked example of doc.go, §5.5).
func readmePlan(t *testing.T, p *optimizer.Problem) *optimizer.Assignment {
	idx := func(name string) int {
		for w := range p.Workers {
			if p.Workers[w].Name == "workflow-compute-"+name {
				return w
			}
		}
		t.Fatalf("no worker %s", name)
		return -1
	}
	a := &optimizer.Assignment{Models: make(optimizer.ModelAssignment, len(p.Nodes)), Workers: make([][]int, len(p.Nodes))}
	for v := range p.Nodes {
		a.Models[v] = "default"
	}
	eif, sr, vqa := p.NodeIndex("ExtractImageFeature"), p.NodeIndex("SpeechRecognition"), p.NodeIndex("VQA")
	a.Models[eif], a.Models[sr] = "resnet18", "wav2vec2-large-960h-lv60-self"
	a.Workers[eif] = []int{idx("cpu-1"), idx("cpu-2"), idx("cpu-5")}
	a.Workers[sr] = []int{idx("gpu-1"), idx("cpu-3")}
	a.Workers[vqa] = []int{idx("cpu-6")}
	return a
}

func TestWorkedArithmetic(t *testing.T) {
	p := loadMedium(t, true).Problem
	a := readmePlan(t, p)
	order := []int{p.NodeIndex("ExtractImageFeature"), p.NodeIndex("SpeechRecognition"), p.NodeIndex("VQA")}
	if got := p.ComputeCost(a, order); got != 6.242 {
		t.Errorf("compute %v, want 6.242", got)
	}
	shares := p.Shares(a)
	sr := p.NodeIndex("SpeechRecognition")
	if shares[sr][0] != 37.18199494614888 || shares[sr][1] != 2.8180050538511168 {
		t.Errorf("SR shares %v", shares[sr])
	}
	terms := p.CommTerms(a, shares)
	want := []float64{1.2391620940834462, 0.005093014563228224, 0.006859586327853357, 0.01556686360171627, 9.674852556098959e-05}
	if len(terms) != len(want) {
		t.Fatalf("terms %+v", terms)
	}
	for i, term := range terms {
		if !relEq(term.Cost, want[i]) {
			t.Errorf("term %d (%d→%d): %v, want %v", i, term.From, term.To, term.Cost, want[i])
		}
	}
	comm := p.CommunicationCost(a, shares, optimizer.BackwardReject)
	if !relEq(comm, 1.266778307101805) {
		t.Errorf("comm %v", comm)
	}
	if total := 6.242 + comm; !relEq(total-6.242, 1.2667783071018048) {
		t.Errorf("printed comm %v", total-6.242)
	}
	// Backward traffic: VQA on a tier-0 worker fed from gpu-1 (tier 1) is rejected, or free in the other mode.
	b := *a
	b.Workers = append([][]int(nil), a.Workers...)
	b.Workers[p.NodeIndex("VQA")] = []int{3} // cpu-4, tier 0
	sh := p.Shares(&b)
	if c := p.CommunicationCost(&b, sh, optimizer.BackwardReject); !math.IsInf(c, 1) {
		t.Errorf("backward not rejected: %v", c)
	}
	if c := p.CommunicationCost(&b, sh, optimizer.BackwardFree); math.IsInf(c, 1) || c <= 0 {
		t.Errorf("backward free: %v", c)
	}
}

func TestBeamSearchCandidates(t *testing.T) {
	in := loadMedium(t, true)
	combos, err := in.Problem.BeamSearch(56, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	eif := in.Problem.NodeIndex("ExtractImageFeature")
	sr := in.Problem.NodeIndex("SpeechRecognition")
	want := []string{"resnet18", "resnet34", "resnet34", "resnet50", "resnet50", "resnet50", "resnet101", "resnet101", "resnet101", "resnet101"}
	if len(combos) != len(want) {
		t.Fatalf("%d candidates", len(combos))
	}
	for i, c := range combos {
		if c.Models[eif] != want[i] || c.Models[sr] != "wav2vec2-large-960h-lv60-self" {
			t.Errorf("candidate %d: %s/%s, want %s", i, c.Models[eif], c.Models[sr], want[i])
		}
	}
	if combos[0].Accuracy != 56.59 || combos[9].Accuracy != 58.19 {
		t.Errorf("accuracies %v %v", combos[0].Accuracy, combos[9].Accuracy)
	}
	// An unreachable target is explained: stage, requirement, best value.
	_, err = in.Problem.BeamSearch(99, 10, 0)
	if err == nil || !strings.Contains(err.Error(), "VQA") || !strings.Contains(err.Error(), "99") || !strings.Contains(err.Error(), "58.33") {
		t.Errorf("infeasible accuracy: %v", err)
	}
}
