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
	"jellybean/plan/optimizer/inputs"
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
	// Devices come from the infrastructure description (here: given), never from a worker's name.
	pl, err := optimizer.ToPlan(p, s, optimizer.PlanOptions{Dataset: "d/manifest.jsonl",
		Devices: map[string]string{"workflow-compute-cpu-4": "cpu", "workflow-compute-gpu-1": "cuda:0"}})
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
	// The original's stage names are not a workflow of ours: the placement alone is validated.
	if err := plan.Validate(back, "out.toml", plan.Options{NoWorkflow: true}); err != nil {
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

// A join with a ratio: every stage's own predicted rate and its workers' summed capacity reach the plan,
// and worker types expanded to host_0 … host_k map back onto hostfile hosts.
func TestPlanPerStagePredictionsAndHosts(t *testing.T) {
	const inst = `sink = "Join"
threshold = 0.0
[[source]]
name = "A"
rate = 10.0
[[source]]
name = "B"
rate = 10.0
[[stage]]
name = "Fast"
inputs = ["A"]
[[stage]]
name = "Slow"
inputs = ["B"]
[[stage]]
name = "Join"
inputs = ["Fast", "Slow"]
ratio = { Fast = 0.5, Slow = 0.5 }
[[worker]]
name = "box"
price = 1.0
count = 4
[[latency]]
stage = "Fast"
worker = "box"
ms = 10.0
[[latency]]
stage = "Slow"
worker = "box"
ms = 150.0
[[latency]]
stage = "Join"
worker = "box"
ms = 20.0
[[message]]
from = "A"
to = "Fast"
kb = 1.0
[[message]]
from = "B"
to = "Slow"
kb = 1.0
[[message]]
from = "Fast"
to = "Join"
kb = 1.0
[[message]]
from = "Slow"
to = "Join"
kb = 1.0
`
	in, err := inputs.ParseNative("inst.toml", []byte(inst), optimizer.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	p := in.Problem
	s, err := p.Exact(optimizer.ExactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hosts := map[string]string{"box_0": "node", "box_1": "node", "box_2": "node", "box_3": "node"}
	pl, err := optimizer.ToPlan(p, s, optimizer.PlanOptions{Hosts: hosts, SourceHost: "node", SinkHost: "node", Threads: 1})
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
	cases := []struct {
		stage          string
		rate, capacity float64
		workers        int
	}{
		{"A", 10, 0, 1},
		{"B", 10, 0, 1},
		{"Fast", 10, 100, 1},
		{"Slow", 10, 1000. / 150 * 2, 2}, // 10 items/s need two workers of 6.67
		{"Join", 5, 50, 1},               // ratio 0.5 on inputs at 10/s: the join carries 5/s, not the job's 10
		{"Sink", 5, 0, 1},
	}
	for _, c := range cases {
		got, ok := back.Predicted.Stages[c.stage]
		st := back.StageByName(c.stage)
		if !ok || st == nil {
			t.Errorf("%s: no per-stage prediction or stage in\n%s", c.stage, data)
			continue
		}
		if d := got.ThroughputItemsPerSecond - c.rate; d > 1e-9 || d < -1e-9 {
			t.Errorf("%s: predicted %v items/s, want %v", c.stage, got.ThroughputItemsPerSecond, c.rate)
		}
		if d := got.CapacityItemsPerSecond - c.capacity; d > 1e-6 || d < -1e-6 {
			t.Errorf("%s: predicted capacity %v, want %v", c.stage, got.CapacityItemsPerSecond, c.capacity)
		}
		if len(st.Workers) != c.workers {
			t.Errorf("%s: %d workers, want %d", c.stage, len(st.Workers), c.workers)
		}
		for _, w := range st.Workers {
			if w.Host != "node" {
				t.Errorf("%s: worker on host %q, want the hostfile host \"node\"", c.stage, w.Host)
			}
			if want := map[bool]int{true: 1, false: 0}[st.Variant != ""]; w.Threads != want {
				t.Errorf("%s: threads %d, want %d", c.stage, w.Threads, want)
			}
		}
	}
	if back.InputRate != 10 {
		t.Errorf("input_rate %v, want 10", back.InputRate)
	}
}
