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
		{[]float64{5, 1, 3}, Stats{3, 3, 3, 5, 5, 3}},
		{[]float64{4, 1, 3, 2}, Stats{4, 2.5, 2, 3, 4, 2.5}},
		{[]float64{7}, Stats{1, 7, 7, 7, 7, 7}},
		{[]float64{10, 1, 2, 3, 4, 5, 6, 7, 8, 9}, Stats{10, 5.5, 5, 8, 9, 5.5}},
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
	if testing.Short() {
		t.Skip("needs ONNX Runtime")
	}
	if _, err := onnx.Init(); err != nil {
		t.Fatalf("ONNX Runtime: %v (fetch it with job/setup/fetch-onnxruntime.sh)", err)
	}
	root := "../../workloads/vqa"
	fixtures, err := filepath.Abs(filepath.Join(root, "testdata/fixtures"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest strings.Builder
	var h, w int
	var audioKB float64
	for i := range 3 {
		_, shape, err := vqa.LoadImage(filepath.Join(fixtures, fmt.Sprintf("item%d.png", i)))
		if err != nil {
			t.Fatal(err)
		}
		wav, err := transforms.LoadWAV(filepath.Join(fixtures, fmt.Sprintf("item%d.wav", i)))
		if err != nil {
			t.Fatal(err)
		}
		h, w = int(shape[1]), int(shape[2])
		audioKB += float64(4*len(wav)) / 1024 / 3
		fmt.Fprintf(&manifest, `{"id":%d,"image":%q,"audio":%q}`+"\n", i, filepath.Join(fixtures, fmt.Sprintf("item%d.png", i)), filepath.Join(fixtures, fmt.Sprintf("item%d.wav", i)))
	}
	manPath := filepath.Join(t.TempDir(), "manifest.jsonl")
	if err := os.WriteFile(manPath, []byte(manifest.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := LoadItems(filepath.Join(root, "workflow.toml"), manPath, 0)
	if err != nil {
		t.Fatal(err)
	}
	models, err := vqa.LoadModels(filepath.Join(root, "models"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Measure(in, Options{Host: "testhost", Batches: []int{1, 4}, Repeats: 3, Threads: 1})
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
	// Every edge between the optimizer's nodes, per variant of the sender: 2 sources, 3 image variants and
	// 2 speech variants into the VQA node.
	if len(res.Messages) != 7 {
		t.Errorf("%d messages, want 7: %+v", len(res.Messages), res.Messages)
	}
	for _, m := range res.Messages {
		if m.ZstdKB <= 0 || m.ZstdKB > m.RawKB*1.05+0.1 {
			t.Errorf("%s→%s %s: zstd %.3f KB vs raw %.3f KB", m.From, m.To, m.FromVariant, m.ZstdKB, m.RawKB)
		}
		want := map[string]float64{"ReadImage": float64(4*3*h*w) / 1024, "ReadSpeech": audioKB, "ImageFeatures": 4 * 128.0 / 1024}
		// An item's message is its tensors' bytes plus the runner's framing (id, start time, headers).
		if w, ok := want[m.From]; ok && (m.RawKB < w || m.RawKB > w+FramingKB) {
			t.Errorf("%s→%s raw %.4f KB, want %.4f plus at most %.2f KB of framing", m.From, m.To, m.RawKB, w, FramingKB)
		}
		// The recognised question travels as text: a few words, one byte per character.
		if m.From == "SpeechRecognition" && !(m.RawKB*1024 >= 5 && m.RawKB*1024 <= 64+FramingKB*1024) {
			t.Errorf("%s→%s raw %.1f bytes per item, want the length of a short question and its framing", m.From, m.To, m.RawKB*1024)
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

// FramingKB bounds the runner's framing per item in the profiled messages (batch header, item id, start
// time, tensor headers, shapes of ragged tensors), at the batch sizes the tests profile.
const FramingKB = 0.2

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
