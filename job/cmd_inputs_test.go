package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"jellybean/collective"
	"jellybean/job/exitcode"
)

// runCmd runs the binary with args in the JellyBean root and returns its exit status and stderr.
func runCmd(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = root(t)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("jellybean %v still running after 30s", args)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), errb.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, errb.String()
}

// gen-data with an absurd -n: one line naming the flag, exit 1, nothing written (it used to die with
// Go's "fatal error: out of memory" and a stack dump).
func TestGenDataBoundsN(t *testing.T) {
	out := filepath.Join(t.TempDir(), "data")
	for _, n := range []string{"99999999999", "1000001", "-3"} {
		code, stderr := runCmd(t, "gen-data", "--out", out, "-n", n)
		if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "-n "+n+": want 1 to 1000000 items") {
			t.Errorf("gen-data -n %s: exit %d, stderr %q", n, code, stderr)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a refused gen-data created %s", out)
	}
}

// loop checks every number before profiling anything: one line naming the flag, exit 1, at once.
func TestLoopChecksNumbersFirst(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")
	for _, c := range []struct{ flag, value string }{
		{"--threshold", "NaN"}, {"--threshold", "-5"}, {"--threshold", "100.5"}, {"--threshold", "+Inf"},
		{"--rate", "Inf"}, {"--utilisation", "1.5"}, {"--utilisation", "0"}, {"--runner-ms", "NaN"},
		{"--batch", "0"}, {"--threads", "-1"}, {"--cores", "-2"}, {"--profile-items", "0"},
		{"--profile-repeats", "-1"}, {"--time-limit", "-1s"}, {"--limit", "-1"},
	} {
		start := time.Now()
		code, stderr := runCmd(t, "loop", "--runs", runs, "--threshold", "90", c.flag, c.value)
		if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, c.flag+" ") {
			t.Errorf("loop %s %s: exit %d, stderr %q", c.flag, c.value, code, stderr)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("loop %s %s: refused only after %v", c.flag, c.value, d)
		}
	}
	if _, err := os.Stat(runs); err == nil {
		t.Errorf("a refused loop created %s", runs)
	}
}

// A rank's error caused by a peer (its abort report, or the collective losing it) makes the rank exit
// with exitcode.PeerFailed naming that peer; its own errors do not.
func TestAsPeerFailure(t *testing.T) {
	lost := fmt.Errorf("gathering statistics: %w", &collective.PeerError{Rank: 4, Addr: "h:1", Err: errors.New("peer silent")})
	var pf *exitcode.PeerFailure
	if err := asPeerFailure(lost); !errors.As(err, &pf) || pf.Peer != 4 || err.Error() != lost.Error() {
		t.Errorf("collective error: %v (%+v)", err, pf)
	}
	relayed := fmt.Errorf("stage x: %w", &exitcode.PeerFailure{Peer: 2, Err: errors.New("rank 2 failed: boom")})
	if err := asPeerFailure(relayed); !errors.As(err, &pf) || pf.Peer != 2 {
		t.Errorf("abort report: %v", err)
	}
	if err := asPeerFailure(errors.New("loading model: corrupt")); errors.As(err, &pf) {
		t.Errorf("own error marked as a peer's")
	}
}
