package loop

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"jellybean/job/report"
	"jellybean/job/report/browsertest"
	"jellybean/plan"
)

// TestLoopEndToEnd runs `jellybean loop` with the real binary on localhost over a small generated split:
// real profile, real accuracy profile, the exact solver, real ranks over TCP, eval and the report page in
// headless chromium. It checks what the loop promises, not timings: per-stage predictions and the input
// rate in the plan, every item completed, the measured accuracy equal to the predicted one (same items),
// the page's per-stage table, the accuracy cache on a second run, and that a run id is never reused.
func TestLoopEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("needs ONNX Runtime, espeak-ng, sox and chromium")
	}
	browser := browsertest.Find(t)
	root, tmp := repoRoot(t), t.TempDir()
	jb := jellybean(t, root, tmp, nil)
	const items, limit = 40, 30
	data, runs := filepath.Join(tmp, "data"), filepath.Join(tmp, "runs")
	jb(true, "gen-data", "--out", data, "--split", "test", "--n", fmt.Sprint(items))

	common := []string{"loop", "--data", data, "--split", "test", "--limit", fmt.Sprint(limit), "--runs", runs,
		"--profile-items", "8", "--profile-repeats", "3", "--profile-min-time", "0"}
	out, errOut := jb(true, append(common, "--run-id", "auto", "--threshold", "85")...)
	runDir := filepath.Join(runs, "auto")

	pl, err := plan.Load(filepath.Join(runDir, "plan.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := pl.Bind(root); err != nil { // which stages run models
		t.Fatal(err)
	}
	if !(pl.InputRate > 0) || !strings.Contains(errOut, "rate auto:") || pl.Limit != limit {
		t.Errorf("input_rate %v, limit %d; stderr lacks the rate's reason:\n%s", pl.InputRate, pl.Limit, errOut)
	}
	for i, st := range pl.Stages {
		sp, ok := pl.Predicted.Stages[st.Name]
		if !ok || sp.ThroughputItemsPerSecond != pl.InputRate {
			t.Errorf("stage %s: predicted %+v (present %v), want the input rate %v", st.Name, sp, ok, pl.InputRate)
		}
		if pl.IsModel(i) && sp.CapacityItemsPerSecond < sp.ThroughputItemsPerSecond {
			t.Errorf("stage %s: predicted capacity %v below its rate %v", st.Name, sp.CapacityItemsPerSecond, sp.ThroughputItemsPerSecond)
		}
	}
	if pl.Predicted.Accuracy < 85 {
		t.Errorf("predicted accuracy %v below the 85 %% target", pl.Predicted.Accuracy)
	}
	for _, f := range []string{"profile/latency.csv", "accuracy/profile.json", "accuracy/combinations.json", "accuracy/tradeoff.png", "accuracy/manifest.jsonl", "inputs/jellybean.toml", "inputs/variants.toml", "plan.toml", "hostfile", "loop.json"} {
		if _, err := os.Stat(filepath.Join(runDir, "loop", f)); err != nil {
			t.Errorf("loop file: %v", err)
		}
	}

	r, err := report.Load(runDir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Summary.Completed != limit || r.Eval == nil || r.Eval.Items != limit {
		t.Fatalf("completed %d of %d items, eval %+v", r.Summary.Completed, limit, r.Eval)
	}
	// Same items, same models: the run's accuracy is the accuracy profile's figure for the chosen variants.
	if r.Eval.AccuracyMetric != "vqa_accuracy" || math.Abs(r.Eval.Accuracy-pl.Predicted.Accuracy) > 1e-9 {
		t.Errorf("measured accuracy (%s) %.4f%% vs predicted %.4f%% on the same %d items", r.Eval.AccuracyMetric, r.Eval.Accuracy, pl.Predicted.Accuracy, limit)
	}
	var sum Summary
	b, err := os.ReadFile(filepath.Join(runDir, "loop", "loop.json"))
	if err != nil || json.Unmarshal(b, &sum) != nil || len(sum.Stages) != 6 || sum.Rate != pl.InputRate {
		t.Errorf("loop.json: %v, %+v", err, sum)
	}
	checkConfirmed(t, runDir, &sum)
	if !strings.Contains(out, "report: "+filepath.Join(runDir, "report", "index.html")) || !regexp.MustCompile(`(?m)^SpeechRecognition +[0-9.]+ +[0-9.]+ +[0-9]+%$`).MatchString(out) {
		t.Errorf("stdout lacks the table or the report path:\n%s", out)
	}

	dom := browsertest.DumpDOM(t, browser, filepath.Join(runDir, "report", "index.html"))
	rate := regexp.QuoteMeta(fmt.Sprintf("%.1f", pl.InputRate))
	for _, st := range pl.Stages {
		re := `<tr id="stage-` + st.Name + `"[^>]*><td>` + st.Name + `</td>.*?<td class="predicted own">` + rate + `</td><td class="measured">[0-9.]+</td>`
		if !regexp.MustCompile(re).MatchString(dom) {
			t.Errorf("page: no predicted-vs-measured row for %s (%s)", st.Name, re)
		}
	}
	if !strings.Contains(dom, "images decoded: 5/5") || !strings.Contains(dom, `<table id="edges">`) || !strings.Contains(dom, `<table id="capacity">`) {
		t.Error("page: charts not decoded, or no edge or capacity table (profile not compared)")
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s\nDOM:\n%s", out, errOut, dom)
	}

	// Second run: a given rate, the accuracy profile from the cache; then a reused id is refused.
	_, errOut = jb(true, append(common, "--run-id", "given", "--rate", "25")...)
	if pl2, err := plan.Load(filepath.Join(runs, "given", "plan.toml")); err != nil || pl2.InputRate != 25 {
		t.Errorf("given rate: %v, plan %+v", err, pl2)
	}
	if !regexp.MustCompile(`loop: accuracy done in [0-9.]+ s: cached `).MatchString(errOut) {
		t.Errorf("second run did not use the cached accuracy profile:\n%s", errOut)
	}
	_, errOut = jb(false, append(common, "--run-id", "given", "--rate", "25")...)
	if !strings.Contains(errOut, "run given already exists") {
		t.Errorf("reused run id: %s", errOut)
	}

	// Unpaced: placed for the rate, run as fast as the sources read; the prediction is the plan's maximum
	// and every model stage has a predicted and a measured capacity (CPU basis: one process per rank).
	// With --recheck the plan's variants are profiled again after the run, and the run compared with that too.
	out, _ = jb(true, append(common, "--run-id", "unpaced", "--rate", "25", "--unpaced", "--recheck")...)
	pl3, err := plan.Load(filepath.Join(runs, "unpaced", "plan.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var us Summary
	if b, err := os.ReadFile(filepath.Join(runs, "unpaced", "loop", "loop.json")); err != nil || json.Unmarshal(b, &us) != nil {
		t.Fatalf("loop.json: %v", err)
	}
	if pl3.InputRate != 0 || us.Paced || !(us.PredictedMaximum > 25) || pl3.Predicted.ThroughputItemsPerSecond != us.PredictedMaximum ||
		us.Bottleneck == "" || !(us.Throughput > 0) || us.CoresBound < 0 || (us.CoresBound > 0 && us.CoresBound < us.PredictedMaximum) {
		t.Errorf("unpaced: input rate %v, loop.json %+v", pl3.InputRate, us)
	}
	models := map[string]bool{}
	for _, c := range us.Capacity {
		if c.Basis != "cpu" || !(c.Predicted > 0) || !(c.Measured > 0) || c.Units != 1 || !(c.MeanBatch >= 1) {
			t.Errorf("capacity row %+v", c)
		}
		models[c.Stage] = true
	}
	if !models[ImageFeatures] || !models[SpeechRecognition] || !models[VQA] {
		t.Errorf("capacity rows %+v lack a model stage", us.Capacity)
	}
	if !(us.SteadyThroughput > 0) {
		t.Errorf("unpaced: no steady throughput in loop.json %+v", us)
	}
	if !regexp.MustCompile(`(?m)^max throughput +[0-9.]+ +[0-9.]+ +[0-9]+%  \(unpaced run, steady: first to last result; [0-9.]+ over the whole run; set by (\w+|the shared cores)\)$`).MatchString(out) {
		t.Errorf("stdout lacks the maximum:\n%s", out)
	}
	checkRecheck(t, filepath.Join(runs, "unpaced"), &us, out)
}

// checkConfirmed checks a loop's steps and that the chosen variants were profiled on their own inputs:
// after the first profile and optimization come confirm, inputs and optimize again, and the profile the
// plan and the report use holds the confirm profile's rows for the chosen variants.
func checkConfirmed(t *testing.T, runDir string, sum *Summary) {
	t.Helper()
	var names []string
	for _, s := range sum.Steps {
		names = append(names, s.Name)
	}
	got := strings.Join(names, " ")
	if !regexp.MustCompile(`^profile accuracy inputs optimize (confirm inputs optimize ){1,2}launch eval report$`).MatchString(got) {
		t.Errorf("steps %q", got)
	}
	merged, err := os.ReadFile(filepath.Join(runDir, "loop", "profile", "latency.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(runDir, "loop", "profile", "latency-first.csv")); err != nil {
		t.Errorf("the first profile's rows are not kept: %v", err)
	}
	// The last confirm profiled the plan's variants when the choice held (the loop stops there).
	last := strings.Count(got, "confirm")
	chosen, err := os.ReadFile(filepath.Join(runDir, "loop", fmt.Sprintf("profile-chosen-%d", last), "latency.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(chosen)), "\n")[1:]
	models := 0
	for _, line := range lines {
		f := strings.Split(line, ",")
		if v, ok := sum.Variants[f[0]]; ok {
			models++
			if f[2] != v {
				t.Errorf("confirm profiled %s %s; the plan runs %s", f[0], f[2], v)
			}
		}
		if !strings.Contains(string(merged), line+"\n") {
			t.Errorf("the merged profile lacks the confirm row %q", line)
		}
	}
	if models != 2*len(sum.Variants) {
		t.Errorf("confirm profile has %d model rows for %d model stages", models, len(sum.Variants))
	}
	// Its message sizes replace the first profile's too; the first ones are kept.
	for _, name := range []string{"message_sizes.csv", "message_sizes_zstd.csv"} {
		mine, err := os.ReadFile(filepath.Join(runDir, "loop", fmt.Sprintf("profile-chosen-%d", last), name))
		if err != nil {
			t.Fatal(err)
		}
		merged, err := os.ReadFile(filepath.Join(runDir, "loop", "profile", name))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(mine)), "\n") {
			if !strings.Contains(string(merged), line+"\n") {
				t.Errorf("the merged %s lacks the confirm row %q", name, line)
			}
		}
		if _, err := os.Stat(filepath.Join(runDir, "loop", "profile", strings.TrimSuffix(name, ".csv")+"-first.csv")); err != nil {
			t.Errorf("the first profile's %s is not kept: %v", name, err)
		}
	}
}

// checkRecheck checks an unpaced --recheck run: the second profile timed only the plan's variants,
// and loop.json and the table compare the same run's measurements with it.
func checkRecheck(t *testing.T, runDir string, us *Summary, out string) {
	t.Helper()
	rc := us.Recheck
	if rc == nil || !(rc.PredictedMaximum > 0) || rc.Bottleneck == "" || len(rc.Capacity) != len(us.Capacity) {
		t.Fatalf("recheck %+v (capacity rows %d)", rc, len(us.Capacity))
	}
	for i, c := range rc.Capacity {
		m := us.Capacity[i]
		if c.Stage != m.Stage || c.Measured != m.Measured || !(c.Predicted > 0) || math.Abs(c.Ratio-c.Measured/c.Predicted) > 1e-9 {
			t.Errorf("recheck row %+v against the main row %+v: same run, same measurement, its own prediction", c, m)
		}
	}
	data, err := os.ReadFile(filepath.Join(runDir, "loop", "profile-after", "latency.csv"))
	if err != nil {
		t.Fatal(err)
	}
	models := 0
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n")[1:] {
		f := strings.Split(line, ",")
		if want, ok := us.Variants[f[0]]; ok {
			models++
			if f[2] != want {
				t.Errorf("profile-after timed %s %s; the plan runs %s", f[0], f[2], want)
			}
		}
	}
	if models != 2*len(us.Variants) { // batch 1 and the plan's
		t.Errorf("profile-after has %d model rows for %d model stages:\n%s", models, len(us.Variants), data)
	}
	if !strings.Contains(out, "re-timed after") || us.Steps[len(us.Steps)-1].Name != "recheck" {
		t.Errorf("no recheck in the table or the steps %+v:\n%s", us.Steps, out)
	}
}

func repoRoot(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}

// jellybean builds the binary into tmp and returns a runner of it in root (environment env added) that
// fails the test when the command's success is not the one wanted.
func jellybean(t *testing.T, root, tmp string, env []string) func(wantOK bool, args ...string) (stdout, stderr string) {
	t.Helper()
	bin := filepath.Join(tmp, "jellybean")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./job")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./job: %v\n%s", err, out)
	}
	return func(wantOK bool, args ...string) (string, string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir, cmd.Env = root, append(os.Environ(), env...)
		var o, e strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		if (err == nil) != wantOK {
			t.Fatalf("jellybean %s: err %v (want ok: %v)\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, wantOK, o.String(), e.String())
		}
		return o.String(), e.String()
	}
}
