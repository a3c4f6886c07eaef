package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jellybean/hostfiles"
)

func loadExample(t *testing.T, name string) *Plan {
	t.Helper()
	p, err := Load(filepath.Join("examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExamplesValidate(t *testing.T) {
	def := loadExample(t, "default.toml")
	if err := Validate(def, "default.toml", Options{Hostfile: hostfiles.Default(), Root: ".."}); err != nil {
		t.Fatalf("default plan: %v", err)
	}
	hf, err := hostfiles.Load("../hostfiles/example-cluster")
	if err != nil {
		t.Fatal(err)
	}
	multi := loadExample(t, "multihost.toml")
	if err := Validate(multi, "multihost.toml", Options{Hostfile: hf, Root: ".."}); err != nil {
		t.Fatalf("multihost plan: %v", err)
	}
	// Paths resolve against the root: in an empty root the workflow file itself is missing.
	err = Validate(loadExample(t, "default.toml"), "default.toml", Options{Root: t.TempDir(), CheckFiles: true})
	if err == nil || !strings.Contains(err.Error(), `default.toml: workflow = "workloads/vqa/workflow.toml": reading workflow`) {
		t.Fatalf("missing workflow in empty root: %v", err)
	}
	// A workflow whose model file is missing is named with its node and variant.
	root := t.TempDir()
	wf, err := os.ReadFile("../workloads/vqa/workflow.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "workloads/vqa"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "workloads/vqa/workflow.toml"), wf, 0o644); err != nil {
		t.Fatal(err)
	}
	err = Validate(loadExample(t, "default.toml"), "default.toml", Options{Root: root, CheckFiles: true})
	if err == nil || !strings.Contains(err.Error(), `node "ImageFeatures": model.variant "res16": file = "models/image_res16.onnx": file not found`) {
		t.Fatalf("missing model file: %v", err)
	}
}

// mutate applies a change to a fresh copy of the default plan and returns the validation error.
func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *Plan)
		want   string
	}{
		{"stage without workers", func(p *Plan) { p.Stages[2].Workers = nil }, `stage[2] "ImageFeatures": no [[stage.worker]]`},
		{"zero weight", func(p *Plan) { p.Stages[3].Workers[0].Weight = 0 }, `stage[3] "SpeechRecognition" worker[0]: weight = 0: must be > 0`},
		{"negative weight", func(p *Plan) { p.Stages[0].Workers[0].Weight = -2 }, `worker[0]: weight = -2`},
		{"unknown variant", func(p *Plan) { p.Stages[4].Variant = "res99" }, `stage[4] "VQA": variant = "res99": not a variant of workflow node "VQA"`},
		{"variant not tied", func(p *Plan) { p.Stages[4].Variant = "res16" }, `stage[4] "VQA": variant = "res16", but the workflow ties it to stage "ImageFeatures", which runs "res64"`},
		{"unknown stage", func(p *Plan) { p.Stages[4].Name = "VQA2" }, `stage[4] "VQA2": no node of that name in workflow`},
		{"node without stage", func(p *Plan) { p.Stages = p.Stages[:5] }, `node "Sink" has no [[stage]]`},
		{"sink with two workers", func(p *Plan) { p.Stages[5].Workers = append(p.Stages[5].Workers, p.Stages[5].Workers[0]) }, `a sink has exactly one worker`},
		{"variant on source", func(p *Plan) { p.Stages[0].Variant = "x" }, `variant = "x", but workflow node "ReadImage" runs no model`},
		{"bad device", func(p *Plan) { p.Stages[2].Workers[0].Device = "gpu0" }, `device = "gpu0": want cpu, cuda or cuda:N`},
		{"cuda on source", func(p *Plan) { p.Stages[0].Workers[0].Device = "cuda:0" }, `node "ReadImage" runs no model (use cpu)`},
		{"no workflow", func(p *Plan) { p.Workflow = "" }, `workflow: missing`},
		{"duplicate name", func(p *Plan) { p.Stages[1].Name = "ReadImage" }, `name already used by stage[0]`},
		{"bad compress", func(p *Plan) { p.Compress = "zip" }, `compress = "zip"`},
		{"bad port", func(p *Plan) { p.BasePort = 80 }, `base_port = 80`},
		{"job name with a path", func(p *Plan) { p.Job = "../../etc" }, `job = "../../etc": must not contain`},
		{"job name with a newline", func(p *Plan) { p.Job = "a\nb" }, `job = "a\nb"`},
		{"negative rate", func(p *Plan) { p.InputRate = -1 }, `input_rate = -1`},
		{"no dataset", func(p *Plan) { p.Dataset = "" }, `dataset: missing`},
		{"host not in hostfile", func(p *Plan) { p.Stages[1].Workers[0].Host = "node9" }, `stage[1] "ReadSpeech" worker[0]: host = "node9" is not in hostfile hostfiles/localhost`},
		{"too few workers for slots", func(p *Plan) { p.Stages[4].Workers = nil }, `host "localhost" has 6 slots in hostfile hostfiles/localhost (line 3) but the plan places 5 workers`},
		{"too many workers for slots", func(p *Plan) {
			p.Stages[2].Workers = append(p.Stages[2].Workers, p.Stages[2].Workers[0])
		}, `the plan places 7 workers`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := loadExample(t, "default.toml")
			tc.change(p)
			err := Validate(p, "plan.toml", Options{Hostfile: hostfiles.Default(), Root: ".."})
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "plan.toml: ") {
				t.Fatalf("error %q\ndoes not contain %q", err, tc.want)
			}
		})
	}
}

func TestValidateListsManyProblems(t *testing.T) {
	p := loadExample(t, "default.toml")
	for i := range p.Stages {
		p.Stages[i].Workers[0].Weight = 0
	}
	err := Validate(p, "plan.toml", Options{Root: ".."})
	if err == nil || !strings.HasPrefix(err.Error(), `plan.toml: stage[0] "ReadImage" worker[0]: weight = 0: must be > 0 (and 5 more problems: stage[1]`) ||
		strings.Contains(err.Error(), "\n") {
		t.Fatalf("error %v", err)
	}
}

func TestTopoOrderAndHelpers(t *testing.T) {
	p := loadExample(t, "default.toml")
	if err := p.Bind(".."); err != nil {
		t.Fatal(err)
	}
	order, err := p.TopoOrder()
	if err != nil {
		t.Fatal(err)
	}
	pos := map[int]int{}
	for k, i := range order {
		pos[i] = k
	}
	for i := range p.Stages {
		for _, j := range p.InputIndexes(i) {
			if pos[j] >= pos[i] {
				t.Fatalf("stage %d before its input %d in %v", i, j, order)
			}
		}
	}
	if p.SinkIndex() != 5 || len(p.Consumers(2)) != 1 || p.Consumers(2)[0] != 4 {
		t.Fatal("sink/consumers")
	}
	if p.BatchSizeOf(2) != 8 {
		t.Fatalf("batch size %d", p.BatchSizeOf(2))
	}
	p.Stages[2].BatchSize = 3
	if p.BatchSizeOf(2) != 3 {
		t.Fatal("stage batch size override")
	}
	if Resolve("/root", "a/b") != "/root/a/b" || Resolve("/root", "/abs") != "/abs" {
		t.Fatal("Resolve")
	}
	if got := p.SourcesOf(4); len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Fatalf("sources of VQA: %v", got)
	}
	if got := p.SourcesOf(0); len(got) != 0 {
		t.Fatalf("sources of a source: %v", got)
	}
	if p.JoinStage() != 4 {
		t.Fatalf("join stage %d", p.JoinStage())
	}
	if v := p.Variants(); v["VQA"] != "res64" || len(v) != 3 {
		t.Fatalf("variants %v", v)
	}
}

func TestUnknownKeyInExample(t *testing.T) {
	data, err := os.ReadFile("examples/default.toml")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(data), "weight = 1.0", "wieght = 1.0", 1)
	_, err = Parse("bad.toml", []byte(bad))
	if err == nil || !strings.Contains(err.Error(), "bad.toml: unknown key(s): stage.worker.wieght") {
		t.Fatalf("error %v", err)
	}
}

// FuzzValidate: any plan that parses is validated without panicking, against the default hostfile too.
func FuzzValidate(f *testing.F) {
	data, err := os.ReadFile("examples/default.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(data))
	f.Add(minimal)
	f.Add("[[stage]]\nname = \"a\"\ninputs = [\"a\"]\n")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse("fuzz.toml", []byte(s))
		if err != nil {
			return
		}
		_ = Validate(p, "fuzz.toml", Options{Hostfile: hostfiles.Default()})
		_, _ = p.TopoOrder()
		for i := range p.Stages {
			p.SourcesOf(i)
			p.BatchSizeOf(i)
		}
		p.JoinStage()
	})
}
