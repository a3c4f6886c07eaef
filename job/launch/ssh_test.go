package launch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"jellybean/job/launch/sshtest"
)

// threeHosts: ranks 0-1 local, 2-3 on 127.0.0.2, 4-5 on 127.0.0.3 (both through sshd).
const threeHosts = "localhost slots=2\n127.0.0.2 slots=2\n127.0.0.3 slots=2\n"

// sshConfig aims the fixture's launcher at a real sshd on 127.0.0.2/127.0.0.3.
func sshConfig(f *fixture, srv *sshtest.Server) Config {
	cfg := f.config()
	cfg.SSH = SSHOptions{Port: srv.Port, Identity: srv.Identity, Extra: srv.ClientOptions(), RemoteBinary: fakeRank, ConnectTimeout: 5}
	return cfg
}

func TestRunOverSSH(t *testing.T) {
	srv := sshtest.Start(t)
	f := newFixture(t, threeHosts, map[string]any{"3": map[string]any{"sleep": "200ms", "progress": 2}})
	res, err, _ := f.run(sshConfig(f, srv))
	if err != nil {
		t.Fatalf("Run: %v\nstderr:\n%s\nsshd log:\n%s", err, f.errb.String(), srv.Log())
	}
	local := readSeen(t, res.RunDir, 0)
	if local.Stdin || readSeen(t, res.RunDir, 1).Stdin {
		t.Errorf("local ranks took their secret from stdin")
	}
	for r := 2; r < 6; r++ {
		s := readSeen(t, res.RunDir, r)
		if !s.Stdin || s.Secret != local.Secret || s.JobID != local.JobID {
			t.Errorf("ssh rank %d: %+v; want the job's secret (%s…) read from stdin and its job id", r, s, local.Secret[:8])
		}
	}
	if !strings.Contains(f.errb.String(), "2/2 items (100%)") {
		t.Errorf("progress from an ssh rank did not reach the display:\n%s", f.errb.String())
	}
}

// A failing rank stops ssh ranks through their lifeline: closing their stdin ends them on the remote host.
func TestRunOverSSHLifeline(t *testing.T) {
	srv := sshtest.Start(t)
	f := newFixture(t, threeHosts, map[string]any{
		"*": map[string]any{"sleep": "60s"},
		// Rank 0 fails once the test has seen every rank start (the cue file appears in the root).
		"0": map[string]any{"sleep": "60s", "until_file": "go", "exit": 4, "say": "local rank gives up"},
	})
	cfg := sshConfig(f, srv)
	cfg.Grace = 6 * time.Second // the lifeline, not SIGKILL, must end the remote ranks
	var cued time.Time
	bg := whenStarted(&cfg, allRanks(6), func(string, map[int]seen) error {
		cued = time.Now()
		return os.WriteFile(filepath.Join(f.root, "go"), nil, 0o644)
	})
	res, err, _ := f.run(cfg)
	background(t, bg)
	var rf *RankFailure
	if !errors.As(err, &rf) || rf.Rank != 0 || rf.ExitCode() != 4 {
		t.Fatalf("error %v; want rank 0's exit status 4", err)
	}
	if took := time.Since(cued); took > 10*time.Second {
		t.Errorf("the job took %v to stop after rank 0 failed", took)
	}
	assertGone(t, "rank 1", readSeen(t, res.RunDir, 1).PID, 2*time.Second)
	for r := 2; r < 6; r++ {
		assertGone(t, fmt.Sprintf("remote rank %d", r), readSeen(t, res.RunDir, r).PID, 2*time.Second)
		log := lastLogLine(filepath.Join(res.RunDir, RanksDir, fmt.Sprint(r)+".log"))
		if log != "fakerank: lifeline closed" {
			t.Errorf("remote rank %d ended with %q; want it to notice its lifeline closing", r, log)
		}
	}
}

func TestRunUnreachableHost(t *testing.T) {
	srv := sshtest.Start(t)
	// 127.0.0.4: nothing listens on the port there.
	f := newFixture(t, "localhost slots=5\n127.0.0.4 slots=1\n", map[string]any{"*": map[string]any{"sleep": "60s"}})
	_, err, took := f.run(sshConfig(f, srv))
	var rf *RankFailure
	if !errors.As(err, &rf) || rf.Rank != 5 || rf.Host != "127.0.0.4" || rf.ExitCode() != 255 {
		t.Fatalf("error %v; want rank 5 on 127.0.0.4 with ssh's status 255", err)
	}
	if !strings.Contains(err.Error(), "Connection refused") {
		t.Errorf("error %q does not say why ssh failed", err)
	}
	if took > 15*time.Second {
		t.Errorf("took %v", took)
	}
}

// A remote rank killed by a signal is reported as such (not as an anonymous ssh failure), and stops the job.
func TestRunOverSSHKilledRemoteRank(t *testing.T) {
	srv := sshtest.Start(t)
	f := newFixture(t, threeHosts, map[string]any{"*": map[string]any{"sleep": "60s"}})
	cfg := sshConfig(f, srv)
	var killed time.Time
	bg := whenStarted(&cfg, allRanks(6), func(_ string, s map[int]seen) error {
		killed = time.Now()
		return syscall.Kill(s[4].PID, syscall.SIGKILL)
	})
	res, err, _ := f.run(cfg)
	background(t, bg)
	took := time.Since(killed)
	var rf *RankFailure
	if !errors.As(err, &rf) || rf.Rank != 4 || rf.Host != "127.0.0.3" || rf.ExitCode() != 137 ||
		!strings.Contains(rf.Cause, "killed by signal 9 on the remote host") {
		t.Fatalf("error %v; want rank 4 on 127.0.0.3 killed by signal 9", err)
	}
	if took > 10*time.Second {
		t.Errorf("took %v", took)
	}
	for _, r := range []int{0, 1, 2, 3, 5} {
		assertGone(t, fmt.Sprintf("rank %d", r), readSeen(t, res.RunDir, r).PID, 2*time.Second)
	}
}
