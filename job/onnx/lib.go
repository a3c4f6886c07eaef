// Package onnx owns the process-wide ONNX Runtime environment: finding the shared library and
// initialising it exactly once. Model sessions are created by the packages that run models.
package onnx

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// PinnedVersion is the ONNX Runtime core that job/setup/fetch-onnxruntime.sh installs.
const PinnedVersion = "1.29.0"

// LibraryPath returns where the ONNX Runtime core library is: $JELLYBEAN_ORT_LIB if set, else the pinned
// copy under <root>/.cache (root = $JELLYBEAN_ROOT or the working directory). It does not download.
func LibraryPath() (string, error) {
	if p := os.Getenv("JELLYBEAN_ORT_LIB"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("JELLYBEAN_ORT_LIB=%s: %w", p, err)
		}
		return p, nil
	}
	var tried []string
	for _, root := range candidateRoots() {
		p := filepath.Join(root, ".cache", "onnxruntime", PinnedVersion, "libonnxruntime.so.1")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		tried = append(tried, p)
	}
	return "", fmt.Errorf("ONNX Runtime library not found (looked at $JELLYBEAN_ORT_LIB and %v); "+
		"run job/setup/fetch-onnxruntime.sh or set JELLYBEAN_ORT_LIB", tried)
}

// candidateRoots lists directories that may hold .cache/: $JELLYBEAN_ROOT, the working directory and its
// parents (so tests running inside a package directory find the repository's cache).
func candidateRoots() []string {
	var roots []string
	if r := os.Getenv("JELLYBEAN_ROOT"); r != "" {
		roots = append(roots, r)
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			roots = append(roots, d)
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return roots
}

var (
	initOnce sync.Once
	initErr  error
)

// Init initialises the ONNX Runtime environment once per process and returns the library's version.
func Init() (string, error) {
	initOnce.Do(func() {
		var path string
		path, initErr = LibraryPath()
		if initErr != nil {
			return
		}
		ort.SetSharedLibraryPath(path)
		if err := ort.InitializeEnvironment(); err != nil {
			initErr = fmt.Errorf("initialising ONNX Runtime from %s: %w", path, err)
		}
	})
	if initErr != nil {
		return "", initErr
	}
	return ort.GetVersion(), nil
}
