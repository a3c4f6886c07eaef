package e2e

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"jellybean/plan"
)

// heartbeatTimeout is the collective's default: how long peers wait for a silent (e.g. stopped) rank.
const heartbeatTimeout = 10 * time.Second

// A rank that is sent SIGTERM or SIGSTOP mid-run is the one the launcher's headline names, within the
// heartbeat timeout plus 2 s; every other rank only followed it.
func TestSignalledRankIsNamed(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGSTOP} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			hf, pl := writeJob(t, dir, jobSpec{hosts: []string{"localhost"}, basePort: freeBasePort(t), inputRate: 6})
			p, err := plan.Load(pl)
			if err != nil {
				t.Fatal(err)
			}
			victim := rankOfStage(t, p, "ImageFeatures")
			l := startLaunch(t, filepath.Join(dir, "runs"), nil, jobLimit, "-H", hf, "-p", pl)
			runDir := waitRunDir(t, l)
			waitResults(t, runDir, 3, 90*time.Second)
			ranks := rankPIDs(t, l.cmd.Process.Pid)
			sent := time.Now()
			if err := syscall.Kill(ranks[victim], sig); err != nil {
				t.Fatal(err)
			}
			r := l.wait(t)
			took := time.Since(sent)
			last := lastLine(r.stderr)
			t.Logf("%v of rank %d: launcher exit %d after %v: %s", sig, victim, r.code, took, last)
			if r.code == 0 {
				t.Fatalf("launcher exited 0")
			}
			if want := fmt.Sprintf("rank %d (host localhost) failed", victim); !strings.HasPrefix(strings.TrimPrefix(last, "jellybean launch: "), want) {
				t.Errorf("headline %q does not start with %q", last, want)
			}
			if took > heartbeatTimeout+2*time.Second {
				t.Errorf("headline came %v after the signal; want within %v", took, heartbeatTimeout+2*time.Second)
			}
			for rank, pid := range ranks {
				waitGone(t, fmt.Sprintf("rank %d", rank), pid, time.Now().Add(5*time.Second))
			}
		})
	}
}

// A rank that fails while preparing its model (a corrupt model file) is named at once: its peers do
// not wait for it until the connect timeout, and none of them is blamed.
func TestModelPreparationFailureIsNamed(t *testing.T) {
	dir := t.TempDir()
	// A worker placed on a GPU no host has (cuda:99) passes the launcher's checks, which cannot know the
	// hosts' devices, and fails in its rank's start-up, before the ranks connect.
	hf, pl := writeJob(t, dir, jobSpec{hosts: []string{"localhost"}, basePort: freeBasePort(t), tweak: func(p *plan.Plan) {
		p.StageByName("SpeechRecognition").Workers[0].Device = "cuda:99"
	}})
	p, err := plan.Load(pl)
	if err != nil {
		t.Fatal(err)
	}
	victim := rankOfStage(t, p, "SpeechRecognition")
	r := runLaunch(t, filepath.Join(dir, "runs"), nil, jobLimit, "-H", hf, "-p", pl)
	last := lastLine(r.stderr)
	t.Logf("exit %d after %v: %s", r.code, r.took, last)
	if want := fmt.Sprintf("rank %d (host localhost) failed: exit status 1", victim); r.code == 0 || !strings.Contains(last, want) || !strings.Contains(last, "cuda") {
		t.Errorf("headline %q; want %q naming the device", last, want)
	}
	if r.took > 10*time.Second {
		t.Errorf("the job took %v to stop", r.took)
	}
}

// Two launchers on one run: the second is refused within a second, naming the first; the first
// finishes with every item exactly once. A finished run resumed is a no-op that changes no file; a
// resume after the run's plan copy or a model changed is refused naming it.
func TestOneWriterCompleteNoOpAndChangedInputs(t *testing.T) {
	want := uninterrupted(t)
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	hf, pl := writeJob(t, dir, jobSpec{hosts: []string{"localhost"}, basePort: freeBasePort(t), inputRate: 12})
	first := startLaunch(t, runs, nil, jobLimit, "-H", hf, "-p", pl)
	runDir := waitRunDir(t, first)
	waitResults(t, runDir, 2, 90*time.Second)
	second := runLaunch(t, runs, nil, jobLimit, "--resume", filepath.Base(runDir))
	if second.code == 0 || !strings.Contains(second.stderr, fmt.Sprintf("is in use by PID %d on ", first.cmd.Process.Pid)) {
		t.Errorf("second launcher: exit %d:\n%s", second.code, second.stderr)
	}
	t.Logf("second launcher refused after %v", second.took)
	if second.took > time.Second {
		t.Errorf("second launcher took %v to be refused", second.took)
	}
	r := first.wait(t)
	if r.code != 0 {
		t.Fatalf("first launcher failed (exit %d):\n%s", r.code, r.stderr)
	}
	sameResults(t, "run with a refused second launcher", readResults(t, runDir), want)

	before := files(t, runDir)
	again := runLaunch(t, runs, nil, jobLimit, "--resume", r.runID)
	if again.code != 0 || !strings.Contains(again.stderr, fmt.Sprintf("run %s is already complete (%d/%d items", r.runID, datasetItems, datasetItems)) {
		t.Errorf("resume of a complete run: exit %d:\n%s", again.code, again.stderr)
	}
	t.Logf("resume of the complete run: %v", again.took)
	after := files(t, runDir)
	for name, data := range before {
		if after[name] != data {
			t.Errorf("resume of a complete run changed %s", name)
		}
	}
	if len(after) != len(before) {
		t.Errorf("resume of a complete run added files: %d before, %d after", len(before), len(after))
	}

	// The ASR variant edited in the run's copy of the plan.
	planCopy := filepath.Join(runDir, "plan.toml")
	orig, err := os.ReadFile(planCopy)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, planCopy, strings.ReplaceAll(string(orig), "ctc-large", "ctc-small"))
	refused := runLaunch(t, runs, nil, jobLimit, "--resume", r.runID)
	if refused.code == 0 || !strings.Contains(refused.stderr, "plan ("+planCopy) || !strings.Contains(refused.stderr, " → ") {
		t.Errorf("resume after the plan copy changed: exit %d:\n%s", refused.code, refused.stderr)
	}
	writeFile(t, planCopy, string(orig))
	if after := files(t, runDir); len(after) != len(before) {
		t.Errorf("a refused resume left files behind")
	}
}

// files maps every file of a run directory, except its lock, to its content.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "lock" {
			return err
		}
		data, err := os.ReadFile(p)
		out[p] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
