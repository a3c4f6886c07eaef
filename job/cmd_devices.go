package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"jellybean/job/gpu"
)

func init() {
	register("devices", "list this host's GPUs (NVML); says so on a CPU-only host", runDevices)
}

func runDevices(args []string) error {
	fs := flag.NewFlagSet("devices", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the inventory as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	inv, err := gpu.Discover()
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(inv)
	}
	if len(inv.Devices) == 0 {
		fmt.Printf("no GPU on this host (%s); CPU placements only\n", inv.NoGPUReason)
		return nil
	}
	fmt.Printf("driver %s, CUDA %s, %d GPU(s)\n", inv.DriverVersion, inv.CUDAVersion, len(inv.Devices))
	for _, d := range inv.Devices {
		fmt.Printf("cuda:%d  %s  %s  memory %.1f GiB total, %.1f GiB free  compute capability %s\n",
			d.Index, d.Name, d.UUID, float64(d.MemoryTotalBytes)/(1<<30), float64(d.MemoryFreeBytes)/(1<<30), d.ComputeCapability)
	}
	return nil
}
