package loop

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"jellybean/hostfiles"
	"jellybean/job/flow"
	"jellybean/job/profile/capacity"
	"jellybean/job/report"
	"jellybean/job/tiers"
	"jellybean/plan"
	"jellybean/plan/optimizer"
	"jellybean/plan/optimizer/inputs"
	"jellybean/plan/workflow"
)

// Node names of the spoken-VQA workflow, the example these tests plan for.
const (
	ReadImage         = "ReadImage"
	ReadSpeech        = "ReadSpeech"
	ImageFeatures     = "ImageFeatures"
	SpeechRecognition = "SpeechRecognition"
	VQA               = "VQA"
	vqaWorkflow       = "../../workloads/vqa/workflow.toml"
)

func TestWorkerNamesAndHostOf(t *testing.T) {
	tests := []struct {
		hosts []Host
		names map[string][]string
	}{
		{[]Host{{Name: "localhost", Slots: 3}}, map[string][]string{"localhost": {"localhost_0", "localhost_1", "localhost_2"}}},
		{[]Host{{Name: "10.0.0.2", Slots: 1}, {Name: "b", Slots: 2}}, map[string][]string{"10.0.0.2": {"10.0.0.2"}, "b": {"b_0", "b_1"}}},
	}
	for _, tc := range tests {
		want := map[string]string{}
		for _, h := range tc.hosts {
			if got := WorkerNames(h); !reflect.DeepEqual(got, tc.names[h.Name]) {
				t.Errorf("WorkerNames(%+v) = %v, want %v", h, got, tc.names[h.Name])
			}
			for _, w := range tc.names[h.Name] {
				want[w] = h.Name
			}
		}
		if got := HostOf(tc.hosts); !reflect.DeepEqual(got, want) {
			t.Errorf("HostOf = %v, want %v", got, want)
		}
	}
}

func TestHostsOf(t *testing.T) {
	hf, err := hostfiles.Parse("hf", strings.NewReader("10.1.0.3 slots=2\n10.1.0.2 slots=1\n"))
	if err != nil {
		t.Fatal(err)
	}
	infra := &tiers.Infrastructure{Hosts: []tiers.InfraHost{
		{Name: "10.1.0.2", Tier: "edge", PricePerHour: 0.1}, {Name: "10.1.0.3", Tier: "cloud", PricePerHour: 0.5}}}
	tests := []struct {
		name    string
		infra   *tiers.Infrastructure
		want    []Host
		edge    string
		wantErr string
	}{
		{"plain hostfile", nil, []Host{{Name: "10.1.0.3", Slots: 2, Price: DefaultPricePerSlot}, {Name: "10.1.0.2", Slots: 1, Price: DefaultPricePerSlot}}, "10.1.0.3", ""},
		{"tiers", infra, []Host{{Name: "10.1.0.3", Slots: 2, Tier: 1, TierName: "cloud", Price: 0.5}, {Name: "10.1.0.2", Slots: 1, Tier: 0, TierName: "edge", Price: 0.1}}, "10.1.0.2", ""},
		{"host missing", &tiers.Infrastructure{Hosts: infra.Hosts[:1]}, nil, "", `infra.toml: host "10.1.0.3" of hostfile hf is not described`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := HostsOf(hf, tc.infra, "infra.toml")
			if !checkErr(t, err, tc.wantErr) {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("hosts %+v, want %+v", got, tc.want)
			}
			if e := EdgeHost(got); e != tc.edge {
				t.Errorf("edge host %s, want %s", e, tc.edge)
			}
		})
	}
}

// testLatencies: two hosts, every variant of the shipped models (ms per item).
func testLatencies() Latencies {
	one := func(scale float64) map[string]map[string]float64 {
		return map[string]map[string]float64{
			ImageFeatures:     {"res16": 0.1 * scale, "res64": 0.3 * scale},
			SpeechRecognition: {"ctc-small": 3 * scale, "ctc-large": 10 * scale},
			VQA:               {"res16": 0.02 * scale, "res64": 0.02 * scale},
		}
	}
	return Latencies{"edge": one(2), "cloud": one(1)}
}

func combo(image, speech string, acc float64) Combo {
	return Combo{Variants: map[string]string{ImageFeatures: image, SpeechRecognition: speech, VQA: image}, Accuracy: acc}
}

var testCombos = []Combo{combo("res16", "ctc-small", 60), combo("res16", "ctc-large", 70), combo("res64", "ctc-small", 90), combo("res64", "ctc-large", 99)}

func TestChooseRate(t *testing.T) {
	tests := []struct {
		name         string
		threshold    float64
		cores        int
		util, runner float64
		rate         float64
		slowest      Combo
		wantErr      string
		whyMentions  string
		demandWanted float64
	}{
		// The slowest host counts: the edge host takes 2 × (0.3 + 10 + 0.02) ms for res64 + ctc-large.
		{"any accuracy", 0, 2, 0.6, 0, 58.1, testCombos[3], "", "ImageFeatures=res64 + SpeechRecognition=ctc-large + VQA=res64", 20.64},
		{"high target, more cores, lower utilisation", 95, 4, 0.5, 0, 96.8, testCombos[3], "", "reaching 95.00% accuracy", 20.64},
		{"target below the large speech model", 80, 2, 0.6, 0, 58.1, testCombos[3], "", "", 20.64},
		{"runner's share", 0, 2, 0.6, 3.36, 50, testCombos[3], "", "plus 3.36 ms of the runner's", 20.64},
		{"unreachable target", 99.5, 2, 0.6, 0, 0, Combo{}, "best 99.00%", "", 0},
		{"bad utilisation", 0, 2, 1.5, 0, 0, Combo{}, "utilisation", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := ChooseRate(testLatencies(), testCombos, tc.threshold, tc.cores, tc.util, tc.runner)
			if !checkErr(t, err, tc.wantErr) {
				return
			}
			if rc.Rate != tc.rate || !reflect.DeepEqual(rc.Slowest, tc.slowest) || rc.DemandMs < tc.demandWanted-1e-9 || rc.DemandMs > tc.demandWanted+1e-9 {
				t.Errorf("rate %v (slowest %+v, %.3f ms), want %v (%+v, %.3f ms)", rc.Rate, rc.Slowest, rc.DemandMs, tc.rate, tc.slowest, tc.demandWanted)
			}
			if used := rc.Rate * (rc.DemandMs + tc.runner) / 1000; used > tc.util*float64(tc.cores)+1e-9 {
				t.Errorf("rate %v uses %.3f cores, more than %.0f%% of %d", rc.Rate, used, 100*tc.util, tc.cores)
			}
			if !strings.Contains(rc.Why, tc.whyMentions) {
				t.Errorf("why %q does not mention %q", rc.Why, tc.whyMentions)
			}
		})
	}
	// Only the combinations offered count: without ctc-large the demand is the small model's.
	rc, err := ChooseRate(testLatencies(), []Combo{testCombos[0], testCombos[2]}, 0, 1, 1, 0)
	if err != nil || !reflect.DeepEqual(rc.Slowest, testCombos[2]) {
		t.Errorf("without ctc-large: %+v, %v", rc, err)
	}
}

func TestParseLatencies(t *testing.T) {
	const head = "stage,worker,variant,batch,runs,median_ms,p50_ms,p75_ms,p90_ms,median_ms_per_item\n"
	const cpuHead = "stage,worker,variant,batch,runs,median_ms,p50_ms,p75_ms,p90_ms,median_ms_per_item,rank,device,threads,cpu_ms_per_item,runner_ms_per_item\n"
	tests := []struct {
		name, csv string
		batch     int
		want      Latencies
		wantErr   string
	}{
		{"the plan's batch size: batching gains count", head +
			"VQA,h,res16,1,3,1.0,1,1,1,1.0000\nVQA,h,res16,8,3,4.0,4,4,4,0.5000\nSpeechRecognition,h,ctc-large,1,3,5,5,5,5,5.0\nSpeechRecognition,h,ctc-large,8,3,80,80,80,80,10.0\n" +
			"SpeechRecognition,h,ctc-large,32,3,960,0,0,0,30.0\n", 8,
			Latencies{"h": {VQA: {"res16": 0.5}, SpeechRecognition: {"ctc-large": 10}}}, ""},
		{"between profiled sizes: per batch linear (1 ms + 0.5 ms per item at 4 = 3 ms)", head + "VQA,h,res16,1,3,1.5,1,1,1,1.5\nVQA,h,res16,8,3,5,4,4,4,0.625\n", 4,
			Latencies{"h": {VQA: {"res16": 0.75}}}, ""},
		{"CPU time and the runner's cost, median over ranks", cpuHead +
			"VQA,h,res16,8,3,9,9,9,9,1.125,0,cpu,1,0.25,0.5\nVQA,h,res16,8,3,9,9,9,9,1.125,1,cpu,1,0.5,0.25\nVQA,h,res16,8,3,9,9,9,9,1.125,2,cpu,1,0.75,0.125\n", 8,
			Latencies{"h": {VQA: {"res16": 0.5 + 0.25}}}, ""},
		{"batch 1 plan", head + "VQA,h,res16,1,3,1.0,1,1,1,1.0\nVQA,h,res16,8,3,40,4,4,4,5.0\n", 1, Latencies{"h": {VQA: {"res16": 1}}}, ""},
		{"bad number names the line", head + "VQA,h,res16,1,3,1.0,1,1,1,1.0\nVQA,h,res16,8,3,4.0,4,4,4,fast\n", 8, nil, "lat.csv:3: median_ms_per_item \"fast\""},
		{"bad runner cost names the line", cpuHead + "VQA,h,res16,8,3,9,9,9,9,1.125,0,cpu,1,0.25,-1\n", 8, nil, "lat.csv:2: runner_ms_per_item \"-1\""},
		{"zero cost refused", cpuHead + "VQA,h,res16,8,3,9,9,9,9,1.125,0,cpu,1,0,0\n", 8, nil, "costs 0 ms per item"},
		{"missing column", "stage,worker,variant,batch\nVQA,h,res16,1\n", 8, nil, `lat.csv:1: no column "median_ms_per_item"`},
		{"no row in range", head + "VQA,h,res16,16,3,1.0,1,1,1,1.0\n", 8, nil, "no row with a batch size up to 8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseLatencies("lat.csv", strings.NewReader(tc.csv), tc.batch)
			if !checkErr(t, err, tc.wantErr) {
				return
			}
			for h, sts := range tc.want {
				for st, vs := range sts {
					for v, ms := range vs {
						if g := got[h][st][v]; math.Abs(g-ms) > 1e-9 {
							t.Errorf("%s %s %s: %v ms, want %v", h, st, v, g, ms)
						}
					}
				}
			}
			if len(got) != len(tc.want) || len(got["h"]) != len(tc.want["h"]) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// A fan-out's rate ratio reaches the optimizer's input as the consumer's ratio, from the heaviest trace
// (the detector that finds the most lines), fan-out and fan-in alike; edges at ratio 1 carry none.
func TestNativeCarriesFanOutRatios(t *testing.T) {
	w, err := workflow.Load("../../workloads/ocr/workflow.toml")
	if err != nil {
		t.Fatal(err)
	}
	lat := Latencies{"h": {"Detect": {"det480": 40, "det960": 200}, "Crop": {"default": 1}, "Recognise": {"rec-half": 10, "rec-full": 19}, "Assemble": {"default": 0.5}}}
	small, big := map[string]string{"Detect": "det480"}, map[string]string{"Detect": "det960"}
	ratios := []capacity.Ratio{
		{From: "Crop", To: "Recognise", Variants: small, Ratio: 12},
		{From: "Recognise", To: "Assemble", Variants: small, Ratio: 1.0 / 12},
		{From: "Crop", To: "Recognise", Variants: big, Ratio: 20.5},
		{From: "Recognise", To: "Assemble", Variants: big, Ratio: 1 / 20.5},
		{From: "Detect", To: "Crop", Variants: big, Ratio: 1},
	}
	combos := []Combo{{Variants: map[string]string{"Detect": "det960", "Recognise": "rec-full"}, Accuracy: 90}}
	msgs := []Message{{"ReadPage", "Detect", "default", 900}, {"Detect", "Crop", "det480", 900}, {"Detect", "Crop", "det960", 900},
		{"Crop", "Recognise", "default", 30}, {"Recognise", "Assemble", "rec-half", 0.2}, {"Recognise", "Assemble", "rec-full", 0.2}}
	data, err := Native(Instance{Workflow: w, Rate: 1, Threshold: 80, Hosts: []Host{{Name: "h", Slots: 4, Price: 1}}, Latency: lat,
		Messages: msgs, Combos: combos, Ratios: ratios})
	if err != nil {
		t.Fatal(err)
	}
	var n inputs.Native
	if _, err := inputs.ParseNative("jellybean.toml", data, optimizer.DefaultConfig()); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if err := toml.Unmarshal(data, &n); err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]float64{}
	for _, st := range n.Stages {
		got[st.Name] = st.Ratio
	}
	if got["Recognise"]["Crop"] != 20.5 || math.Abs(got["Assemble"]["Recognise"]-1/20.5) > 1e-12 || got["Crop"] != nil || got["Detect"] != nil {
		t.Errorf("ratios %v\n%s", got, data)
	}
}

func TestProfileHostfile(t *testing.T) {
	hf, err := hostfiles.Parse("hf", strings.NewReader("a slots=6 max_slots=8\nb slots=1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := ProfileHostfile(hf, 1); got != "a slots=1\nb slots=1\n" {
		t.Errorf("one slot per host: %q", got)
	}
	if got := ProfileHostfile(hf, 2); got != "a slots=2\nb slots=1\n" {
		t.Errorf("two slots per host: %q", got)
	}
}

// The written native inputs parse with the optimizer's own reader, offer only combinations whose VQA head
// matches the image variant, charge links only across tiers, and solve into a plan whose hostfile
// passes the runner's validation.
func TestNativeInputsSolveToValidPlan(t *testing.T) {
	hosts := []Host{{Name: "edge", Slots: 3, Tier: 0, Price: 0.1}, {Name: "cloud", Slots: 2, Tier: 1, Price: 0.5}}
	msgs := []Message{{ReadImage, ImageFeatures, "default", 48}, {ReadSpeech, SpeechRecognition, "default", 20},
		{ImageFeatures, VQA, "res16", 0.5}, {ImageFeatures, VQA, "res64", 0.5}, {SpeechRecognition, VQA, "ctc-small", 0.1}, {SpeechRecognition, VQA, "ctc-large", 0.1}}
	w, err := workflow.Load(vqaWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	data, err := Native(Instance{Workflow: w, Rate: 150, Threshold: 80, Hosts: hosts, Latency: testLatencies(), Messages: msgs,
		Combos: testCombos, CrossTierCostPerGB: 0.09})
	if err != nil {
		t.Fatal(err)
	}
	in, err := inputs.ParseNative("jellybean.toml", data, optimizer.DefaultConfig())
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	p := in.Problem
	if len(p.Workers) != 5 || !reflect.DeepEqual(p.Accuracy.Operators, []string{ImageFeatures, SpeechRecognition, VQA}) {
		t.Fatalf("workers %d, operators %v", len(p.Workers), p.Accuracy.Operators)
	}
	for _, e := range p.Accuracy.EndToEnd {
		if e.Variants[0] != e.Variants[2] {
			t.Errorf("accuracy row pairs image %s with VQA head %s", e.Variants[0], e.Variants[2])
		}
	}
	var cross, same int
	for a := range p.Workers {
		for b := range p.Workers {
			if p.Link[a][b] > 0 {
				cross++
			} else if a != b {
				same++
			}
		}
	}
	if cross != 2*3*2 || same != 3*2+2*1 {
		t.Errorf("%d priced links (want 12 edge↔cloud), %d free ones (want 8 within a tier)", cross, same)
	}
	if _, err := Native(Instance{Workflow: w, Rate: 150, Hosts: []Host{{Name: "other", Slots: 1}}, Latency: testLatencies(), Combos: testCombos}); err == nil || !strings.Contains(err.Error(), "host other: no latency") {
		t.Errorf("unprofiled host: %v", err)
	}

	sol, err := optimizer.Solve(p, in.Config, "exact", 0)
	if err != nil {
		t.Fatal(err)
	}
	written := PlanOptions("job", vqaWorkflow, "data/manifest.jsonl", 8, 1, 30, "fastest", hosts)
	vdata, err := inputs.EncodeVariants(written)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := inputs.ParseVariants("variants.toml", vdata)
	if err != nil {
		t.Fatalf("%v\n%s", err, vdata)
	}
	pl, err := optimizer.ToPlan(p, sol, opts)
	if err != nil {
		t.Fatal(err)
	}
	if pl.Limit != 30 || pl.Compress != "fastest" {
		t.Errorf("variants.toml lost the plan settings: limit %d, compress %q", pl.Limit, pl.Compress)
	}
	if pl.InputRate != 150 || pl.Predicted.Accuracy < 80 || len(pl.Predicted.Stages) != 6 {
		t.Errorf("input rate %v, accuracy %v, per-stage predictions %v", pl.InputRate, pl.Predicted.Accuracy, pl.Predicted.Stages)
	}
	vqaStage := pl.StageByName(VQA)
	for _, st := range pl.Stages {
		for _, w := range st.Workers {
			if w.Host != "edge" && w.Host != "cloud" {
				t.Errorf("stage %s: worker on %q, not a hostfile host", st.Name, w.Host)
			}
		}
	}
	hf, err := hostfiles.Parse("hostfile", strings.NewReader(Hostfile(pl)))
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Validate(pl, "plan.toml", plan.Options{Hostfile: hf}); err != nil {
		t.Fatalf("runner rejects plan + hostfile: %v\n%s", err, Hostfile(pl))
	}
	if img := pl.StageByName(ImageFeatures); vqaStage.Variant != img.Variant || pl.ModelFile(pl.StageIndex(VQA)) != w.Resolve(w.Node(VQA).Variant(img.Variant).File) {
		t.Errorf("VQA runs %s (%s) on image variant %s", vqaStage.Variant, pl.ModelFile(pl.StageIndex(VQA)), img.Variant)
	}
}

func TestHostfileMatchesPlan(t *testing.T) {
	w := func(hosts ...string) []plan.Worker {
		var ws []plan.Worker
		for _, h := range hosts {
			ws = append(ws, plan.Worker{Host: h, Weight: 1})
		}
		return ws
	}
	tests := []struct {
		stages [][]plan.Worker
		want   string
	}{
		{[][]plan.Worker{w("a"), w("a", "b"), w("b", "b", "c")}, "a slots=2\nb slots=3\nc slots=1\n"},
		{[][]plan.Worker{w("localhost"), w("localhost")}, "localhost slots=2\n"},
	}
	for _, tc := range tests {
		p := &plan.Plan{}
		for i, ws := range tc.stages {
			p.Stages = append(p.Stages, plan.Stage{Name: string(rune('A' + i)), Workers: ws})
		}
		got := Hostfile(p)
		if !strings.HasSuffix(got, tc.want) || strings.Count(got, "\n") != strings.Count(tc.want, "\n")+1 {
			t.Errorf("hostfile\n%s\nwant body\n%s", got, tc.want)
		}
	}
}

// LimitManifest keeps the first n items with paths that still reach their files from the new folder.
func TestLimitManifest(t *testing.T) {
	src := filepath.Join(t.TempDir(), "split")
	if err := os.MkdirAll(filepath.Join(src, "images"), 0o755); err != nil {
		t.Fatal(err)
	}
	var man strings.Builder
	for i := range 3 {
		img := filepath.Join("images", string(rune('a'+i))+".png")
		if err := os.WriteFile(filepath.Join(src, img), []byte{byte(i)}, 0o644); err != nil {
			t.Fatal(err)
		}
		man.WriteString(`{"id":` + string(rune('0'+i)) + `,"image":"` + img + `","audio":"` + img + `","question":"q","answer":"a","type":"t"}` + "\n")
	}
	if err := os.WriteFile(filepath.Join(src, "manifest.jsonl"), []byte(man.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "deep", "acc")
	path, err := LimitManifest(filepath.Join(src, "manifest.jsonl"), 2, dst)
	if err != nil {
		t.Fatal(err)
	}
	m, err := flow.LoadManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.IDs) != 2 || m.IDs[1] != 1 {
		t.Fatalf("items %+v", m.IDs)
	}
	for i, id := range m.IDs {
		rec, _ := m.Record(id)
		img, err := rec.Path("image")
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(img)
		if err != nil || len(b) != 1 || b[0] != byte(i) {
			t.Errorf("item %d: image %s: %v %v", i, img, b, err)
		}
	}
	if _, err := LimitManifest(filepath.Join(src, "manifest.jsonl"), 5, dst); err == nil || !strings.Contains(err.Error(), "only 3 items") {
		t.Errorf("limit beyond the split: %v", err)
	}
	if CacheKey([]byte("m"), []byte(man.String()), 2, nil) == CacheKey([]byte("m"), []byte(man.String()), 3, nil) ||
		CacheKey([]byte("m"), []byte("x"), 2, nil) == CacheKey([]byte("mx"), []byte(""), 2, nil) ||
		CacheKey([]byte("m"), []byte("x"), 2, []byte("build 1")) == CacheKey([]byte("m"), []byte("x"), 2, []byte("build 2")) {
		t.Error("cache keys collide")
	}
}

// checkErr fails the test unless err matches want ("" = no error, else a substring of the message); it
// reports whether the case goes on to check its result.
func checkErr(t *testing.T, err error, want string) bool {
	t.Helper()
	if want != "" {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err %v, want %q", err, want)
		}
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// The optimizer's graph is the workflow's: sources, processing nodes with their inputs, and the node
// feeding the sink as the optimizer's sink.
func TestGraphOf(t *testing.T) {
	w, err := workflow.Load(vqaWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	g, err := GraphOf(w)
	if err != nil {
		t.Fatal(err)
	}
	want := Graph{Sources: []string{ReadImage, ReadSpeech}, Sink: VQA, Stages: []inputs.NativeStage{
		{Name: ImageFeatures, Inputs: []string{ReadImage}}, {Name: SpeechRecognition, Inputs: []string{ReadSpeech}},
		{Name: VQA, Inputs: []string{ImageFeatures, SpeechRecognition}}}}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("graph %+v, want %+v", g, want)
	}
	if _, err := GraphOf(&workflow.Workflow{Path: "w.toml", Nodes: []workflow.Node{{Name: "S", Kind: workflow.KindSource}}}); err == nil || !strings.Contains(err.Error(), "w.toml") {
		t.Errorf("workflow without a sink: %v", err)
	}
}

// Unpace drops the pacing and predicts the maximum for the job and, scaled by each stage's items per
// source item, for every stage (a fan-out's consumer carries 20 pieces per page).
func TestUnpace(t *testing.T) {
	pl := &plan.Plan{InputRate: 2, Stages: []plan.Stage{{Name: "Page"}, {Name: "Crop"}, {Name: "Rec", Variant: "v"}, {Name: "Sink"}},
		Predicted: plan.Predicted{ThroughputItemsPerSecond: 2, Stages: map[string]plan.StagePrediction{
			"Page": {ThroughputItemsPerSecond: 2}, "Crop": {ThroughputItemsPerSecond: 2}, "Rec": {ThroughputItemsPerSecond: 40, CapacityItemsPerSecond: 90}, "Sink": {ThroughputItemsPerSecond: 2}}}}
	cm := &report.CapacityModel{Costs: &capacity.Model{}, Ratios: []capacity.Ratio{{From: "Page", To: "Crop", Ratio: 1}, {From: "Crop", To: "Rec", Ratio: 20}}}
	if err := Unpace(pl, cm, 4.5); err != nil {
		t.Fatal(err)
	}
	st := pl.Predicted.Stages
	if pl.InputRate != 0 || pl.Predicted.ThroughputItemsPerSecond != 4.5 || st["Rec"].ThroughputItemsPerSecond != 90 || st["Rec"].CapacityItemsPerSecond != 90 ||
		st["Crop"].ThroughputItemsPerSecond != 4.5 || st["Sink"].ThroughputItemsPerSecond != 4.5 {
		t.Errorf("input rate %v, predicted %v, stages %v", pl.InputRate, pl.Predicted.ThroughputItemsPerSecond, st)
	}
}

// A stage after a fan-out costs its ms per piece times the pieces a page makes (heaviest trace).
func TestPerSourceItem(t *testing.T) {
	w, err := workflow.Load("../../workloads/ocr/workflow.toml")
	if err != nil {
		t.Fatal(err)
	}
	lat := Latencies{"h": {"Detect": {"det960": 200}, "Recognise": {"rec-full": 19}, "Assemble": {"default": 0.5}}}
	big := map[string]string{"Detect": "det960"}
	ratios := []capacity.Ratio{{From: "Crop", To: "Recognise", Variants: big, Ratio: 20}, {From: "Recognise", To: "Assemble", Variants: big, Ratio: 1.0 / 20}}
	got, err := PerSourceItem(lat, w, ratios)
	if err != nil {
		t.Fatal(err)
	}
	if got["h"]["Detect"]["det960"] != 200 || got["h"]["Recognise"]["rec-full"] != 380 || got["h"]["Assemble"]["default"] != 0.5 {
		t.Errorf("per source item %v", got)
	}
}

// The chosen variants' rows replace the first profile's for the same stage, worker, variant and batch;
// the others stay, new ones are appended, and files that do not match are refused.
func TestMergeLatencies(t *testing.T) {
	all := "stage,worker,variant,batch,cpu_ms_per_item\n" +
		"Detect,a,det480,2,90\nRecognise,a,rec-full,1,7.3\nRecognise,a,rec-full,2,6.9\nRecognise,b,rec-full,2,7.0\nRecognise,a,rec-half,2,4.7\n"
	chosen := "stage,worker,variant,batch,cpu_ms_per_item\n" +
		"Recognise,a,rec-full,1,8.9\nRecognise,a,rec-full,2,9.2\nCrop,a,default,2,138\n"
	got, n, err := MergeLatencies([]byte(all), []byte(chosen))
	if err != nil {
		t.Fatal(err)
	}
	want := "stage,worker,variant,batch,cpu_ms_per_item\n" +
		"Detect,a,det480,2,90\nRecognise,a,rec-full,1,8.9\nRecognise,a,rec-full,2,9.2\nRecognise,b,rec-full,2,7.0\nRecognise,a,rec-half,2,4.7\nCrop,a,default,2,138\n"
	if string(got) != want || n != 2 {
		t.Errorf("merged (%d replaced):\n%s\nwant (2 replaced):\n%s", n, got, want)
	}
	for name, c := range map[string][2]string{
		"headers differ": {all, "stage,worker,variant,batch,median_ms\nRecognise,a,rec-full,1,8.9\n"},
		"no \"batch\"":   {"stage,worker,variant\nDetect,a,det480\n", "stage,worker,variant\nDetect,a,det480\n"},
		"empty":          {all, ""},
	} {
		if _, _, err := MergeLatencies([]byte(c[0]), []byte(c[1])); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

// The chosen variants' message sizes replace the first profile's for the same edge and variants (OCR's
// Crop → Recognise grows with the detector chosen upstream); other rows stay, new ones are appended, and
// rows that are not from,to,from_variant,to_variant,KB are refused.
func TestMergeMessageSizes(t *testing.T) {
	all := "ReadPage,Detect,default,default,1851.15\nDetect,Crop,det480,default,1852.1\nCrop,Recognise,default,default,10.57\nRecognise,Assemble,rec-half,default,0.1968\n"
	chosen := "ReadPage,Detect,default,default,1851.15\nCrop,Recognise,default,default,13.09\nRecognise,Assemble,rec-full,default,0.2034\n"
	got, n, err := MergeMessageSizes([]byte(all), []byte(chosen))
	if err != nil {
		t.Fatal(err)
	}
	want := "ReadPage,Detect,default,default,1851.15\nDetect,Crop,det480,default,1852.1\nCrop,Recognise,default,default,13.09\nRecognise,Assemble,rec-half,default,0.1968\nRecognise,Assemble,rec-full,default,0.2034\n"
	if string(got) != want || n != 2 {
		t.Errorf("merged (%d replaced):\n%s\nwant (2 replaced):\n%s", n, got, want)
	}
	for name, c := range map[string][2]string{
		"the first profile":            {"Crop,Recognise,default,10.57\n", chosen},
		"the chosen variants' profile": {all, "Crop,Recognise,default,default,13.09,extra\n"},
	} {
		if _, _, err := MergeMessageSizes([]byte(c[0]), []byte(c[1])); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v", name, err)
		}
	}
}
