// Package tierstest brings emulated tiers up for a test (network namespaces, shaped links, one sshd each)
// and takes them down when the test ends.
package tierstest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jellybean/job/onnx"
	"jellybean/job/tiers"
)

// Tiers are emulated tiers that are up for the duration of a test.
type Tiers struct {
	Spec   tiers.Spec
	Dir    string       // hostfile, infrastructure.toml, ssh keys
	Layout tiers.Layout // host addresses, tier by tier
}

// Up parses specText and brings its tiers up under dir. It fails the test (CI runs as root; nothing is
// skipped) without root or without the ONNX Runtime library the remote ranks will load.
func Up(t *testing.T, specText, dir string) *Tiers {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (network namespaces); CI runs as root")
	}
	spec, err := tiers.ParseSpec("test spec", strings.NewReader(specText))
	if err != nil {
		t.Fatal(err)
	}
	st, err := tiers.Up(spec, dir)
	if err != nil {
		t.Fatalf("tiers up: %v", err)
	}
	t.Cleanup(func() {
		if err := tiers.Down(st); err != nil {
			t.Errorf("tiers down: %v", err)
		}
	})
	return &Tiers{Spec: spec, Dir: dir, Layout: spec.Plan(dir)}
}

// SSHEnv is the environment that makes `jellybean launch/profile/loop` reach the tiers' hosts over their
// sshd and run bin there with this machine's ONNX Runtime library.
func (tt *Tiers) SSHEnv(t *testing.T, bin string) []string {
	t.Helper()
	ortLib, err := onnx.LibraryPath()
	if err != nil {
		t.Fatalf("%v (CI fetches it with job/setup/fetch-onnxruntime.sh)", err)
	}
	return []string{
		fmt.Sprintf("JELLYBEAN_SSH_PORT=%d", tt.Spec.SSHPort), "JELLYBEAN_SSH_IDENTITY=" + filepath.Join(tt.Dir, "id_ed25519"),
		"JELLYBEAN_SSH_OPTS=-F none -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o IdentitiesOnly=yes",
		"JELLYBEAN_REMOTE_BIN=" + bin, "JELLYBEAN_REMOTE_ORT_LIB=" + ortLib,
	}
}
