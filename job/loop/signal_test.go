package loop

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A signal to the loop during its profile step stops the profile job it started, at once.
func TestProfileStepStopsOnSignal(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	fake := filepath.Join(dir, "jellybean")
	// A stand-in for the profile job: records its PID and waits.
	script := "#!/bin/sh\necho $$ > " + pidFile + "\nexec sleep 60\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	sigs := make(chan os.Signal, 1)
	cfg := Config{Binary: fake, Root: dir, Hostfile: "h", Workflow: "w", Batch: 8, Threads: 1, Log: os.Stderr}
	cfg.Launch.Signals = sigs
	go func() {
		for i := 0; i < 100; i++ {
			if _, err := os.Stat(pidFile); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		sigs <- syscall.SIGTERM
	}()
	start := time.Now()
	err := runProfile(cfg, cfg.Hostfile, "m.jsonl", filepath.Join(dir, "out"))
	if err == nil || !strings.Contains(err.Error(), "interrupted by terminated during the profile step") {
		t.Fatalf("error %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v", d)
	}
}
