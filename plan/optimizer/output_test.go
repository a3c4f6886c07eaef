package optimizer_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"jellybean/plan"
	"jellybean/plan/optimizer"
)

// The plan written for the medium example is accepted by the runner's validation, carries the chosen
// variants, routing weights that sum to each stage's rate, and devices from the worker names.
func TestPlanValidates(t *testing.T) {
	in := loadMedium(t, true)
	p := in.Problem
	s, err := p.Exact(optimizer.ExactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := optimizer.ToPlan(p, s, optimizer.PlanOptions{Devices: map[string]string{"workflow-compute-cpu-4": "cpu"}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := pl.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := plan.Parse("out.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Validate(back, "out.toml", plan.Options{}); err != nil {
		t.Fatalf("runner rejects the plan: %v\n%s", err, data)
	}
	sr := back.StageByName("SpeechRecognition")
	if sr == nil || sr.Variant != "wav2vec2-large-960h-lv60-self" || len(sr.Workers) != 2 {
		t.Fatalf("SR stage %+v", sr)
	}
	if sr.Workers[1].Host != "workflow-compute-gpu-1" || sr.Workers[1].Device != "cuda:0" || sr.Workers[0].Device != "cpu" {
		t.Errorf("SR workers %+v", sr.Workers)
	}
	if w := sr.Workers[0].Weight + sr.Workers[1].Weight; w < 40-1e-9 || w > 40+1e-9 {
		t.Errorf("SR weights sum to %v", w)
	}
	if back.Predicted.TotalCost != s.Total || back.Predicted.Solver != "exact" {
		t.Errorf("predicted %+v", back.Predicted)
	}
	if back.StageByName("Sink") == nil {
		t.Error("no sink stage")
	}
}

// The CLI end to end: build the binary, run it on the medium example, check the JSON and the plan file.
func TestOptimizeCommand(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "jellybean")
	build := exec.Command("go", "build", "-o", bin, "jellybean/job")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	planPath := filepath.Join(dir, "plan.toml")
	cmd := exec.Command(bin, "optimize", "--inputs", "testdata/medium", "--config", "testdata/medium/config.yaml",
		"--solver", "heuristic", "--json", "-o", planPath)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("optimize: %v", err)
	}
	var r map[string]any
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if r["compute_cost"] != 6.242 || r["communication_cost"] != 1.2667783071018048 || r["end_to_end_accuracy"] != 56.59 {
		t.Errorf("report %v", r)
	}
	if _, err := plan.Load(planPath); err != nil {
		t.Errorf("plan: %v", err)
	}
	// An unreachable accuracy target is explained, with a non-zero exit.
	cmd = exec.Command(bin, "optimize", "--inputs", "testdata/medium", "--threshold", "70")
	msg, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "70") || !strings.Contains(string(msg), "58.33") {
		t.Errorf("infeasible target: err %v, output %s", err, msg)
	}
	// A bad inputs folder names the file.
	bad := t.TempDir()
	for _, f := range []string{"workers_specs.csv"} {
		if err := os.WriteFile(filepath.Join(bad, f), []byte("a,zz\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	msg, err = exec.Command(bin, "optimize", "--inputs", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "workers_specs.csv:1") {
		t.Errorf("bad input: err %v, output %s", err, msg)
	}
}

// A stage whose required rate exceeds the capacity of every worker able to run it is named, with the
// best achievable rate.
func TestInfeasibleRateExplained(t *testing.T) {
	p := loadMedium(t, true).Problem
	for v := range p.Rate {
		p.Rate[v] *= 100
	}
	_, err := p.Exact(optimizer.ExactOptions{})
	if err == nil || !strings.Contains(err.Error(), "stage") || !strings.Contains(err.Error(), "req/s") {
		t.Fatalf("got %v", err)
	}
	t.Log(err)
	if _, err := p.Heuristic(optimizer.DefaultConfig()); err == nil || !strings.Contains(err.Error(), "req/s") {
		t.Fatalf("heuristic: %v", err)
	}
}
