package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// testData is compressible but not trivial: random words, so zstd's output spans several parts.
func testData() []byte {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"onnx", "cuda", "rank", "tensor", "stage", "jellybean", "kernel"}
	var b bytes.Buffer
	for b.Len() < 3<<20 {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(byte('0' + r.IntN(10)))
	}
	return b.Bytes()
}

// TestRoundTripThroughZstdAndSplit compresses with the real zstd CLI and splits with split(1), exactly as
// gpu-bundle.sh does, then joins and decompresses with the static unzstd binary.
func TestRoundTripThroughZstdAndSplit(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the zstd command (not Go alone): runs in the full suite")
	}
	for _, tool := range []string{"zstd", "split"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install it (apt-get install -y zstd coreutils)", tool)
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "unzstd")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := testData()
	src := filepath.Join(dir, "lib.so")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run("zstd", "-q", "-3", "--long=27", "-o", filepath.Join(dir, "lib.so.zst"), src)
	run("split", "-b", "200k", "-d", filepath.Join(dir, "lib.so.zst"), filepath.Join(dir, "lib.so.zst."))
	parts, _ := filepath.Glob(filepath.Join(dir, "lib.so.zst.*"))
	sort.Strings(parts)
	if len(parts) < 3 {
		t.Fatalf("want the data split into several parts, got %d", len(parts))
	}
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	out := filepath.Join(dir, "out.so")

	if b, err := exec.Command(bin, append([]string{"-o", out, "-sha256", want}, parts...)...).CombinedOutput(); err != nil {
		t.Fatalf("unzstd: %v\n%s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("round trip differs (err %v, %d bytes, want %d)", err, len(got), len(data))
	}

	// Parts out of order, or one missing: a clear error and no output file.
	for name, bad := range map[string][]string{
		"swapped": append([]string{parts[1], parts[0]}, parts[2:]...),
		"missing": append(append([]string{}, parts[:1]...), parts[2:]...),
	} {
		bad := bad
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(dir, name+".so")
			b, err := exec.Command(bin, append([]string{"-o", out, "-sha256", want}, bad...)...).CombinedOutput()
			if err == nil {
				t.Fatalf("unzstd accepted %s parts", name)
			}
			if !strings.Contains(string(b), "unzstd:") {
				t.Fatalf("want an unzstd error message, got %q", b)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatalf("%s left behind after a failure", out)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	if err := run("", "", []string{"a"}); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Fatalf("want usage error, got %v", err)
	}
	if err := run(filepath.Join(t.TempDir(), "x"), "", []string{"/nonexistent/part.00"}); err == nil || !strings.Contains(err.Error(), "/nonexistent/part.00") {
		t.Fatalf("want error naming the missing part, got %v", err)
	}
}
