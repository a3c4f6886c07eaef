package gpucheck

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jellybean/collective"
	"jellybean/job/gpu"
	"jellybean/plan"
	"jellybean/plan/workflow"
)

func TestParseBatches(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		bad  bool
	}{
		{"1,8", []int{1, 8}, false}, {"4", []int{4}, false}, {"1,,2", []int{1, 2}, false},
		{"", nil, true}, {"0", nil, true}, {"-1", nil, true}, {"1,x", nil, true}, {"2.5", nil, true}, {"08", nil, true},
	} {
		got, err := ParseBatches(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && !equalInts(got, tc.want)) {
			t.Errorf("ParseBatches(%q) = %v, %v", tc.in, got, err)
		}
		if tc.bad && err != nil && !strings.Contains(err.Error(), "--batches") {
			t.Errorf("error should name the flag: %v", err)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDiffsAndTolerance(t *testing.T) {
	nan := float32(math.NaN())
	for _, tc := range []struct {
		a, b []float32
		want float64
	}{
		{[]float32{1, 2, 3}, []float32{1, 2.5, 2}, 1},
		{[]float32{}, []float32{}, 0},
		{[]float32{1}, []float32{1, 2}, math.Inf(1)},
		{[]float32{1, nan}, []float32{1, 2}, math.Inf(1)},
	} {
		if got := MaxAbsDiff(tc.a, tc.b); got != tc.want {
			t.Errorf("MaxAbsDiff(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	if MaxAbs([]float32{-7, 3}) != 7 {
		t.Error("MaxAbs")
	}
	for _, tc := range []struct {
		diff, scale float64
		ok          bool
	}{{0.005, 0.1, true}, {0.02, 0.1, false}, {0.05, 10, true}, {0.2, 10, false}, {math.Inf(1), 1, false}} {
		if WithinTolerance(tc.diff, tc.scale) != tc.ok {
			t.Errorf("WithinTolerance(%v, %v) != %v", tc.diff, tc.scale, tc.ok)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestInputOf(t *testing.T) {
	f := collective.FromFloat32s("image", []int64{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	in, err := InputOf("image", f)
	if err != nil || !equalInt64(in.Shape, []int64{2, 3}) || MaxAbsDiff(in.F32, []float32{1, 2, 3, 4, 5, 6}) != 0 {
		t.Errorf("float32: %+v, %v", in, err)
	}
	q := collective.FromInt64s("question", []int64{1, 2}, []int64{7, -1})
	if in, err := InputOf("question", q); err != nil || !equalInt64(in.I64, []int64{7, -1}) {
		t.Errorf("int64: %+v, %v", in, err)
	}
	if _, err := InputOf("x", collective.Tensor{Name: "x", DType: collective.Float16, Shape: []int64{1}, Data: []byte{0, 0}}); err == nil || !strings.Contains(err.Error(), "input x") {
		t.Errorf("float16 accepted or error does not name the input: %v", err)
	}
}

func equalInt64(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRejection(t *testing.T) {
	msg := "jellybean run: rank 3 on host localhost: plan places it on cuda:0, but this host has no such GPU (NVML unavailable)"
	rank, host, dev, ok := Rejection("noise\n" + msg + "\n")
	if !ok || rank != 3 || host != "localhost" || dev != "cuda:0" {
		t.Fatalf("Rejection = %d %q %q %v", rank, host, dev, ok)
	}
	if _, _, _, ok := Rejection("rank 3 stopped: received terminated"); ok {
		t.Fatal("unrelated output taken for a rejection")
	}
}

func TestWriteMixedPlan(t *testing.T) {
	root, _ := filepath.Abs("../..")
	dir := t.TempDir()
	for _, tc := range []struct {
		base      string
		stage     string
		wantRank  int
		wantSlots string
		wantErr   string
	}{{"", "", 3, "slots=6", ""}, {"", "ImageFeatures", 2, "slots=6", ""}, {"", "Nope", 0, "", `no stage "Nope"`},
		// A stage of two workers: only its first goes to the GPU.
		{"plan/examples/ocr.toml", "Recognise", 3, "slots=7", ""}} {
		planPath, hostfile, rank, err := WriteMixedPlan(JobConfig{Root: root, BasePlan: tc.base, Stage: tc.stage, Device: "cuda:1", Items: 5, Rate: 2, BasePort: 31000}, dir)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("stage %q: want error %q, got %v", tc.stage, tc.wantErr, err)
			}
			continue
		}
		if err != nil || rank != tc.wantRank {
			t.Fatalf("stage %q: rank %d, err %v; want rank %d", tc.stage, rank, err, tc.wantRank)
		}
		p, err := plan.Load(planPath)
		if err != nil {
			t.Fatal(err)
		}
		if p.Limit != 5 || p.InputRate != 2 || p.BasePort != 31000 {
			t.Errorf("limit %d rate %v port %d", p.Limit, p.InputRate, p.BasePort)
		}
		cuda := 0
		for _, s := range p.Stages {
			for _, w := range s.Workers {
				if c, _, _ := gpu.ParseDevice(w.Device); c {
					cuda++
				}
			}
		}
		if cuda != 1 {
			t.Errorf("stage %q: %d CUDA workers, want 1", tc.stage, cuda)
		}
		hf, _ := os.ReadFile(hostfile)
		if !strings.Contains(string(hf), "localhost "+tc.wantSlots) {
			t.Errorf("hostfile %q, want %s", hf, tc.wantSlots)
		}
	}
}

func TestMarkdown(t *testing.T) {
	r := &Report{Date: "D", Host: "h", CPUs: 2, ORTVersion: "1.29.0", Threads: 2, Runs: 3, RelTolerance: RelTolerance,
		Inventory: gpu.Inventory{Devices: []gpu.Device{{Name: "NVIDIA H100"}}, DriverVersion: "580", CUDAVersion: "13.0"},
		Rows: []Row{
			{Node: "ImageFeatures", Variant: "res64", Batch: 8, Input: "8x3x64x64", CPUms: 120, CUDAms: 4, Speedup: 30, MaxAbsDiff: 1e-4, Scale: 3, DiffOK: true},
			{Node: "SpeechRecognition", Variant: "ctc-large", Batch: 1, CPUms: 15, CUDAms: 2, Speedup: 7.5, MaxAbsDiff: 1, Scale: 3, DiffOK: false},
		},
		Checks: []Check{{Name: "mixed job", OK: true, Detail: "16 of 16 | items"}}}
	md := r.Markdown()
	for _, want := range []string{"driver 580, CUDA 13.0", "| ImageFeatures | res64 | 8 | 8x3x64x64 | 120.0 | 4.000 | 30.0x | 0.0001 | 3 | yes |",
		"| SpeechRecognition | ctc-large | 1 |  | 15.0 | 2.000 | 7.5x | 1 | 3 | NO |", "| mixed job | ok | 16 of 16 / items |", "SOME CHECKS FAILED"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if r.OK() {
		t.Error("report with a mismatching row is OK")
	}
	r.Rows = r.Rows[:1]
	if !r.OK() || !strings.Contains(r.Markdown(), "all checks passed") {
		t.Error("report with passing rows and checks is not OK")
	}
}

// A variant's params (a detector's input size) must reach the steps that make the model's inputs, or every
// variant is timed on the first one's inputs.
func TestBeforeModelAppliesVariantParams(t *testing.T) {
	w := &workflow.Workflow{Nodes: []workflow.Node{
		{Name: "Src", Kind: "source", Steps: []workflow.Step{{Op: "load", Params: map[string]any{"size": int64(1)}}}},
		{Name: "Detect", Inputs: []string{"Src"},
			Steps: []workflow.Step{{Op: "resize", Params: map[string]any{"size": int64(960), "keep": true}}},
			Model: &workflow.Model{Inputs: []workflow.Binding{{Name: "x", Tensor: "image"}},
				Variants: []workflow.Variant{{Name: "small", Params: map[string]any{"size": int64(480)}}, {Name: "plain"}}}},
	}}
	for _, tc := range []struct {
		variant string
		size    int64
	}{{"small", 480}, {"plain", 960}, {"unknown", 960}} {
		sub, at := beforeModel(w, 1, tc.variant)
		if at != 1 || len(sub.Nodes) != 2 || sub.Nodes[at].Model != nil {
			t.Fatalf("%s: sub-workflow %+v, at %d: want Src and Detect without its model", tc.variant, sub.Nodes, at)
		}
		st := sub.Nodes[at].Steps[0]
		if st.Params["size"] != tc.size || st.Params["keep"] != true {
			t.Errorf("%s: resize params %v, want size %d and keep", tc.variant, st.Params, tc.size)
		}
		if sub.Nodes[0].Steps[0].Params["size"] != int64(1) {
			t.Errorf("%s: the source's size changed: %v", tc.variant, sub.Nodes[0].Steps[0].Params)
		}
	}
	if w.Nodes[1].Steps[0].Params["size"] != int64(960) {
		t.Errorf("beforeModel changed the workflow's own step: %v", w.Nodes[1].Steps[0].Params)
	}
}

func TestParseShapes(t *testing.T) {
	got, err := ParseShapes("8x3x48x64, 8x3x48x96,")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || FormatShape(got[0]) != "8x3x48x64" || FormatShape(got[1]) != "8x3x48x96" {
		t.Fatalf("ParseShapes = %v", got)
	}
	for _, bad := range []string{"8x3x48x64", "8x3x0x64,1x1", "8xAx3,1x2", ""} {
		if _, err := ParseShapes(bad); err == nil {
			t.Errorf("ParseShapes(%q) accepted", bad)
		}
	}
}

func TestShapeReport(t *testing.T) {
	r := &ShapeReport{Model: "m.onnx", Device: "cuda:0", Runs: 3, Rows: []ShapeRow{
		{Shape: "1x3x48x64", FirstMs: 1400, SteadyMs: 3}, {Shape: "1x3x48x96", FirstMs: 10, SteadyMs: 4}, {Shape: "1x3x48x128", FirstMs: 905, SteadyMs: 5}}}
	if got := r.NewShapeCost(); got != 900 {
		t.Errorf("NewShapeCost = %v, want the median excess 900", got)
	}
	md := r.Markdown("rec")
	for _, want := range []string{"| 1x3x48x64 | 1400.00 | 3.00 | 1397.00 |", "median cost of a new shape: 900.00 ms", "rec: m.onnx on cuda:0"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
