package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// launch.sh with arguments: builds bin/jellybean if it is stale, finds ONNX Runtime through
// job/setup/fetch-onnxruntime.sh (the test hands it the library through JELLYBEAN_ORT_LIB, as a user
// may) and runs the job.
func TestLaunchScriptRunsAJob(t *testing.T) {
	want := uninterrupted(t)
	dir := t.TempDir()
	hf, pl := writeJob(t, dir, jobSpec{hosts: []string{"localhost"}, basePort: freeBasePort(t)})
	idFile := filepath.Join(dir, "run-id")
	ctx, cancel := context.WithTimeout(context.Background(), jobLimit)
	defer cancel()
	// From another directory, with paths relative to it, as a user with their own files would.
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(repoRoot, "launch.sh"),
		"-H", filepath.Base(hf), "-p", filepath.Base(pl), "--runs", filepath.Join(dir, "runs"), "--run-id-file", idFile)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "JELLYBEAN_ORT_LIB="+ortLib)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("launch.sh: %v\nstderr:\n%s", err, stderr.String())
	}
	id, err := os.ReadFile(idFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "results: ") {
		t.Errorf("launch.sh printed no results line:\n%s", stdout.String())
	}
	sameResults(t, "launch.sh run", readResults(t, filepath.Join(dir, "runs", strings.TrimSpace(string(id)))), want)
}

// launch.sh turns a bad invocation into the launcher's one-line error and a non-zero status.
func TestLaunchScriptBadArguments(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), jobLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(repoRoot, "launch.sh"), "-H", "/nonexistent/hostfile", "-p", "plan.toml")
	cmd.Env = append(os.Environ(), "JELLYBEAN_ORT_LIB="+ortLib)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("launch.sh succeeded with a missing hostfile:\n%s", out)
	}
	if last := lastLine(string(out)); !strings.Contains(last, "/nonexistent/hostfile") {
		t.Errorf("last line %q does not name the missing hostfile", last)
	}
}
