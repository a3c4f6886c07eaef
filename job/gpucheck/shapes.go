package gpucheck

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	ort "github.com/yalue/onnxruntime_go"

	"jellybean/job/onnx"
)

// What a new input shape costs. ONNX Runtime's CUDA provider prepares kernels per input shape, so the
// first run of every shape it has not seen is slower than the runs after it; the workloads feed shapes
// that change from batch to batch (audio lengths, text-line widths, partial batches). ShapeCost measures
// that first-run cost per shape, so settings and padding policies can be compared by measurement, and
// what a shape costs when the session comes back to it after running other shapes (revisit): whether the
// provider keeps what it prepared per shape or only for the shape it ran last.

// ShapeRow is one input shape's first run and its steady runs after it.
type ShapeRow struct {
	Shape    string  `json:"shape"`
	FirstMs  float64 `json:"first_ms"`
	SteadyMs float64 `json:"steady_ms"` // median of the runs after the first
	// RevisitMs is one run of the shape after every shape was run (the run before it had another shape).
	RevisitMs float64 `json:"revisit_ms"`
}

// ShapeReport is one model's measurement on one device.
type ShapeReport struct {
	Model  string     `json:"model"`
	Device string     `json:"device"`
	Runs   int        `json:"runs"`
	Rows   []ShapeRow `json:"rows"`
}

// ParseShapes reads "8x3x48x64,8x3x48x96" (dimensions joined by x, shapes by commas).
func ParseShapes(s string) ([][]int64, error) {
	var out [][]int64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		var dims []int64
		for _, d := range strings.Split(part, "x") {
			n, err := strconv.ParseInt(d, 10, 64)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("shape %q: dimension %q is not a positive integer", part, d)
			}
			dims = append(dims, n)
		}
		out = append(out, dims)
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("shapes %q: want at least two (the first only warms the session up)", s)
	}
	return out, nil
}

// FormatShape writes dims as ParseShapes reads them.
func FormatShape(dims []int64) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		parts[i] = strconv.FormatInt(d, 10)
	}
	return strings.Join(parts, "x")
}

// ShapeCost opens the model (one float32 input) on device and runs it on each shape in turn: once (the
// first run) and then runs more times (steady). The first shape is run twice before anything is timed,
// so that the session's own start-up is not counted as a new shape's cost. Inputs are seeded random
// numbers in [-1, 1).
func ShapeCost(model, device string, threads int, shapes [][]int64, runs int) (*ShapeReport, error) {
	if runs < 1 {
		return nil, fmt.Errorf("runs must be at least 1")
	}
	ins, outs, err := onnx.ReadIO(model)
	if err != nil {
		return nil, err
	}
	if len(ins) != 1 {
		return nil, fmt.Errorf("%s: want one float32 input, the model has %d inputs", model, len(ins))
	}
	if ins[0].Elem != onnx.ElemFloat32 {
		return nil, fmt.Errorf("%s: want one float32 input, input %q is %s", model, ins[0].Name, onnx.ElemName(ins[0].Elem))
	}
	for _, dims := range shapes {
		if ins[0].Dims != nil && len(dims) != len(ins[0].Dims) {
			return nil, fmt.Errorf("%s: shape %s has %d dimensions, input %q has %d", model, FormatShape(dims), len(dims), ins[0].Name, len(ins[0].Dims))
		}
	}
	outNames := make([]string, len(outs))
	for i, o := range outs {
		outNames[i] = o.Name
	}
	sess, err := onnx.Open(model, []string{ins[0].Name}, outNames, device, threads)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	run := func(dims []int64) (float64, error) {
		n := int64(1)
		for _, d := range dims {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = rng.Float32()*2 - 1
		}
		in, err := ort.NewTensor(ort.NewShape(dims...), data)
		if err != nil {
			return 0, err
		}
		defer in.Destroy()
		res, d, err := sess.Run([]ort.Value{in}, len(outNames))
		if err != nil {
			return 0, err
		}
		onnx.DestroyAll(res)
		return float64(d.Microseconds()) / 1000, nil
	}
	for range 2 {
		if _, err := run(shapes[0]); err != nil {
			return nil, err
		}
	}
	rep := &ShapeReport{Model: model, Device: device, Runs: runs}
	for _, dims := range shapes[1:] {
		first, err := run(dims)
		if err != nil {
			return nil, fmt.Errorf("shape %s: %w", FormatShape(dims), err)
		}
		steady := make([]float64, runs)
		for i := range steady {
			if steady[i], err = run(dims); err != nil {
				return nil, fmt.Errorf("shape %s: %w", FormatShape(dims), err)
			}
		}
		rep.Rows = append(rep.Rows, ShapeRow{Shape: FormatShape(dims), FirstMs: first, SteadyMs: Median(steady)})
	}
	// The revisit pass: every shape once more, in the same order, so each run follows another shape (the
	// warm-up shape first: with one shape measured, its revisit would otherwise follow itself).
	if _, err := run(shapes[0]); err != nil {
		return nil, err
	}
	for i, dims := range shapes[1:] {
		if rep.Rows[i].RevisitMs, err = run(dims); err != nil {
			return nil, fmt.Errorf("shape %s (revisit): %w", FormatShape(dims), err)
		}
	}
	return rep, nil
}

// RevisitCost is the median, over the shapes measured, of a revisit's excess over the steady runs: about
// zero when the provider keeps what it prepared for every shape, about NewShapeCost when it prepares the
// shape again whenever the previous run had another one.
func (r *ShapeReport) RevisitCost() float64 {
	ex := make([]float64, len(r.Rows))
	for i, row := range r.Rows {
		ex[i] = row.RevisitMs - row.SteadyMs
	}
	return Median(ex)
}

// NewShapeCost is the median, over the shapes measured, of a first run's excess over the steady runs.
func (r *ShapeReport) NewShapeCost() float64 {
	ex := make([]float64, len(r.Rows))
	for i, row := range r.Rows {
		ex[i] = row.FirstMs - row.SteadyMs
	}
	return Median(ex)
}

// Markdown renders the report as a table with the median new-shape cost under it.
func (r *ShapeReport) Markdown(label string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s on %s (first run of each shape, then the median of %d runs; then each shape once more, after the others)\n\n", label, r.Model, r.Device, r.Runs)
	b.WriteString("| input shape | first run ms | steady ms | first − steady ms | revisit ms | revisit − steady ms |\n|---|---|---|---|---|---|\n")
	for _, row := range r.Rows {
		fmt.Fprintf(&b, "| %s | %.2f | %.2f | %.2f | %.2f | %.2f |\n", row.Shape, row.FirstMs, row.SteadyMs, row.FirstMs-row.SteadyMs, row.RevisitMs, row.RevisitMs-row.SteadyMs)
	}
	fmt.Fprintf(&b, "\nmedian cost of a new shape: %.2f ms; of coming back to a shape after others: %.2f ms\n", r.NewShapeCost(), r.RevisitCost())
	return b.String()
}
