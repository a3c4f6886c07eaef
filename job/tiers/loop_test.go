package tiers_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"jellybean/job/report"
	"jellybean/job/tiers/tierstest"
)

// TestLoopAcrossTiers closes the loop on emulated tiers with the real binary: profile every host through
// its sshd, run the default VQA job spread over edge and cloud namespaces (zstd "fastest"), evaluate it,
// and render the report; then checks that the bytes charged to each edge match the profiled message
// sizes within 10 % (the optimizer's communication model) and that compression shows on the wire.
func TestLoopAcrossTiers(t *testing.T) {
	if testing.Short() {
		t.Skip("needs root, network namespaces, sshd, ONNX Runtime, espeak-ng and sox")
	}
	wd, _ := os.Getwd()
	root := filepath.Clean(filepath.Join(wd, "..", ".."))
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "jellybean")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var env []string
	jb := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir, cmd.Env = root, append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("jellybean %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./job")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./job: %v\n%s", err, out)
	}
	const items = 40
	jb("gen-data", "--out", filepath.Join(tmp, "data"), "--split", "test", "--n", fmt.Sprint(items))
	dataset := filepath.Join(tmp, "data", "test", "manifest.jsonl")

	tt := tierstest.Up(t, `subnet = "10.214.79.0/24"
ssh_port = 2297
[[tier]]
name = "edge"
hosts = 2
rate_mbit = 100
delay_ms = 20
[[tier]]
name = "cloud"
hosts = 2
rate_mbit = 1000
delay_ms = 2
`, filepath.Join(tmp, "tiers"))
	lay := tt.Layout
	env = tt.SSHEnv(t, bin)

	// The default plan's six stages: readers on the edge, models in the cloud, the sink back on the edge.
	edge0, edge1, cloud0, cloud1 := lay.Hosts[0].Addr, lay.Hosts[1].Addr, lay.Hosts[2].Addr, lay.Hosts[3].Addr
	base, err := os.ReadFile(filepath.Join(root, "plan/examples/default.toml"))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(base), `host = "localhost"`)
	hosts := []string{edge0, edge1, cloud0, cloud1, cloud0, edge0}
	if len(parts) != len(hosts)+1 {
		t.Fatalf("plan/examples/default.toml has %d workers, this test places 6", len(parts)-1)
	}
	var pl strings.Builder
	pl.WriteString(parts[0])
	for i, h := range hosts {
		fmt.Fprintf(&pl, "host = %q%s", h, parts[i+1])
	}
	planText := strings.Replace(pl.String(), `compress = "off"`, `compress = "fastest"`, 1)
	planText = strings.Replace(planText, `dataset = "workloads/vqa/data/test/manifest.jsonl"`, fmt.Sprintf("dataset = %q", dataset), 1)
	planPath, hostfile := filepath.Join(tmp, "plan.toml"), filepath.Join(tmp, "hostfile")
	if err := os.WriteFile(planPath, []byte(planText), 0o644); err != nil {
		t.Fatal(err)
	}
	hf := fmt.Sprintf("%s slots=2\n%s slots=1\n%s slots=2\n%s slots=1\n", edge0, edge1, cloud0, cloud1)
	if err := os.WriteFile(hostfile, []byte(hf), 0o644); err != nil {
		t.Fatal(err)
	}

	prof := filepath.Join(tmp, "profile")
	jb("profile", "-H", hostfile, "--data", dataset, "--items", "8", "--repeats", "3", "--batch", "1,8", "-o", prof)
	jb("launch", "-H", hostfile, "-p", planPath, "-root", root, "-runs", filepath.Join(tmp, "runs"), "-run-id", "loop")
	runDir := filepath.Join(tmp, "runs", "loop")
	jb("eval", "--run", runDir)
	jb("report", "--run", runDir, "--profile", prof, "-o", filepath.Join(tmp, "report"))

	r, err := report.Load(runDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.LoadProfile(prof); err != nil {
		t.Fatal(err)
	}
	a := report.Analyse(r)
	if a.Completed != items || r.Eval == nil || r.Eval.Items != items {
		t.Fatalf("completed %d of %d, eval %+v", a.Completed, items, r.Eval)
	}
	profiled := map[string]bool{}
	for _, e := range a.Edges {
		profiled[e.From+"→"+e.To] = true
		t.Logf("%s → %s (%s): %.2f KB/item raw, %.2f wire; profiled %.2f raw, %.2f zstd", e.From, e.To, e.Variant, e.RawKB, e.WireKB, e.ProfileRawKB, e.ProfileZstdKB)
		if e.Ratio < 0.9 || e.Ratio > 1.1 {
			t.Errorf("%s → %s: %.2f KB per item measured vs %.2f KB profiled", e.From, e.To, e.RawKB, e.ProfileRawKB)
		}
		if e.From == "ReadImage" && e.WireKB >= 0.8*e.RawKB {
			t.Errorf("images crossed the 100 Mbit/s edge link uncompressed (%.1f KB wire, %.1f raw)", e.WireKB, e.RawKB)
		}
		// The large edges' compressed sizes match too (the profile compresses each item alone, the
		// runner whole messages, so allow 15 %).
		if (e.From == "ReadImage" || e.From == "ReadSpeech") && (e.WireKB < 0.85*e.ProfileZstdKB || e.WireKB > 1.15*e.ProfileZstdKB) {
			t.Errorf("%s → %s: %.2f KB per item on the wire vs %.2f KB profiled with zstd", e.From, e.To, e.WireKB, e.ProfileZstdKB)
		}
	}
	for _, want := range []string{"ReadImage→ImageFeatures", "ReadSpeech→SpeechRecognition", "ImageFeatures→VQA", "SpeechRecognition→VQA"} {
		if !profiled[want] {
			t.Errorf("edge %s not compared with the profile", want)
		}
	}
	if _, err := os.Stat(filepath.Join(tmp, "report", "index.html")); err != nil {
		t.Error(err)
	}
}
