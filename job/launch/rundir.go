package launch

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// Names of the files the launcher keeps in a run directory (see ARCHITECTURE.md, run directory contract).
const (
	PlanFile     = "plan.toml"
	HostfileFile = "hostfile"
	RanksDir     = "ranks"
	ResultsFile  = "results.jsonl"
	SummaryFile  = "summary.json"
)

// runIDPattern is what a run id may look like: it becomes a directory name and part of ssh command lines.
var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidRunID reports whether id is usable as a run id.
func ValidRunID(id string) bool { return runIDPattern.MatchString(id) && id != "." && id != ".." }

// NewRunID returns a timestamp-based id, e.g. "20261128-045012-3f9a": sortable by start time, with a
// random suffix so that two launches in the same second still differ.
func NewRunID(now time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// NewSecret returns a fresh random per-job secret, hex encoded (32 bytes of entropy).
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux (Go ≥ 1.24 panics instead)
	return hex.EncodeToString(b[:])
}

// createRunDir makes runsDir/<id> for a new run, choosing a fresh id when wantID is "", and copies the
// plan (if any) and hostfile into it. It returns the id.
func createRunDir(runsDir, wantID, planPath, hostfilePath string) (string, error) {
	if err := os.MkdirAll(runsDir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", runsDir, err)
	}
	id := wantID
	for attempt := 0; ; attempt++ {
		if id == "" {
			id = NewRunID(time.Now())
		}
		err := os.Mkdir(filepath.Join(runsDir, id), 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("creating run directory: %w", err)
		}
		if wantID != "" {
			return "", fmt.Errorf("run %s already exists in %s (use --resume %s to continue it)", id, runsDir, id)
		}
		if attempt > 100 {
			return "", fmt.Errorf("could not find an unused run id in %s", runsDir)
		}
		id = ""
	}
	dir := filepath.Join(runsDir, id)
	if err := os.MkdirAll(filepath.Join(dir, RanksDir), 0o755); err != nil {
		return "", err
	}
	if planPath != "" { // "" for sub-commands other than run
		if err := copyFile(planPath, filepath.Join(dir, PlanFile)); err != nil {
			return "", err
		}
	}
	if err := copyFile(hostfilePath, filepath.Join(dir, HostfileFile)); err != nil {
		return "", err
	}
	return id, nil
}

// checkResumable verifies that runsDir/<id> is a run the launcher can continue. If the user also named a
// plan or hostfile, it must be identical to the copy: resuming a run under a different plan would mix
// results of two jobs.
func checkResumable(runsDir, id, planPath, hostfilePath string) error {
	dir := filepath.Join(runsDir, id)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("--resume %s: no run directory %s", id, dir)
	}
	for _, c := range []struct{ given, copy, what string }{
		{planPath, filepath.Join(dir, PlanFile), "plan"},
		{hostfilePath, filepath.Join(dir, HostfileFile), "hostfile"},
	} {
		saved, err := os.ReadFile(c.copy)
		if err != nil {
			return fmt.Errorf("--resume %s: %w", id, err)
		}
		if c.given == "" {
			continue
		}
		given, err := os.ReadFile(c.given)
		if err != nil {
			return fmt.Errorf("reading %s: %w", c.what, err)
		}
		if string(given) != string(saved) {
			return fmt.Errorf("--resume %s: %s %s differs from the run's copy %s (omit it to reuse the copy)",
				id, c.what, c.given, c.copy)
		}
	}
	return os.MkdirAll(filepath.Join(dir, RanksDir), 0o755)
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	return nil
}
