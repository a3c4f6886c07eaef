// Package gpu discovers NVIDIA GPUs through NVML and tells placement the one thing it needs: does this
// host have the device a plan asks for? On a CPU-only host (no libnvidia-ml) discovery reports zero GPUs
// and a reason instead of failing, so the same binary runs everywhere.
package gpu

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Device is one GPU as NVML reports it.
type Device struct {
	Index             int    `json:"index"`
	Name              string `json:"name"`
	UUID              string `json:"uuid"`
	MemoryTotalBytes  uint64 `json:"memory_total_bytes"`
	MemoryFreeBytes   uint64 `json:"memory_free_bytes"`
	ComputeCapability string `json:"compute_capability"`
}

// Inventory is what discovery found on this host.
type Inventory struct {
	Devices       []Device `json:"devices"`
	DriverVersion string   `json:"driver_version,omitempty"`
	CUDAVersion   string   `json:"cuda_version,omitempty"` // highest CUDA version the driver supports, e.g. "13.0"
	// NoGPUReason says why Devices is empty (e.g. the NVML library is absent on a CPU-only host).
	NoGPUReason string `json:"no_gpu_reason,omitempty"`
}

// Discover lists the GPUs visible through NVML. It returns an error only when NVML is present but
// misbehaves; a host without NVIDIA's driver gets an empty inventory with NoGPUReason set.
func Discover() (Inventory, error) {
	if ret := nvmlInit(); ret != nvmlSuccess {
		if ret == nvmlLibraryNotFound || ret == nvmlDriverNotLoaded || ret == nvmlNoPermission {
			return Inventory{Devices: []Device{}, NoGPUReason: "NVML unavailable: " + ret.String()}, nil
		}
		return Inventory{}, fmt.Errorf("NVML init: %s", ret)
	}
	defer nvmlShutdown()

	inv := Inventory{Devices: []Device{}}
	if v, ret := nvmlDriverVersion(); ret == nvmlSuccess {
		inv.DriverVersion = v
	}
	if v, ret := nvmlCUDADriverVersion(); ret == nvmlSuccess {
		inv.CUDAVersion = fmt.Sprintf("%d.%d", v/1000, (v%1000)/10)
	}
	n, ret := nvmlDeviceCount()
	if ret != nvmlSuccess {
		return Inventory{}, fmt.Errorf("NVML device count: %s", ret)
	}
	for i := 0; i < n; i++ {
		h, ret := nvmlDeviceByIndex(i)
		if ret != nvmlSuccess {
			return Inventory{}, fmt.Errorf("NVML device %d: %s", i, ret)
		}
		d := Device{Index: i}
		d.Name, _ = h.name()
		d.UUID, _ = h.uuid()
		if total, free, ret := h.memory(); ret == nvmlSuccess {
			d.MemoryTotalBytes, d.MemoryFreeBytes = total, free
		}
		if major, minor, ret := h.computeCapability(); ret == nvmlSuccess {
			d.ComputeCapability = fmt.Sprintf("%d.%d", major, minor)
		}
		inv.Devices = append(inv.Devices, d)
	}
	if len(inv.Devices) == 0 {
		inv.NoGPUReason = "NVML reports no devices"
	}
	return inv, nil
}

// ParseDevice parses a plan device string: "cpu" (or "") gives cuda=false; "cuda" or "cuda:N" gives the
// ordinal N (default 0).
func ParseDevice(s string) (cuda bool, ordinal int, err error) {
	switch {
	case s == "" || s == "cpu":
		return false, 0, nil
	case s == "cuda":
		return true, 0, nil
	case strings.HasPrefix(s, "cuda:"):
		n, err := strconv.Atoi(s[len("cuda:"):])
		if err != nil || n < 0 {
			return false, 0, fmt.Errorf("device %q: want cpu, cuda or cuda:N with N >= 0", s)
		}
		return true, n, nil
	}
	return false, 0, fmt.Errorf("device %q: want cpu, cuda or cuda:N", s)
}

// visibleCount is how many of the inventory's GPUs this process may use, honouring CUDA_VISIBLE_DEVICES
// the way the CUDA runtime does (a list of ordinals or UUIDs; empty = none).
func visibleCount(inv Inventory) int {
	v, set := os.LookupEnv("CUDA_VISIBLE_DEVICES")
	if !set {
		return len(inv.Devices)
	}
	v = strings.TrimSpace(v)
	if v == "" || v == "-1" {
		return 0
	}
	n := 0
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if i, err := strconv.Atoi(f); err == nil {
			if i < 0 || i >= len(inv.Devices) {
				break // the CUDA runtime stops at the first invalid entry
			}
			n++
			continue
		}
		found := false
		for _, d := range inv.Devices {
			if d.UUID == f || strings.HasPrefix(d.UUID, f) {
				found = true
			}
		}
		if !found {
			break
		}
		n++
	}
	return n
}

// DeviceForSlot is the device a rank with the given slot index on its host uses when it asks for "cuda":
// the host's visible GPUs round-robin over its slots (local rank → GPU), as the runner places cuda workers.
// "cpu" (or "") stays "cpu". A host without a visible GPU is an error naming host and rank.
func DeviceForSlot(inv Inventory, want string, localIndex int, host string, rank int) (string, error) {
	switch want {
	case "", "cpu":
		return "cpu", nil
	case "cuda":
		n := visibleCount(inv)
		if n == 0 {
			why := inv.NoGPUReason
			if why == "" {
				why = "no GPU visible (CUDA_VISIBLE_DEVICES)"
			}
			return "", fmt.Errorf("rank %d on host %s: asked for cuda, but this host has no GPU (%s)", rank, host, why)
		}
		return fmt.Sprintf("cuda:%d", localIndex%n), nil
	}
	return "", fmt.Errorf("rank %d on host %s: device %q: want cpu or cuda", rank, host, want)
}

// CheckPlacement returns an error naming the host and rank when device asks for a GPU this host cannot
// provide; nil for CPU placements and for GPUs that exist.
func CheckPlacement(inv Inventory, device, host string, rank int) error {
	cuda, ordinal, err := ParseDevice(device)
	if err != nil {
		return fmt.Errorf("rank %d on host %s: %w", rank, host, err)
	}
	if !cuda {
		return nil
	}
	visible := visibleCount(inv)
	if ordinal < visible {
		return nil
	}
	why := inv.NoGPUReason
	if why == "" {
		why = fmt.Sprintf("%d GPU(s) visible", visible)
	}
	return fmt.Errorf("rank %d on host %s: plan places it on %s, but this host has no such GPU (%s)", rank, host, device, why)
}
