package capacity

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// Per batch the cost is a fixed part plus a part per item: 2 ms + 1 ms/item at batches 1 (3 ms) and 8
// (10 ms). At 4 that is 6 ms = 1.5 ms per item; outside the profiled sizes the nearest per-item figure.
func TestInterpolate(t *testing.T) {
	pts := []Point{{Batch: 1, Op: 3, Runner: 0.5}, {Batch: 8, Op: 10, Runner: 4}}
	for _, tc := range []struct{ b, op, runner float64 }{
		{1, 3, 0.5}, {4, 6.0 / 4, (0.5 + 3.0/7*3.5) / 4}, {8, 10.0 / 8, 0.5}, {16, 10.0 / 8, 0.5}, {0.5, 3, 0.5},
	} {
		op, runner := Interpolate(pts, tc.b)
		near(t, "op at "+ftoa(tc.b), op, tc.op)
		near(t, "runner at "+ftoa(tc.b), runner, tc.runner)
	}
	if op, runner := Interpolate(nil, 4); op != 0 || runner != 0 {
		t.Errorf("no points: %v %v", op, runner)
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

const head = "stage,worker,variant,batch,runs,median_ms,p50_ms,p75_ms,p90_ms,median_ms_per_item,rank,device,threads,cpu_ms_per_item,runner_ms_per_item\n"

// Several ranks of one host give one point per batch size, the median of theirs; the CPU column is the
// op's cost, the runner's is added; capacity is 1000 / (op + runner) per item.
func TestParseAndCapacity(t *testing.T) {
	m, err := Parse("lat.csv", strings.NewReader(head+
		"ASR,h,big,8,3,99,0,0,0,9,0,cpu,1,2,0.5\n"+
		"ASR,h,big,8,3,99,0,0,0,9,1,cpu,1,4,0.25\n"+
		"ASR,h,big,8,3,99,0,0,0,9,2,cpu,1,3,0.75\n"+
		"ASR,h,big,1,3,9,0,0,0,9,0,cpu,1,5,1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !m.CPU || len(m.Points[Key{"h", "ASR", "big"}]) != 2 {
		t.Fatalf("model %+v", m)
	}
	c, ok := m.Capacity("h", "ASR", "big", 8)
	if !ok {
		t.Fatal("no capacity")
	}
	near(t, "capacity at 8", c, 1000/(3+0.5))
	c, _ = m.Capacity("h", "ASR", "big", 1)
	near(t, "capacity at 1", c, 1000.0/6)
	if _, ok := m.Capacity("other", "ASR", "big", 8); ok {
		t.Error("a host not profiled has a capacity")
	}
	// An older profile: wall-clock medians, no runner column.
	old, err := Parse("old.csv", strings.NewReader("stage,worker,variant,batch,runs,median_ms,p50_ms,p75_ms,p90_ms,median_ms_per_item\nASR,h,big,8,3,80,0,0,0,10\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := old.Capacity("h", "ASR", "big", 8); old.CPU || c != 100 {
		t.Errorf("old profile: cpu %v, capacity %v", old.CPU, c)
	}
	for _, bad := range []struct{ csv, want string }{
		{head + "ASR,h,big,0,3,1,0,0,0,1,0,cpu,1,1,1\n", "lat.csv:2: batch \"0\""},
		{head + "ASR,h,big,8,3,1,0,0,0,1,0,cpu,1,NaN,1\n", "lat.csv:2: cpu_ms_per_item \"NaN\""},
		{head + "ASR,h,big,8,3,1,0,0,0,1,0,cpu,1,1,-2\n", "lat.csv:2: runner_ms_per_item \"-2\""},
		{"stage,worker\nASR,h\n", "no column \"variant\""},
		{head, "no latency rows"},
	} {
		if _, err := Parse("lat.csv", strings.NewReader(bad.csv)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want %q", bad.csv, err, bad.want)
		}
	}
}

// OCR's shape: a page makes 20 pieces after Crop with the big detector, 12 with the small one (fan-out);
// Assemble regroups them into the page (fan-in); a join takes the least of its inputs. Ratios compose
// only within one trace.
func TestUnitsAndTraces(t *testing.T) {
	big, small := map[string]string{"Det": "big", "Rec": "a"}, map[string]string{"Det": "small", "Rec": "a"}
	rows := []Ratio{
		{From: "Crop", To: "Rec", Variants: small, Ratio: 12},
		{From: "Rec", To: "Asm", Variants: small, Ratio: 1.0 / 12},
		{From: "Crop", To: "Rec", Variants: big, Ratio: 20},
		{From: "Rec", To: "Asm", Variants: big, Ratio: 1.0 / 20},
	}
	if trs := Traces(rows); len(trs) != 2 || len(trs[0]) != 2 || trs[0][0].Ratio != 12 || trs[1][0].Ratio != 20 {
		t.Fatalf("traces %+v", trs)
	}
	graph := map[string][]string{"Page": nil, "Det": {"Page"}, "Crop": {"Det"}, "Rec": {"Crop"}, "Asm": {"Rec"}, "Other": nil, "Join": {"Rec", "Other"}}
	heavy, err := HeaviestTrace(rows, graph)
	if err != nil || TraceRatio(heavy, "Crop", "Rec") != 20 {
		t.Errorf("heaviest trace %+v, %v", heavy, err)
	}
	if tr := ChooseTrace(rows, map[string]string{"Det": "small", "Rec": "b"}); TraceRatio(tr, "Crop", "Rec") != 12 {
		t.Errorf("trace for the small detector %+v", tr)
	}
	if r := TraceRatio(heavy, "Det", "Crop"); r != 1 {
		t.Errorf("an edge without a row: %v", r)
	}
	if ChooseTrace(nil, big) != nil {
		t.Error("no rows: want no trace")
	}
	u, err := Units(graph, func(from, to string) float64 { return TraceRatio(heavy, from, to) })
	if err != nil {
		t.Fatal(err)
	}
	near(t, "Rec", u["Rec"], 20)
	near(t, "Asm", u["Asm"], 1)
	near(t, "Join", u["Join"], 1)
	near(t, "Page", u["Page"], 1)
	if _, err := Units(map[string][]string{"A": {"B"}, "B": {"A"}}, func(string, string) float64 { return 1 }); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v", err)
	}
	if _, err := Units(map[string][]string{"A": {"X"}}, func(string, string) float64 { return 1 }); err == nil || !strings.Contains(err.Error(), "unknown node X") {
		t.Errorf("unknown input: %v", err)
	}
}

func TestReadRatios(t *testing.T) {
	dir := t.TempDir()
	if rows, err := ReadRatios(filepath.Join(dir, "none.csv")); err != nil || rows != nil {
		t.Errorf("missing file: %v %v", rows, err)
	}
	write := func(body string) string {
		p := filepath.Join(dir, "ratios.csv")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rows, err := ReadRatios(write("from,to,variants,ratio\nCrop,Rec,Det=big;Rec=a,20.5\n"))
	if err != nil || len(rows) != 1 || rows[0].Ratio != 20.5 || rows[0].Variants["Det"] != "big" || VariantsKey(rows[0].Variants) != "Det=big;Rec=a" {
		t.Errorf("rows %+v, %v", rows, err)
	}
	for body, want := range map[string]string{
		"from,to,ratio\n":                          "ratios.csv:1: want the header",
		"from,to,variants,ratio\nA,B,Det=x,0\n":    "ratios.csv:2: ratio \"0\"",
		"from,to,variants,ratio\nA,B,Det,1\n":      "ratios.csv:2: variants \"Det\"",
		"from,to,variants,ratio\nA,B,Det=x,1,2\n":  "wrong number of fields",
		"from,to,variants,ratio\nA,B,Det=x,+Inf\n": "ratio \"+Inf\"",
	} {
		if _, err := ReadRatios(write(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}

// A starved worker's figure (cold_ms_per_item) blends with the warm one by the share of micro-batches
// that found the worker parked; a profile without it (or with an empty cell) gives the warm figure.
func TestStarvedCost(t *testing.T) {
	head := strings.TrimSuffix(head, "\n") + ",cold_ms_per_item\n"
	m, err := Parse("lat.csv", strings.NewReader(head+
		"VQA,h,v,8,3,9,0,0,0,1,0,cpu,1,0.5,0.25,2.75\n"+
		"VQA,h,v,1,3,9,0,0,0,1,0,cpu,1,1,1,6\n"+
		"ASR,h,v,8,3,9,0,0,0,1,0,cpu,1,3,1,\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stage          string
		batch, starved float64
		want           float64
	}{
		{"VQA", 8, 0, 0.75}, {"VQA", 8, 1, 2.75}, {"VQA", 8, 0.5, 1.75},
		{"VQA", 1, 0.25, 0.75*2 + 0.25*6},
		{"VQA", 8, 7, 2.75}, // a share is clamped to 0–1
		{"ASR", 8, 1, 4},    // no cold figure: warm
	} {
		got, ok := m.StarvedMsPerItem("h", tc.stage, "v", tc.batch, tc.starved)
		if !ok {
			t.Fatalf("%s: not profiled", tc.stage)
		}
		near(t, fmt.Sprintf("%s at batch %v, %v starved", tc.stage, tc.batch, tc.starved), got, tc.want)
	}
	if _, ok := m.StarvedMsPerItem("other", "VQA", "v", 8, 1); ok {
		t.Error("a host not profiled has a cost")
	}
	if _, err := Parse("lat.csv", strings.NewReader(head+"VQA,h,v,8,3,9,0,0,0,1,0,cpu,1,0.5,0.25,-1\n")); err == nil || !strings.Contains(err.Error(), "lat.csv:2: cold_ms_per_item \"-1\"") {
		t.Errorf("negative cold figure: %v", err)
	}
}
