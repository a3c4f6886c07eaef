// Package browsertest loads HTML pages in Debian's headless chromium for tests that check what a user
// would see (scripts run, images decoded), not just the HTML we wrote.
package browsertest

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Find returns the chromium executable, failing the test (not skipping it) when none is installed. The
// -short tier is Go alone, so there the test is skipped; the full suite runs it.
func Find(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs headless chromium: runs in the full suite (go test without -short)")
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: install it with `apt-get install -y chromium` (this test loads a page in a headless browser)")
	return ""
}

// DumpDOM loads page in headless chromium (scripts run for up to 5 s of virtual time) and returns the DOM.
func DumpDOM(t *testing.T, browser, page string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	abs, err := filepath.Abs(page)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir="+t.TempDir(),
		"--virtual-time-budget=5000", "--dump-dom", "file://"+abs)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return string(dom)
}
