package onnx

import (
	"strings"
	"testing"

	"jellybean/job/gpu"
)

func TestInitLoadsPinnedLibrary(t *testing.T) {
	needLibrary(t)
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

func TestNewSessionOptions(t *testing.T) {
	needLibrary(t)
	if _, err := Init(); err != nil {
		t.Fatal(err)
	}
	opts, err := NewSessionOptions("cpu", 2)
	if err != nil {
		t.Fatal(err)
	}
	opts.Destroy()
	if _, err := NewSessionOptions("tpu:0", 1); err == nil || !strings.Contains(err.Error(), "tpu:0") {
		t.Fatalf("want error naming the bad device, got %v", err)
	}
}

// Asking for a GPU must succeed only where one exists; on a CPU-only host (CI) it must fail with a message
// naming the device, not crash.
func TestCUDAOptionsFailCleanlyWithoutProvider(t *testing.T) {
	needLibrary(t)
	if _, err := Init(); err != nil {
		t.Fatal(err)
	}
	inv, err := gpu.Discover()
	if err != nil {
		t.Fatal(err)
	}
	opts, err := NewSessionOptions("cuda:0", 1)
	if err == nil {
		opts.Destroy()
		if len(inv.Devices) == 0 {
			t.Fatal("CUDA session options created on a host where NVML sees no GPU")
		}
		return
	}
	t.Logf("CUDA unavailable as expected: %v", err)
	if !strings.Contains(err.Error(), "cuda:0") {
		t.Fatalf("error should name the device: %v", err)
	}
}

// needLibrary skips in the short tier, which runs with Go alone (no ONNX Runtime library).
func needLibrary(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the ONNX Runtime library")
	}
}
