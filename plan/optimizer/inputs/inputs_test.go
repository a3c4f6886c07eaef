package inputs

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"jellybean/plan/optimizer"
)

const medium = "../testdata/medium"

func mediumFiles(t testing.TB) map[string][]byte {
	t.Helper()
	fs, err := loadDir(medium)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func mediumConfig(t testing.TB) optimizer.Config {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(medium, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig("config.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestReadMedium(t *testing.T) {
	in, err := ReadDir(medium, filepath.Join(medium, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p := in.Problem
	if len(p.Workers) != 9 || p.NumTiers != 2 || len(p.Nodes) != 5 || p.Threshold != 56 || p.Sink != "VQA" {
		t.Fatalf("workers %d tiers %d nodes %d threshold %v sink %s", len(p.Workers), p.NumTiers, len(p.Nodes), p.Threshold, p.Sink)
	}
	eif := p.NodeIndex("ExtractImageFeature")
	if got := p.Cap[eif]["resnet18"][0]; got != 1000./135.08435991666667 || p.Rate[eif] != 40 {
		t.Errorf("cap cpu-1 resnet18 = %v, rate %v", got, p.Rate[eif])
	}
	if p.Link[0][5] != 0.1 || p.Link[5][0] != 1.0 || p.SrcLink[0][6] != 0.1 || p.SrcLink[0][0] != 0 {
		t.Errorf("links scaled wrongly: %v %v %v", p.Link[0][5], p.Link[5][0], p.SrcLink[0][6])
	}
	msg, _ := p.MessageSize(eif, p.NodeIndex("VQA"), "resnet50", "default")
	if msg != 8.00390625 {
		t.Errorf("msg EIF→VQA resnet50 = %v", msg)
	}
	if in.Config.CommCostScalingFactor != 0.1 || in.Config.Strategy != "multiple-tiers" || in.Config.SampleLimit != 0 {
		t.Errorf("config %+v", in.Config)
	}
	if len(in.Warnings) != 0 {
		t.Errorf("unexpected warnings %v", in.Warnings)
	}
}

// The original's example ships a stray trailing comma on line 5 of one execution profile; it is accepted
// with a warning naming file and line, and yields the same problem.
func TestTrailingCommaWarns(t *testing.T) {
	fs := mediumFiles(t)
	fs["execution_profile.csv"] = fs["execution_profile_p75.csv"]
	in, err := ParseOriginal("m", fs, mediumConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Warnings) != 1 || !strings.Contains(in.Warnings[0], "execution_profile.csv:5") {
		t.Fatalf("warnings %v", in.Warnings)
	}
	sr := in.Problem.NodeIndex("SpeechRecognition")
	if got := in.Problem.Cap[sr]["wav2vec2-base-960h"][2]; got != 1000./107.50537608333333 {
		t.Errorf("cap = %v", got)
	}
}

func TestOriginalErrors(t *testing.T) {
	tests := []struct {
		file, content string
		want          []string // substrings of the error
	}{
		{"workers_specs.csv", "a,0.1\nb,x\n", []string{"workers_specs.csv:2", "price", `"x"`}},
		{"workers_specs.csv", "a,0.1\na,0.2\n", []string{"workers_specs.csv:2", "twice"}},
		{"workers_specs.csv", "a,-1\n", []string{"workers_specs.csv:1", "price"}},
		{"workers_specs.csv", "a,0.1,3,4\n", []string{"workers_specs.csv:1", "want 2 fields"}},
		{"execution_profile.csv", "VQA,nobody,default,3\n", []string{"execution_profile.csv:1", "nobody"}},
		{"execution_profile.csv", "Nope,workflow-compute-cpu-1,default,3\n", []string{"execution_profile.csv:1", "node", "Nope"}},
		{"execution_profile.csv", "VQA,workflow-compute-cpu-1,default,-3\n", []string{"execution_profile.csv:1", "latency_ms"}},
		{"logical_graph.csv", "A,A\n", []string{"logical_graph.csv:1", "self loop"}},
		{"logical_graph.csv", "ReadImage,ExtractImageFeature\nReadSpeech,SpeechRecognition\nExtractImageFeature,VQA\nSpeechRecognition,VQA\nVQA,ExtractImageFeature\n", []string{"logical_graph.csv", "cycle"}},
		{"input_injection_rates.csv", "VQA,40\n", []string{"input_injection_rates.csv:1", "source", "VQA"}},
		{"input_injection_rates.csv", "ReadImage,0\n", []string{"input_injection_rates.csv:1", "rate"}},
		{"message_sizes.csv", "ReadImage,VQA,default,default,1\n", []string{"message_sizes.csv:1", "not an edge"}},
		{"workers_workers_link.csv", "workflow-compute-cpu-1,ghost,1\n", []string{"workers_workers_link.csv:1", "ghost"}},
		{"sources_workers_link.csv", "VQA,workflow-compute-cpu-1,1\n", []string{"sources_workers_link.csv:1", "source"}},
		{"workers_partition.json", `[["workflow-compute-cpu-1"]]`, []string{"workers_partition.json", "in no tier"}},
		{"workers_partition.json", `{"a": 1}`, []string{"workers_partition.json", "list of lists"}},
		{"accuracy_requirement.json", `{"sink": "VQA"}`, []string{"accuracy_requirement.json", "threshold"}},
		{"accuracy_requirement.json", `{"sink": "Nope", "threshold": 1}`, []string{"accuracy_requirement.json", "sink", "Nope"}},
		{"nodes_accuracy_profiles.json", `{"end_to_end_profile": {"operators": []}}`, []string{"nodes_accuracy_profiles.json", "operators"}},
		{"nodes_accuracy_profiles.json", "{\n\"x\": [1,\n}", []string{"nodes_accuracy_profiles.json", "line 3"}},
		{"throughput_normalization_ratios.csv", "ReadImage,ExtractImageFeature,abc\n", []string{"throughput_normalization_ratios.csv:1", "ratio"}},
		{"workers_numbers.csv", "workflow-compute-cpu-1,two\n", []string{"workers_numbers.csv:1", "count"}},
	}
	for _, tc := range tests {
		fs := mediumFiles(t)
		fs[tc.file] = []byte(tc.content)
		_, err := ParseOriginal("m", fs, mediumConfig(t))
		if err == nil {
			t.Errorf("%s %q: no error", tc.file, tc.content)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s %q: error %q lacks %q", tc.file, tc.content, err, w)
			}
		}
	}
	// A missing required file is named.
	fs := mediumFiles(t)
	delete(fs, "message_sizes.csv")
	if _, err := ParseOriginal("m", fs, mediumConfig(t)); err == nil || !strings.Contains(err.Error(), "message_sizes.csv: missing") {
		t.Errorf("missing file: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{"INPUT:\n  COMM_COST_SCALING_FACTOR: x\n", "c.yaml:2: INPUT.COMM_COST_SCALING_FACTOR"},
		{"INPUT:\n  TYPO: 1\n", "c.yaml:2: INPUT.TYPO: unknown key"},
		{"  BEST_K: 3\n", "c.yaml:1: key BEST_K outside any section"},
		{"WORKER_ASSIGNMENT:\n  STRATEGY: dp\n", "c.yaml:2"},
		{"WORKER_ASSIGNMENT:\n  TIER_ALLOCATION_STRATEGY: 'dp'\n", "only greedy"},
		{"INPUT\n", "c.yaml:1"},
	}
	for _, tc := range tests {
		_, err := ParseConfig("c.yaml", []byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.text, err, tc.want)
		}
	}
	cfg, err := ParseConfig("c.yaml", []byte("# comment\nWORKER_ASSIGNMENT:\n  STRATEGY: \"same-tier\"\n  MAX_NUM_ASSIGN_ORDERS: None\n"))
	if err != nil || cfg.Strategy != "same-tier" || cfg.MaxAssignOrders != 0 {
		t.Errorf("cfg %+v err %v", cfg, err)
	}
}

// workers_numbers.csv expands each type into type_0 … type_{n−1}, with links between all replicas.
func TestWorkerNumbers(t *testing.T) {
	fs := mediumFiles(t)
	fs["workers_numbers.csv"] = []byte(strings.Join([]string{
		"workflow-compute-cpu-1,2", "workflow-compute-cpu-2,1", "workflow-compute-cpu-3,1", "workflow-compute-cpu-4,1",
		"workflow-compute-cpu-5,1", "workflow-compute-cpu-6,3", "workflow-compute-gpu-1,1", "workflow-compute-gpu-2,1",
		"workflow-compute-gpu-3,0"}, "\n"))
	in, err := ParseOriginal("m", fs, mediumConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	p := in.Problem
	if len(p.Workers) != 11 || p.Workers[1].Name != "workflow-compute-cpu-1_1" || p.Workers[7].Tier != 1 {
		t.Fatalf("workers %+v", p.Workers)
	}
	if p.Link[1][6] != 0.1 || p.Link[8][1] != 1.0 {
		t.Errorf("replica links %v %v", p.Link[1][6], p.Link[8][1])
	}
}

// Without workers_partition.json, tiers come from the zero-cost link components, cheapest first; on the
// medium example that is exactly its partition.
func TestPartitionFromLinks(t *testing.T) {
	fs := mediumFiles(t)
	delete(fs, "workers_partition.json")
	in, err := ParseOriginal("m", fs, mediumConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []int{0, 0, 0, 0, 0, 1, 1, 1, 1}
	for w, tier := range want {
		if in.Problem.Workers[w].Tier != tier {
			t.Errorf("worker %s tier %d, want %d", in.Problem.Workers[w].Name, in.Problem.Workers[w].Tier, tier)
		}
	}
}

// The native example is the medium example: the exact solver finds the same optimum.
func TestNativeMedium(t *testing.T) {
	in, err := ReadDir("../testdata/native", "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := in.Problem.Exact(optimizer.ExactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(s.Total-7.485018393756207) > 1e-12*7.5 || s.Accuracy != 56.59 {
		t.Errorf("native medium: %v", s)
	}
}

func TestNativeErrors(t *testing.T) {
	base, err := os.ReadFile("../testdata/native/jellybean.toml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ extra, want string }{
		{"\n[[worker]]\nname = \"cpu-1\"\nprice = 1.0\n", `"cpu-1" defined twice`},
		{"\n[[latency]]\nstage = \"VQA\"\nworker = \"ghost\"\nms = 3.0\n", `unknown worker "ghost"`},
		{"\n[[link]]\nfrom = \"nowhere\"\nto = \"cpu-1\"\ncost = 1.0\n", `"nowhere" is neither a worker nor a source`},
		{"\ncolour = 3\n", "unknown key(s): accuracy.colour"},
		{"\n[[source]]\nname = \"X\"\nrate = -1.0\n", "rate must be > 0"},
		{"\n[[stage]]\nname = \"Y\"\ninputs = [\"Z\"]\n", `input "Z" is not a source or stage`},
		{"\nthreshold = \n", "jellybean.toml:"},
	}
	for _, tc := range tests {
		_, err := ParseNative("jellybean.toml", append(append([]byte(nil), base...), tc.extra...), optimizer.DefaultConfig())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.extra, err, tc.want)
		}
	}
}

func TestVariants(t *testing.T) {
	o, err := ParseVariants("v.toml", []byte("dataset = \"d.jsonl\"\n[stage.ExtractImageFeature]\nnode = \"ImageFeatures\"\n[devices]\ncpu-6 = \"cuda:1\"\n"))
	if err != nil || o.Nodes["ExtractImageFeature"] != "ImageFeatures" || o.Devices["cpu-6"] != "cuda:1" || o.Dataset != "d.jsonl" {
		t.Fatalf("%+v %v", o, err)
	}
	if _, err := ParseVariants("v.toml", []byte("[stage.VQA]\nnoed = 1\n")); err == nil || !strings.Contains(err.Error(), "stage.VQA.noed") {
		t.Errorf("unknown key: %v", err)
	}
}

// TestVariantsRoundTrip: EncodeVariants writes every plan option that ParseVariants reads back.
func TestVariantsRoundTrip(t *testing.T) {
	o := optimizer.PlanOptions{Job: "j", Workflow: "workloads/vqa/workflow.toml", Dataset: "d/manifest.jsonl", BasePort: 29600, BatchSize: 4,
		Limit: 30, Compress: "fastest", Threads: 2, SourceHost: "edge", SinkHost: "edge",
		Nodes:   map[string]string{"ExtractImageFeature": "ImageFeatures"},
		Devices: map[string]string{"gpu_0": "cuda:1"}, Hosts: map[string]string{"gpu_0": "node7", "cpu_0": "node1"}}
	data, err := EncodeVariants(o)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseVariants("variants.toml", data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !reflect.DeepEqual(got, o) {
		t.Errorf("round trip changed the options:\n got %+v\nwant %+v\n%s", got, o, data)
	}
}
