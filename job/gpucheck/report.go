package gpucheck

import (
	"fmt"
	"strings"
)

// Markdown renders the report as one markdown document: host facts, the latency table, the checks.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## jellybean gpucheck — %s, host %s, %d CPUs, ONNX Runtime %s\n\n", r.Date, r.Host, r.CPUs, r.ORTVersion)
	inv := r.Inventory
	if len(inv.Devices) == 0 {
		fmt.Fprintf(&b, "no GPU (%s): CPU column only\n\n", inv.NoGPUReason)
	} else {
		fmt.Fprintf(&b, "driver %s, CUDA %s\n\n", inv.DriverVersion, inv.CUDAVersion)
		for _, d := range inv.Devices {
			fmt.Fprintf(&b, "- cuda:%d %s (%s), %.1f GiB, compute capability %s\n", d.Index, d.Name, d.UUID,
				float64(d.MemoryTotalBytes)/(1<<30), d.ComputeCapability)
		}
		fmt.Fprintf(&b, "\nCUDA provider: %s.\n\n", r.CUDA)
	}
	fmt.Fprintf(&b, "Median latency in ms of %d runs after 2 warm-up runs; CPU with %d intra-op threads; inputs: %s. Outputs match when max |GPU-CPU| <= %g x max(1, max |CPU output|).\n\n",
		r.Runs, r.Threads, r.Inputs, r.RelTolerance)
	b.WriteString("| node | variant | batch | input | CPU ms | CUDA ms | speed-up | max abs diff | output scale | match |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, row := range r.Rows {
		if row.Error != "" {
			fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | | | | | ERROR: %s |\n", row.Node, row.Variant, row.Batch, row.Input, ms(row.CPUms), oneLine(row.Error))
			continue
		}
		if row.CUDAms == 0 {
			fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | no GPU | | | %.3g | |\n", row.Node, row.Variant, row.Batch, row.Input, ms(row.CPUms), row.Scale)
			continue
		}
		match := "yes"
		if !row.DiffOK {
			match = "NO"
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %.1fx | %.2g | %.3g | %s |\n", row.Node, row.Variant, row.Batch,
			row.Input, ms(row.CPUms), ms(row.CUDAms), row.Speedup, row.MaxAbsDiff, row.Scale, match)
	}
	b.WriteString("\n| check | result | detail |\n|---|---|---|\n")
	for _, c := range r.Checks {
		res := "ok"
		if !c.OK {
			res = "FAILED"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", c.Name, res, oneLine(c.Detail))
	}
	verdict := "all checks passed"
	if !r.OK() {
		verdict = "SOME CHECKS FAILED"
	}
	fmt.Fprintf(&b, "\n%s in %.0f s\n", verdict, r.Seconds)
	return b.String()
}

func ms(v float64) string {
	if v == 0 {
		return ""
	}
	if v < 10 {
		return fmt.Sprintf("%.3f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// oneLine keeps a table cell on one line and free of the column separator.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", "/")
}
