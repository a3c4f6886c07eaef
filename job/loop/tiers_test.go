package loop

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"jellybean/job/report"
	"jellybean/job/tiers/tierstest"
	"jellybean/plan"
)

// TestLoopAcrossTiers runs `jellybean loop --infra` over two emulated tiers (network namespaces, shaped
// links, one sshd each): profile through ssh, prices and tiers from infrastructure.toml, compressed
// messages, the plan's stages on tier addresses with sources and sink on the edge, and the run, eval
// and report as on localhost.
func TestLoopAcrossTiers(t *testing.T) {
	if testing.Short() {
		t.Skip("needs ONNX Runtime, espeak-ng, sox, root and network namespaces")
	}
	root, tmp := repoRoot(t), t.TempDir()
	tt := tierstest.Up(t, `subnet = "10.214.93.0/24"
ssh_port = 2293
[[tier]]
name = "edge"
hosts = 1
slots = 2
rate_mbit = 100
delay_ms = 20
price_per_hour = 0.1
[[tier]]
name = "cloud"
hosts = 1
slots = 3
rate_mbit = 1000
delay_ms = 2
price_per_hour = 0.5
`, filepath.Join(tmp, "tiers"))
	dir := tt.Dir
	bin := filepath.Join(tmp, "jellybean")
	jb := jellybean(t, root, tmp, tt.SSHEnv(t, bin))
	const items = 40
	data, runs := filepath.Join(tmp, "data"), filepath.Join(tmp, "runs")
	jb(true, "gen-data", "--out", data, "--split", "test", "--n", fmt.Sprint(items))
	jb(true, "loop", "-H", filepath.Join(dir, "hostfile"), "--infra", filepath.Join(dir, "infrastructure.toml"), "--data", data,
		"--runs", runs, "--run-id", "tiers", "--threshold", "85", "--profile-items", "8", "--profile-repeats", "3", "--profile-min-time", "0")

	lay := tt.Layout
	edge, cloud := lay.Hosts[0].Addr, lay.Hosts[1].Addr
	runDir := filepath.Join(runs, "tiers")
	pl, err := plan.Load(filepath.Join(runDir, "plan.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := pl.Bind(root); err != nil { // which stages run models
		t.Fatal(err)
	}
	if pl.Compress != "fastest" {
		t.Errorf("compress %q across tiers, want fastest", pl.Compress)
	}
	for i, st := range pl.Stages {
		for _, w := range st.Workers {
			if w.Host != edge && w.Host != cloud {
				t.Errorf("stage %s on %q: not a tier host", st.Name, w.Host)
			}
			if (pl.IsSource(i) || pl.IsSink(i)) && w.Host != edge {
				t.Errorf("stage %s on %s, want the edge host %s", st.Name, w.Host, edge)
			}
		}
	}
	// Prices from the description: 0.1 $/h per edge slot, 0.5 per cloud slot.
	want := 0.0
	for i, st := range pl.Stages {
		if pl.IsModel(i) {
			for _, w := range st.Workers {
				want += map[string]float64{edge: 0.1, cloud: 0.5}[w.Host]
			}
		}
	}
	if math.Abs(pl.Predicted.ComputeCost-want) > 1e-9 {
		t.Errorf("predicted compute cost %v, want %v from the workers' tier prices", pl.Predicted.ComputeCost, want)
	}
	r, err := report.Load(runDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.LoadProfile(filepath.Join(runDir, "loop", "profile")); err != nil {
		t.Fatal(err)
	}
	a := report.Analyse(r)
	if a.Completed != items || r.Eval == nil || math.Abs(r.Eval.Accuracy-pl.Predicted.Accuracy) > 1e-9 {
		t.Fatalf("completed %d of %d; eval %+v vs predicted accuracy %v", a.Completed, items, r.Eval, pl.Predicted.Accuracy)
	}
	if len(a.Edges) < 4 {
		t.Errorf("only %d edges compared with the profile", len(a.Edges))
	}
}
