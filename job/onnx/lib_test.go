package onnx

import (
	"strings"
	"testing"
)

func TestInitLoadsPinnedLibrary(t *testing.T) {
	v, err := Init()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, PinnedVersion) {
		t.Fatalf("ONNX Runtime version %q, want %s", v, PinnedVersion)
	}
}

func TestLibraryPathRejectsMissingOverride(t *testing.T) {
	t.Setenv("JELLYBEAN_ORT_LIB", "/nonexistent/libonnxruntime.so")
	if _, err := LibraryPath(); err == nil || !strings.Contains(err.Error(), "/nonexistent/libonnxruntime.so") {
		t.Fatalf("want error naming the missing path, got %v", err)
	}
}
