package runid

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestComputeAndDiff(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"hostfile":           write(t, filepath.Join(dir, "hostfile"), "localhost slots=6\n"),
		"model ImageFeature": write(t, filepath.Join(dir, "m.onnx"), "weights v1"),
		"dataset":            write(t, filepath.Join(dir, "manifest.jsonl"), "{}\n"),
	}
	before, err := Compute("v1", "", []byte("plan a"), files)
	if err != nil {
		t.Fatal(err)
	}
	if len(before.Files) != 4 || before.Files[0].Role != "dataset" || before.Files[3].Role != PlanRole {
		t.Fatalf("inputs not sorted by role or missing: %+v", before.Files)
	}
	if err := Write(dir, before); err != nil {
		t.Fatal(err)
	}
	stored, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}

	same, err := Compute("v2", "", []byte("plan a"), files)
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(stored, same); len(d) != 0 {
		t.Errorf("identical inputs (another build version only) differ: %v", d)
	}

	write(t, files["model ImageFeature"], "weights v2")
	moved := filepath.Join(dir, "elsewhere.jsonl")
	write(t, moved, "{}\n")
	files["dataset"] = moved // same content, other path: not a change
	delete(files, "hostfile")
	files["vocab"] = write(t, filepath.Join(dir, "vocab.json"), "[]")
	after, err := Compute("v1", "", []byte("plan b"), files)
	if err != nil {
		t.Fatal(err)
	}
	d := Diff(stored, after)
	var got []string
	for _, c := range d {
		got = append(got, c.String())
	}
	msg := strings.Join(got, "\n")
	for _, want := range []string{
		"hostfile (" + filepath.Join(dir, "hostfile") + "): sha256 ",
		"no longer an input",
		"model ImageFeature (" + filepath.Join(dir, "m.onnx") + "): sha256 " + before.Files[2].SHA256[:12] + " → " + after.Files[1].SHA256[:12],
		"plan: sha256 ",
		"vocab (" + filepath.Join(dir, "vocab.json") + "): not an input before",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("diff does not say %q:\n%s", want, msg)
		}
	}
	if len(d) != 4 {
		t.Errorf("want 4 changes (hostfile, model, plan, vocab), got %d:\n%s", len(d), msg)
	}
	if s := Describe(d, 2); !strings.HasSuffix(s, "; and 2 more") || strings.Count(s, ";") != 2 {
		t.Errorf("Describe(…, 2) = %q", s)
	}
}

func TestComputeNamesUnreadableFile(t *testing.T) {
	_, err := Compute("v", "", nil, map[string]string{"model VQA": "/nonexistent/vqa.onnx"})
	if err == nil || !strings.Contains(err.Error(), "model VQA") || !strings.Contains(err.Error(), "/nonexistent/vqa.onnx") {
		t.Errorf("got %v; want an error naming the role and path", err)
	}
	if _, err := Compute("v", "", nil, map[string]string{PlanRole: "x"}); err == nil {
		t.Error("a file claiming the plan's role was accepted")
	}
}

func TestReadMissingAndCorrupt(t *testing.T) {
	dir := t.TempDir()
	if _, err := Read(dir); !errors.Is(err, ErrNoFingerprint) {
		t.Errorf("Read of a run without inputs.json: %v", err)
	}
	write(t, filepath.Join(dir, InputsFile), "{not json")
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), InputsFile) {
		t.Errorf("corrupt inputs.json: %v", err)
	}
}

func TestLockSecondWriterRefusedAtOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run-7")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Acquire(dir)
	var inUse *InUseError
	if !errors.As(err, &inUse) {
		t.Fatalf("second Acquire: %v; want *InUseError", err)
	}
	host, _ := os.Hostname()
	if want := fmt.Sprintf("run ID run-7 is in use by PID %d on %s", os.Getpid(), host); err.Error() != want {
		t.Errorf("got %q; want %q", err, want)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("refusal took %v", d)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
}

// A holder that dies without releasing (kill -9) frees the lock: the kernel drops the flock.
func TestLockReleasedWhenHolderDies(t *testing.T) {
	if os.Getenv("RUNID_TEST_HOLD") != "" {
		if _, err := Acquire(os.Getenv("RUNID_TEST_HOLD")); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestLockReleasedWhenHolderDies$")
	cmd.Env = append(os.Environ(), "RUNID_TEST_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "locked") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("holder said %q", buf[:n])
	}
	_, err = Acquire(dir)
	var inUse *InUseError
	if !errors.As(err, &inUse) || inUse.PID != cmd.Process.Pid {
		t.Errorf("while another process holds it: %v; want its PID %d", err, cmd.Process.Pid)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	l.Release()
}

// BenchmarkComputeVQASized fingerprints inputs shaped like the default job's: 800 dataset files of 75 KB
// (400 images and questions) and 10 MB of models, about 70 MB in all.
func BenchmarkComputeVQASized(b *testing.B) {
	dir := b.TempDir()
	files := map[string]string{}
	item := make([]byte, 75<<10)
	for i := 0; i < 800; i++ {
		p := filepath.Join(dir, fmt.Sprintf("item%d", i))
		item[0] = byte(i)
		if err := os.WriteFile(p, item, 0o644); err != nil {
			b.Fatal(err)
		}
		files[fmt.Sprintf("dataset file %d", i)] = p
	}
	model := filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(model, make([]byte, 10<<20), 0o644); err != nil {
		b.Fatal(err)
	}
	files["model"] = model
	b.SetBytes(800*75<<10 + 10<<20)
	for b.Loop() {
		if _, err := Compute("v", "plan.toml", []byte("plan"), files); err != nil {
			b.Fatal(err)
		}
	}
}

func TestLauncherHolds(t *testing.T) {
	env := map[string]string{}
	if LauncherHolds(func(k string) string { return env[k] }) {
		t.Error("holds without the variable")
	}
	env[HeldEnv] = "1234"
	if !LauncherHolds(func(k string) string { return env[k] }) {
		t.Error("does not hold with the variable")
	}
}
