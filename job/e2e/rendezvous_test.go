package e2e

import (
	"net"
	"path/filepath"
	"strconv"
	"testing"
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
