package profile

import (
	"encoding/csv"
	"fmt"
	"jellybean/workloads/transforms"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"jellybean/job/onnx"
	"jellybean/workloads/vqa"
)

func TestSummarise(t *testing.T) {
	tests := []struct {
		in   []float64
		want Stats
	}{
		{[]float64{5, 1, 3}, Stats{3, 3, 3, 5, 5}},
		{[]float64{4, 1, 3, 2}, Stats{4, 2.5, 2, 3, 4}},
		{[]float64{7}, Stats{1, 7, 7, 7, 7}},
		{[]float64{10, 1, 2, 3, 4, 5, 6, 7, 8, 9}, Stats{10, 5.5, 5, 8, 9}},
		{nil, Stats{}},
	}
	for _, tc := range tests {
		if got := Summarise(tc.in); got != tc.want {
			t.Errorf("Summarise(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// TestMeasureFixtures profiles the shipped models on the workload's fixture items with real ONNX Runtime
// sessions and checks the CSVs: every variant at every batch size, ordered percentiles, and message sizes
// that match the tensors (raw) and shrink under zstd.
func TestMeasureFixtures(t *testing.T) {
	if _, err := onnx.Init(); err != nil {
		t.Fatalf("ONNX Runtime: %v (fetch it with job/setup/fetch-onnxruntime.sh)", err)
	}
	root := "../../workloads/vqa"
	var in Inputs
	for i := range 3 {
		img, shape, err := vqa.LoadImage(filepath.Join(root, "testdata/fixtures", fmt.Sprintf("item%d.png", i)))
		if err != nil {
			t.Fatal(err)
		}
		wav, err := transforms.LoadWAV(filepath.Join(root, "testdata/fixtures", fmt.Sprintf("item%d.wav", i)))
		if err != nil {
			t.Fatal(err)
		}
		in.Images, in.Audio, in.H, in.W = append(in.Images, img), append(in.Audio, wav), int(shape[1]), int(shape[2])
	}
	models, err := vqa.LoadModels(filepath.Join(root, "models"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Measure(filepath.Join(root, "models"), in, Options{Host: "testhost", Batches: []int{1, 4}, Repeats: 3, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Latencies) != 2*len(models) {
		t.Fatalf("%d latencies for %d models × 2 batch sizes", len(res.Latencies), len(models))
	}
	for _, l := range res.Latencies {
		s := l.Stats
		if s.Runs != 3 || s.P50 <= 0 || s.P50 > s.P75 || s.P75 > s.P90 {
			t.Errorf("%s %s batch %d: %+v", l.Stage, l.Variant, l.Batch, s)
		}
	}
	var audioKB float64
	for _, a := range in.Audio {
		audioKB += float64(4*len(a)) / 1024 / 3
	}
	for _, m := range res.Messages {
		if m.ZstdKB <= 0 || m.ZstdKB > m.RawKB*1.05+0.1 {
			t.Errorf("%s→%s %s: zstd %.3f KB vs raw %.3f KB", m.From, m.To, m.FromVariant, m.ZstdKB, m.RawKB)
		}
		want := map[string]float64{"ReadImage": float64(4*3*in.H*in.W) / 1024, "ReadSpeech": audioKB, "SpeechRecognition": float64(8*vqa.QuestionLen) / 1024}
		if w, ok := want[m.From]; ok && (m.RawKB-w > 1e-9 || w-m.RawKB > 1e-9) {
			t.Errorf("%s→%s raw %.4f KB, want %.4f", m.From, m.To, m.RawKB, w)
		}
	}
	dir := t.TempDir()
	if _, err := res.Files(dir); err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, filepath.Join(dir, "execution_profile_p90.csv"))
	if len(rows) != len(models) {
		t.Fatalf("execution_profile_p90.csv: %d rows, want one per model (%d)", len(rows), len(models))
	}
	for _, r := range rows {
		if ms, err := strconv.ParseFloat(r[3], 64); len(r) != 4 || r[1] != "testhost" || err != nil || ms <= 0 {
			t.Errorf("row %v", r)
		}
	}
	if rows := readCSV(t, filepath.Join(dir, "latency.csv")); len(rows) != 1+2*len(models) || !strings.HasPrefix(strings.Join(rows[0], ","), "stage,worker,variant,batch") {
		t.Errorf("latency.csv: %d rows, header %v", len(rows), rows[0])
	}
	if rows := readCSV(t, filepath.Join(dir, "message_sizes.csv")); len(rows) != len(res.Messages) || len(rows[0]) != 5 {
		t.Errorf("message_sizes.csv: %v", rows)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

func TestMerge(t *testing.T) {
	a := &Result{Host: "a", Latencies: []Latency{{Stage: "S", Variant: "v", Batch: 1}}, Messages: []Message{{From: "X", RawKB: 1}}}
	b := &Result{Host: "b", Latencies: []Latency{{Stage: "S", Variant: "v", Batch: 1}}, Messages: []Message{{From: "Y"}}}
	m := Merge([]*Result{a, b})
	if len(m.Latencies) != 2 || m.Latencies[0].Host != "a" || m.Latencies[1].Host != "b" || len(m.Messages) != 1 || m.Messages[0].From != "X" {
		t.Fatalf("%+v", m)
	}
	dir := t.TempDir()
	if _, err := m.Files(dir); err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, filepath.Join(dir, "execution_profile.csv"))
	if len(rows) != 2 || rows[0][1] != "a" || rows[1][1] != "b" {
		t.Fatalf("one row per host expected: %v", rows)
	}
}
