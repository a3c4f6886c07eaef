package e2e

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Two jobs of the same plan (the same base_port) started at the same moment on one host both finish
// with the reference results: each launch picks its own free rendezvous port for rank 0, and every other
// rank binds a port the kernel picks, so the jobs never compete for a port. The plan's base port is even
// held by someone else the whole time: without JELLYBEAN_FIXED_PORTS it is not used.
func TestTwoJobsAtOnceOnOneHost(t *testing.T) {
	want := uninterrupted(t)
	base := freeBasePort(t)
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := t.TempDir()
	hf, pl := writeJob(t, dir, jobSpec{hosts: []string{"localhost"}, basePort: base})
	a := startLaunch(t, filepath.Join(dir, "runs-a"), nil, jobLimit, "-H", hf, "-p", pl)
	b := startLaunch(t, filepath.Join(dir, "runs-b"), nil, jobLimit, "-H", hf, "-p", pl)
	for name, l := range map[string]*launcher{"first": a, "second": b} {
		r := l.wait(t)
		if r.code != 0 {
			t.Fatalf("%s job: exit %d\n%s", name, r.code, r.stderr)
		}
		sameResults(t, name+" of two concurrent jobs", readResults(t, r.runDir), want)
	}
}

// The done-when of the rendezvous, literally: two `./launch.sh` (the default job: build check, data,
// launch, eval, report) started together in one checkout both complete, with the same 400 answers.
func TestTwoDefaultLaunchScriptsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the default job twice")
	}
	// Build and data first, as ./launch.sh would: two scripts must not both rebuild or generate.
	runBlock(t, "setup", "go build -o bin/jellybean ./job\nbin/jellybean gen-data\n", nil)
	before := runDirs(t)
	type outcome struct {
		err            error
		stdout, stderr string
	}
	done := make(chan outcome, 2)
	for range 2 {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), jobLimit)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", filepath.Join(repoRoot, "launch.sh"))
			cmd.Dir = repoRoot
			cmd.Env = append(os.Environ(), "JELLYBEAN_ORT_LIB="+ortLib)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.WaitDelay = 10 * time.Second
			err := cmd.Run()
			done <- outcome{err, stdout.String(), stderr.String()}
		}()
	}
	for range 2 {
		o := <-done
		if o.err != nil {
			t.Errorf("./launch.sh: %v\nstdout:\n%s\nstderr:\n%s", o.err, tail(o.stdout, 2000), tail(o.stderr, 3000))
		}
	}
	var dirs []string
	for name := range runDirs(t) {
		if !before[name] {
			dirs = append(dirs, filepath.Join(repoRoot, "runs", name))
		}
	}
	if len(dirs) != 2 {
		t.Fatalf("new run directories %v, want two", dirs)
	}
	first := readResults(t, dirs[0])
	if len(first) != 400 {
		t.Errorf("%s: %d results, want 400", dirs[0], len(first))
	}
	sameResults(t, "second of two concurrent ./launch.sh", readResults(t, dirs[1]), first)
	if !t.Failed() {
		for _, d := range dirs {
			os.RemoveAll(d)
		}
	}
}
