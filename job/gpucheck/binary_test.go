package gpucheck

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"jellybean/job/gpu"
	"jellybean/job/onnx"
	"jellybean/workloads/vqa"
)

// These tests drive the real `jellybean` jbBinary: the gpucheck command end to end, and a single rank
// refusing a CUDA placement at start-up.

var (
	jbBinary string // jellybean built for this test run
	dataset  string // manifest of a small generated test split
)

const datasetItems = 16

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() { // the pure tests only: no build, no dataset (espeak-ng, sox), no ONNX Runtime
		os.Exit(m.Run())
	}
	tmp, err := os.MkdirTemp("", "gpucheck-test-")
	if err != nil {
		panic(err)
	}
	code := 1
	if err := setup(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "gpucheck tests:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(tmp)
	os.Exit(code)
}

func setup(tmp string) error {
	jbBinary = filepath.Join(tmp, "jellybean")
	if out, err := exec.Command("go", "build", "-o", jbBinary, "jellybean/job").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	gen := exec.Command(jbBinary, "gen-data", "--out", filepath.Join(tmp, "data"), "--split", "test", "--n", strconv.Itoa(datasetItems))
	gen.Dir = repoRoot()
	if out, err := gen.CombinedOutput(); err != nil {
		return fmt.Errorf("jellybean gen-data (needs espeak-ng and sox): %v\n%s", err, out)
	}
	dataset = filepath.Join(tmp, "data", "test", "manifest.jsonl")
	return nil
}

func repoRoot() string {
	r, _ := filepath.Abs("../..")
	return r
}

// freeBasePort finds 6 consecutive free loopback ports below the ephemeral range, for the job's ranks.
func freeBasePort(t *testing.T) int {
	for try := 0; try < 50; try++ {
		base := 21000 + rand.IntN(11000)
		var ls []net.Listener
		for p := base; p < base+6; p++ {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				break
			}
			ls = append(ls, l)
		}
		for _, l := range ls {
			l.Close()
		}
		if len(ls) == 6 {
			return base
		}
	}
	t.Fatal("no 6 consecutive free ports found")
	return 0
}

func TestGPUCheckCommand(t *testing.T) {
	needBinary(t)
	inv, err := gpu.Discover()
	if err != nil {
		t.Fatal(err)
	}
	jsonPath := filepath.Join(t.TempDir(), "gpucheck.json")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, jbBinary, "gpucheck", "--runs", "2", "--batches", "1,2", "--dataset", dataset,
		"--items", "12", "--base-port", strconv.Itoa(freeBasePort(t)), "--json", jsonPath)
	cmd.Dir = repoRoot()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("jellybean gpucheck: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	md := stdout.String()
	models, err := vqa.LoadModels(filepath.Join(repoRoot(), vqa.DefaultModelsDir))
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("%s: %v", jsonPath, err)
	}
	if len(rep.Rows) != 2*len(models) {
		t.Fatalf("%d rows, want %d (every model at batch 1 and 2)", len(rep.Rows), 2*len(models))
	}
	for _, row := range rep.Rows {
		if row.Error != "" || row.CPUms <= 0 || row.Scale <= 0 {
			t.Errorf("row %+v: want a CPU latency and a non-zero output", row)
		}
		if !strings.HasPrefix(row.Input, fmt.Sprintf("%dx", row.Batch)) {
			t.Errorf("row %+v: input shape should start with the batch size", row)
		}
		cells := fmt.Sprintf("| %s | %s | %d | %s | %s |", row.Node, row.Variant, row.Batch, row.Input, ms(row.CPUms))
		if !strings.Contains(md, cells) {
			t.Errorf("table lacks %q:\n%s", cells, md)
		}
	}
	var want []string
	if len(inv.Devices) == 0 {
		want = []string{"no GPU (", "| CUDA placement refused at start-up (no GPU) | ok | ",
			"rank 3 on host localhost: plan places it on cuda:0", "| SIGTERM to the cpu rank aborts the job cleanly | ok |"}
		for _, row := range rep.Rows {
			if row.CUDAms != 0 {
				t.Errorf("CUDA latency on a host without GPU: %+v", row)
			}
		}
	} else {
		want = []string{"| mixed job (1 CUDA rank + 5 CPU ranks) | ok |", "| SIGTERM to the cuda:0 rank aborts the job cleanly | ok |"}
	}
	want = append(want, "inputs: the first items of "+dataset, "all checks passed")
	for _, w := range want {
		if !strings.Contains(md, w) {
			t.Errorf("output lacks %q:\n%s", w, md)
		}
	}
}

// A rank placed on a GPU this host lacks stops at start-up, naming its rank, host and device.
func TestRankRefusesMissingGPU(t *testing.T) {
	needBinary(t)
	inv, err := gpu.Discover()
	if err != nil {
		t.Fatal(err)
	}
	device := fmt.Sprintf("cuda:%d", len(inv.Devices)) // one past the last GPU: cuda:0 on a CPU-only host
	dir := t.TempDir()
	planPath, hostfile, rank, err := WriteMixedPlan(JobConfig{Root: repoRoot(), Dataset: dataset, Device: device, Items: 4}, dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, jbBinary, "run", "-H", hostfile, "-p", planPath, "--rank", strconv.Itoa(rank),
		"--run-dir", filepath.Join(dir, "run"))
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "JELLYBEAN_JOB_SECRET=00112233445566778899aabbccddeeff")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("rank %d on %s started on a host with %d GPU(s); output:\n%s", rank, device, len(inv.Devices), out)
	}
	if ctx.Err() != nil {
		t.Fatalf("rank hung instead of refusing: %s", out)
	}
	want := fmt.Sprintf("rank %d on host localhost: plan places it on %s, but this host has no such GPU", rank, device)
	if !strings.Contains(string(out), want) {
		t.Fatalf("want %q in the output, got:\n%s", want, out)
	}
}

// The model inputs come from the dataset's first items run through the workflow up to each model: real
// images, real spoken questions (zero-padded to the longest, with their lengths) and the recognised
// questions tokenised by the VQA node's own step.
func TestWorkflowModelInputs(t *testing.T) {
	needBinary(t)
	man, err := vqa.LoadManifest(dataset)
	if err != nil {
		t.Fatal(err)
	}
	const batch = datasetItems + 2 // wraps around the split
	models, inputs, err := WorkflowModels(filepath.Join(repoRoot(), "workloads/vqa/workflow.toml"), dataset, batch)
	if err != nil {
		t.Fatal(err)
	}
	byNode := map[string]Model{}
	for _, m := range models {
		if _, ok := byNode[m.Node]; !ok {
			byNode[m.Node] = m
		}
	}
	if len(models) != 8 || len(byNode) != 3 {
		t.Fatalf("models %+v: want 8 variants of 3 model nodes", models)
	}
	img, err := inputs(byNode["ImageFeatures"], batch)
	if err != nil {
		t.Fatal(err)
	}
	if s := img[0].Shape; len(s) != 4 || s[0] != batch || s[1] != 3 || int64(len(img[0].F32)) != s[0]*s[1]*s[2]*s[3] {
		t.Errorf("image input shape %v with %d values", s, len(img[0].F32))
	}
	asr, err := inputs(byNode["SpeechRecognition"], batch)
	if err != nil {
		t.Fatal(err)
	}
	longest := asr[0].Shape[1]
	for i, l := range asr[1].I64 {
		if l <= 0 || l > longest {
			t.Errorf("item %d: length %d outside (0, %d]", i, l, longest)
		}
	}
	if asr[1].I64[0] != asr[1].I64[datasetItems] {
		t.Error("item 0 and its wrapped copy have different lengths")
	}
	q, err := inputs(byNode["VQA"], batch)
	if err != nil {
		t.Fatal(err)
	}
	// The speech model recognises the first question exactly, so its tokens are the true question's.
	if !equalInt64(q[1].I64[:vqa.QuestionLen], vqa.Tokenize(man.Items[0].Question)) {
		t.Errorf("first question tokens %v, want those of %q", q[1].I64[:vqa.QuestionLen], man.Items[0].Question)
	}
	if q[0].Shape[0] != batch || q[0].Shape[1] != 128 {
		t.Errorf("features input shape %v", q[0].Shape)
	}
	empty := filepath.Join(t.TempDir(), "manifest.jsonl")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := WorkflowModels(filepath.Join(repoRoot(), "workloads/vqa/workflow.toml"), empty, 1); err == nil || !strings.Contains(err.Error(), "no items") {
		t.Errorf("empty dataset: %v", err)
	}
}

// An extra model is timed from its declared shapes alone; a model with an int64 input is refused.
func TestExtraModels(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	src := filepath.Join(repoRoot(), vqa.DefaultModelsDir)
	data, err := os.ReadFile(filepath.Join(src, "image_res16.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tiny.onnx"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := onnxInit(); err != nil {
		t.Fatal(err)
	}
	models, err := ExtraModels(dir)
	if err != nil || len(models) != 1 || models[0].Variant != "tiny" {
		t.Fatalf("ExtraModels = %+v, %v", models, err)
	}
	row := measureRow(models[0], extraInputs, 2, 1, 2, false)
	if row.Error != "" || row.CPUms <= 0 || row.Scale <= 0 {
		t.Fatalf("row %+v", row)
	}
	vqaModel, err := os.ReadFile(filepath.Join(src, "vqa_res16.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "withint.onnx"), vqaModel, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ExtraModels(dir); err == nil || !strings.Contains(err.Error(), "withint.onnx") {
		t.Fatalf("want an error naming withint.onnx, got %v", err)
	}
}

func onnxInit() (string, error) { return onnx.Init() }

// needBinary skips tests that need the jellybean build, a generated dataset and ONNX Runtime in -short.
func needBinary(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a jellybean build, espeak-ng, sox and ONNX Runtime")
	}
}

// TestShapeCostOnCPU runs the new-shape measurement on a real model and session (the CPU here; the GPU
// host runs the same code on cuda:0) and checks every shape after the warm-up one is reported, timed
// (first, steady and revisit runs), and
// that a model with more than one input is refused by name.
func TestShapeCostOnCPU(t *testing.T) {
	needBinary(t)
	src := filepath.Join(repoRoot(), vqa.DefaultModelsDir)
	shapes, err := ParseShapes("1x3x64x64,2x3x64x64,4x3x64x64,3x3x64x64")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ShapeCost(filepath.Join(src, "image_res16.onnx"), "cpu", 1, shapes, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 3 || rep.Rows[0].Shape != "2x3x64x64" || rep.Rows[2].Shape != "3x3x64x64" {
		t.Fatalf("rows %+v", rep.Rows)
	}
	for _, row := range rep.Rows {
		if row.FirstMs <= 0 || row.SteadyMs <= 0 || row.RevisitMs <= 0 {
			t.Errorf("untimed row %+v", row)
		}
	}
	if _, err := ShapeCost(filepath.Join(src, "image_res16.onnx"), "cpu", 1, [][]int64{{1, 3, 64}, {2, 3, 64}}, 1); err == nil ||
		!strings.Contains(err.Error(), "dimensions") {
		t.Errorf("a shape of the wrong rank: err %v", err)
	}
	if _, err := ShapeCost(filepath.Join(src, "vqa_res16.onnx"), "cpu", 1, shapes, 1); err == nil || !strings.Contains(err.Error(), "vqa_res16.onnx") {
		t.Errorf("a model with two inputs: err %v", err)
	}
}
