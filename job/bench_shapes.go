package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"jellybean/job/gpucheck"
)

func init() {
	registerBench("shapes", "what the first run of each new input shape costs a model on a device (ONNX Runtime prepares kernels per shape)", benchShapes)
}

// benchShapes measures one model's first-run cost per new input shape; see gpucheck.ShapeCost.
func benchShapes(args []string) error {
	fs := flag.NewFlagSet("bench shapes", flag.ContinueOnError)
	model := fs.String("model", "", "ONNX model with one float32 input (required)")
	device := fs.String("device", "cpu", "cpu or cuda:N")
	threads := fs.Int("threads", 0, "CPU intra-op threads (0 = ONNX Runtime's default)")
	shapes := fs.String("shapes", "", "input shapes in the order run, e.g. 8x3x48x64,8x3x48x96 (the first only warms up)")
	runs := fs.Int("runs", 3, "steady runs after each shape's first")
	label := fs.String("label", "bench shapes", "title of the printed table")
	jsonOut := fs.String("json", "", "also write the report as JSON to `FILE`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *model == "" {
		return fmt.Errorf("bench shapes: --model is required")
	}
	dims, err := gpucheck.ParseShapes(*shapes)
	if err != nil {
		return fmt.Errorf("bench shapes: --shapes: %w", err)
	}
	rep, err := gpucheck.ShapeCost(*model, *device, *threads, dims, *runs)
	if err != nil {
		return fmt.Errorf("bench shapes: %w", err)
	}
	fmt.Print(rep.Markdown(*label))
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}
