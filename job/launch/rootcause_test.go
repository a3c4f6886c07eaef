package launch

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"jellybean/job/exitcode"
)

// follower is a fake rank that, once cued, exits as a rank that followed a failed peer does.
func follower(peer int) map[string]any {
	return map[string]any{"sleep": "60s", "until_file": "go", "exit": exitcode.PeerFailed,
		"say": "rank x: rank 2 (localhost, stage S) failed: boom\n" + exitcode.FollowedLine(peer)}
}

// The ranks that followed rank 2's failure exit before rank 2 does (it is still telling its peers):
// the headline names rank 2 and its own last line, not whichever rank exited first.
func TestHeadlineNamesTheRankThatFailedNotTheFirstToExit(t *testing.T) {
	f := newFixture(t, "localhost slots=6\n", map[string]any{
		"*": map[string]any{"sleep": "60s"},
		"0": follower(2),
		"1": follower(2),
		"2": map[string]any{"sleep": "60s", "until_file": "go2", "exit": 1, "say": "rank 2: stage S: model exploded"},
	})
	cfg := f.config()
	bg := whenStarted(&cfg, allRanks(6), func(dir string, _ map[int]seen) error {
		// What the sink wrote before the failure (its last progress line may be older).
		if err := os.WriteFile(filepath.Join(dir, ResultsFile), []byte(`{"id":0}`+"\n"+`{"id":1}`+"\n"), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(f.root, "go"), nil, 0o644); err != nil {
			return err
		}
		time.Sleep(500 * time.Millisecond)
		return os.WriteFile(filepath.Join(f.root, "go2"), nil, 0o644)
	})
	res, err, _ := f.run(cfg)
	background(t, bg)
	var rf *RankFailure
	if !errors.As(err, &rf) || rf.Rank != 2 || rf.LastLine != "rank 2: stage S: model exploded" || rf.ExitCode() != 1 {
		t.Fatalf("got %v; want rank 2's own failure as the headline", err)
	}
	if want := "results.jsonl holds 2 result(s); `--resume " + res.RunID + "` finishes the rest"; !strings.Contains(f.errb.String(), want) {
		t.Errorf("stderr does not say %q:\n%s", want, f.errb.String())
	}
}

// Rank 2 is stopped (SIGSTOP): it never fails, its peers give up on it (heartbeat) and say so. The
// headline names rank 2 at once (no grace wait for a stopped process), and the launcher still ends it.
func TestHeadlineNamesAStoppedRank(t *testing.T) {
	f := newFixture(t, "localhost slots=6\n", map[string]any{
		"*": map[string]any{"sleep": "60s"},
		"0": follower(1), // a relay: 0 followed 1, which followed 2
		"1": follower(2),
	})
	cfg := f.config()
	cfg.Grace = 5 * time.Second
	var victim int
	var cued time.Time
	bg := whenStarted(&cfg, allRanks(6), func(_ string, s map[int]seen) error {
		victim = s[2].PID
		if err := syscall.Kill(victim, syscall.SIGSTOP); err != nil {
			return err
		}
		cued = time.Now()
		return os.WriteFile(filepath.Join(f.root, "go"), nil, 0o644)
	})
	_, err, _ := f.run(cfg)
	background(t, bg)
	took := time.Since(cued)
	var rf *RankFailure
	if !errors.As(err, &rf) || rf.Rank != 2 {
		t.Fatalf("got %v; want rank 2 named", err)
	}
	for _, w := range []string{"rank 2 (host localhost) failed: stopped responding", "SIGSTOP", "rank 1 reported: rank x: rank 2 (localhost, stage S) failed: boom"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("headline %q does not say %q", err, w)
		}
	}
	// The stopped rank got SIGCONT with its SIGTERM: no wait for the SIGKILL grace.
	if took > 2*time.Second {
		t.Errorf("headline came %v after the followers exited", took)
	}
	assertGone(t, "stopped rank 2", victim, time.Second)
}
