package launch

import (
	"errors"
	"jellybean/plan/workflow/workflowtest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"jellybean/job/runid"
)

func TestCountResults(t *testing.T) {
	job := map[int64]bool{1: true, 2: true, 3: true}
	cases := []struct {
		name, data string
		want       int
		err        string
	}{
		{"empty", "", 0, ""},
		{"two", `{"id":1,"answer":"a"}` + "\n" + `{"id":3}` + "\n", 2, ""},
		{"partial last line ignored", `{"id":1}` + "\n" + `{"id":2,"ans`, 1, ""},
		{"unknown id", `{"id":1}` + "\n" + `{"id":401}` + "\n", 0, "r.jsonl:2: item 401 is not one of the job's 3 items"},
		{"twice", `{"id":2}` + "\n" + `{"id":2}` + "\n", 0, "r.jsonl:2: item 2 appears twice (first on line 1)"},
		{"garbage", `{"id":1}` + "\n" + "oops\n", 0, "r.jsonl:2: "},
		{"no id", `{"answer":"x"}` + "\n", 0, `r.jsonl:1: no "id"`},
	}
	for _, c := range cases {
		got, err := countResults("r.jsonl", []byte(c.data), job)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: got %v; want an error containing %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: got %d, %v; want %d", c.name, got, err, c.want)
		}
	}
}

func TestArchiveAttempt(t *testing.T) {
	dir := t.TempDir()
	if n, err := archiveAttempt(dir); n != 0 || err != nil {
		t.Fatalf("nothing to keep: got %d, %v", n, err)
	}
	for attempt := 1; attempt <= 2; attempt++ {
		must(t, os.MkdirAll(filepath.Join(dir, TimingDir), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, TimingDir, "0.csv"), []byte("attempt "+string(rune('0'+attempt))), 0o644))
		must(t, os.WriteFile(filepath.Join(dir, SummaryFile), []byte("{}"), 0o644))
		must(t, os.WriteFile(filepath.Join(dir, runid.InputsFile), []byte("{}"), 0o644))
		n, err := archiveAttempt(dir)
		if err != nil || n != attempt {
			t.Fatalf("attempt %d archived as %d, %v", attempt, n, err)
		}
		data, err := os.ReadFile(filepath.Join(dir, AttemptsDir, string(rune('0'+attempt)), TimingDir, "0.csv"))
		if err != nil || string(data) != "attempt "+string(rune('0'+attempt)) {
			t.Errorf("attempt %d's timing: %q, %v", attempt, data, err)
		}
		for _, gone := range []string{SummaryFile, TimingDir} {
			if _, err := os.Stat(filepath.Join(dir, gone)); err == nil {
				t.Errorf("%s still in the run directory after archiving", gone)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, AttemptsDir, string(rune('0'+attempt)), runid.InputsFile)); err != nil {
			t.Errorf("attempt %d's fingerprint not kept: %v", attempt, err)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// resumeFixture runs a first (fake) attempt of run "r1" and returns the fixture and the run directory.
func resumeFixture(t *testing.T) (*fixture, string) {
	f := newFixture(t, "localhost slots=6\n", map[string]any{})
	// A model of the fixture's own, so that the test can change it.
	f.write("m.onnx", readModel(t, "image_res64.onnx"))
	wf := workflowtest.WithModel(t, filepath.Join(repoRoot(t), "workloads/vqa/workflow.toml"), f.root, "ImageFeatures", "res64", filepath.Join(f.root, "m.onnx"))
	f.write("plan.toml", strings.Replace(fixturePlan(t, "localhost slots=6\n"), filepath.Join(repoRoot(t), "workloads/vqa/workflow.toml"), wf, 1))
	cfg := f.config()
	cfg.RunID = "r1"
	if _, err, _ := f.run(cfg); err != nil {
		t.Fatal(err)
	}
	return f, filepath.Join(f.root, "runs", "r1")
}

// readModel returns a shipped model file's bytes (a real model, so that the launcher's checks pass).
func readModel(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "workloads/vqa/models", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func repoRoot(t *testing.T) string {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func resumeConfig(f *fixture) Config {
	cfg := f.config()
	cfg.Hostfile, cfg.Plan, cfg.Resume = "", "", "r1"
	return cfg
}

func TestResumeRefusesChangedInputs(t *testing.T) {
	cases := []struct {
		name   string
		change func(f *fixture, dir string)
		want   []string
	}{
		{"plan copy edited", func(f *fixture, dir string) {
			data, _ := os.ReadFile(filepath.Join(dir, PlanFile))
			must(t, os.WriteFile(filepath.Join(dir, PlanFile), []byte(strings.Replace(string(data), "batch_size = 8", "batch_size = 4", 1)), 0o644))
		}, []string{"plan (runs/r1/plan.toml): sha256 "}},
		{"hostfile copy edited", func(f *fixture, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, HostfileFile), []byte("# moved\nlocalhost slots=6\n"), 0o644))
		}, []string{"hostfile (runs/r1/hostfile): sha256 "}},
		{"manifest regenerated", func(f *fixture, dir string) {
			data, _ := os.ReadFile(filepath.Join(f.root, "manifest.jsonl"))
			f.write("manifest.jsonl", strings.Replace(string(data), `"answer":"red"`, `"answer":"blue"`, 1))
		}, []string{"dataset (manifest.jsonl): sha256 "}},
		{"dataset file replaced", func(f *fixture, dir string) { f.write("data/1.wav", "other audio") },
			[]string{"dataset file data/1.wav (data/1.wav): sha256 "}},
		{"model replaced", func(f *fixture, dir string) { f.write("m.onnx", readModel(t, "image_res32.onnx")) },
			[]string{"model ImageFeature", "(m.onnx): sha256 "}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, dir := resumeFixture(t)
			before, _ := os.ReadFile(filepath.Join(dir, runid.InputsFile))
			c.change(f, dir)
			_, err, _ := f.run(resumeConfig(f))
			if err == nil {
				t.Fatal("resume with a changed input was accepted")
			}
			msg := err.Error()
			for _, w := range append(c.want, "--resume r1: refused: 1 input(s) changed", " → ") {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error is more than one line: %q", msg)
			}
			after, _ := os.ReadFile(filepath.Join(dir, runid.InputsFile))
			if string(after) != string(before) {
				t.Error("a refused resume changed inputs.json")
			}
			if _, err := os.Stat(filepath.Join(dir, AttemptsDir)); err == nil {
				t.Error("a refused resume archived the previous attempt")
			}

			// The deliberate override goes ahead, says what it mixes, and records it.
			cfg := resumeConfig(f)
			cfg.ResumeForce = true
			if _, err, _ := f.run(cfg); err != nil {
				t.Fatalf("--resume-force: %v", err)
			}
			if !strings.Contains(f.errb.String(), "WARNING: --resume-force: run r1 will MIX results") {
				t.Errorf("--resume-force did not warn:\n%s", f.errb.String())
			}
			in, err := runid.Read(dir)
			if err != nil || len(in.Forced) != 1 || !strings.Contains(strings.Join(in.Forced[0].Changes, ""), c.want[len(c.want)-1]) {
				t.Errorf("inputs.json does not record the forced resume: %+v, %v", in, err)
			}
			if _, err, _ := f.run(resumeConfig(f)); err != nil {
				t.Errorf("a later plain resume with the forced inputs: %v", err)
			}
		})
	}
}

func TestResumeRefusesResultOutsideDataset(t *testing.T) {
	f, dir := resumeFixture(t)
	must(t, os.WriteFile(filepath.Join(dir, ResultsFile), []byte(`{"id":0}`+"\n"+`{"id":400}`+"\n"), 0o644))
	_, err, _ := f.run(resumeConfig(f))
	if err == nil || !strings.Contains(err.Error(), "results.jsonl:2: item 400 is not one of the job's 3 items") {
		t.Errorf("got %v", err)
	}
}

func TestResumeOfCompleteRunChangesNothing(t *testing.T) {
	f, dir := resumeFixture(t)
	// What a finished run leaves (the fake ranks write no results; the test writes the sink's files).
	must(t, os.WriteFile(filepath.Join(dir, ResultsFile), []byte(`{"id":0}`+"\n"+`{"id":1}`+"\n"+`{"id":2}`+"\n"), 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, TimingDir), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, TimingDir, "0.csv"), []byte("t\n1\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, SummaryFile), []byte(`{"items":3,"completed":3}`), 0o644))
	before := snapshot(t, dir)
	res, err, _ := f.run(resumeConfig(f))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Complete || !strings.Contains(f.errb.String(), "run r1 is already complete (3/3 items in results.jsonl); nothing to do") {
		t.Errorf("complete=%v; stderr:\n%s", res.Complete, f.errb.String())
	}
	after := snapshot(t, dir)
	for name, data := range before {
		if after[name] != data {
			t.Errorf("%s changed", name)
		}
	}
	if len(after) != len(before) {
		t.Errorf("files before %d, after %d", len(before), len(after))
	}
}

// snapshot maps every file under dir (except the lock) to its content.
func snapshot(t *testing.T, dir string) map[string]string {
	out := map[string]string{}
	must(t, filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || info.Name() == runid.LockFile {
			return err
		}
		data, err := os.ReadFile(p)
		out[p] = string(data)
		return err
	}))
	return out
}

func TestResumeKeepsEarlierAttempts(t *testing.T) {
	f, dir := resumeFixture(t)
	must(t, os.WriteFile(filepath.Join(dir, ResultsFile), []byte(`{"id":0}`+"\n"), 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, TimingDir), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, TimingDir, "0.csv"), []byte("first attempt\n"), 0o644))
	if _, err, _ := f.run(resumeConfig(f)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, AttemptsDir, "1", TimingDir, "0.csv"))
	if err != nil || string(data) != "first attempt\n" {
		t.Errorf("first attempt's timing: %q, %v", data, err)
	}
	if !strings.Contains(f.errb.String(), "resuming run r1: 1/3 items done; attempt 1's summary and timing kept in runs/r1/attempts/1") {
		t.Errorf("stderr:\n%s", f.errb.String())
	}
}

// Two launchers on one run: the second is refused at once, naming the first; the first is unaffected.
func TestSecondLauncherRefused(t *testing.T) {
	f, dir := resumeFixture(t)
	f.write("fakerank.json", `{"*":{"sleep":"20s","until_file":"go"}}`)
	cfg := resumeConfig(f)
	started := whenStarted(&cfg, allRanks(6), func(string, map[int]seen) error {
		second := resumeConfig(f)
		var errb strings.Builder
		second.Err = &errb
		t0 := time.Now()
		_, err := Run(second)
		took := time.Since(t0)
		var inUse *runid.InUseError
		host, _ := os.Hostname()
		switch {
		case !errors.As(err, &inUse):
			return errors.New("second launcher: " + errString(err) + "; want run ID in use")
		case inUse.PID != os.Getpid() || !strings.Contains(err.Error(), "run ID r1 is in use by PID") || inUse.Host != host:
			return errors.New("second launcher's error names another holder: " + err.Error())
		case took > time.Second:
			return errors.New("second launcher took " + took.String() + " to be refused")
		}
		return os.WriteFile(filepath.Join(f.root, "go"), nil, 0o644)
	})
	if _, err, _ := f.run(cfg); err != nil {
		t.Fatalf("first launcher: %v", err)
	}
	background(t, started)
	// Released at the end: a third launcher may resume.
	f.write("fakerank.json", `{}`)
	if _, err, _ := f.run(resumeConfig(f)); err != nil {
		t.Errorf("resume after both launchers ended: %v", err)
	}
	_ = dir
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// A run from before fingerprints existed resumes with a warning, and its inputs are recorded from then on.
func TestResumeOfUnfingerprintedRun(t *testing.T) {
	f, dir := resumeFixture(t)
	must(t, os.Remove(filepath.Join(dir, runid.InputsFile)))
	if _, err, _ := f.run(resumeConfig(f)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.errb.String(), "warning: run r1 has no inputs.json") {
		t.Errorf("no warning:\n%s", f.errb.String())
	}
	if _, err := runid.Read(dir); err != nil {
		t.Errorf("inputs not recorded: %v", err)
	}
}

// With a remote root the dataset may exist only on the remote hosts: the launch goes ahead,
// fingerprinting what it can read here.
func TestRemoteRootWithoutLocalDataset(t *testing.T) {
	f := newFixture(t, "localhost slots=6\n", map[string]any{})
	must(t, os.Remove(filepath.Join(f.root, "manifest.jsonl")))
	cfg := f.config()
	cfg.RunID = "remote"
	cfg.SSH.RemoteRoot = "/srv/jellybean"
	res, err, _ := f.run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	in, err := runid.Read(res.RunDir)
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, f := range in.Files {
		roles = append(roles, f.Role)
	}
	if got := strings.Join(roles, ","); !strings.Contains(got, "hostfile") || !strings.Contains(got, "plan") || strings.Contains(got, "dataset") {
		t.Errorf("fingerprinted roles %s", got)
	}
}
