package plan

import (
	"strings"
	"testing"
)

const minimal = `
job = "t"
workflow = "workloads/vqa/workflow.toml"
dataset = "d/manifest.jsonl"
base_port = 29500

[[stage]]
name = "ReadImage"
[[stage.worker]]
host = "localhost"
weight = 1.0
`

func TestParseRoundTrip(t *testing.T) {
	p, err := Parse("x.toml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Stages) != 1 || p.Stages[0].Workers[0].Host != "localhost" || p.BasePort != 29500 {
		t.Fatalf("decoded %+v", p)
	}
	out, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	q, err := Parse("again.toml", out)
	if err != nil {
		t.Fatalf("re-parse of encoded plan: %v\n%s", err, out)
	}
	if q.Stages[0].Name != "ReadImage" || q.Dataset != p.Dataset {
		t.Fatalf("round trip lost data: %+v", q)
	}
}

func TestParseRejectsUnknownKey(t *testing.T) {
	_, err := Parse("bad.toml", []byte(minimal+"\nbatch_sise = 4\n"))
	if err == nil || !strings.Contains(err.Error(), "batch_sise") || !strings.Contains(err.Error(), "bad.toml") {
		t.Fatalf("want unknown-key error naming file and key, got %v", err)
	}
}

func TestParseSyntaxErrorNamesLine(t *testing.T) {
	_, err := Parse("syn.toml", []byte("job = \"a\"\nbase_port = = 3\n"))
	if err == nil || !strings.Contains(err.Error(), "syn.toml:2") {
		t.Fatalf("want error at syn.toml:2, got %v", err)
	}
}

// Per-stage predictions round-trip, old plans (no [predicted.stage]) stay valid, and a misspelt key
// inside a stage's prediction is still an error.
func TestPredictedStages(t *testing.T) {
	withStages := minimal + `
[predicted]
throughput_items_per_second = 20.0
[predicted.stage.ReadImage]
throughput_items_per_second = 20.0
[predicted.stage.VQA]
throughput_items_per_second = 10.0
capacity_items_per_second = 55.5
`
	cases := []struct {
		name, text string
		want       map[string]StagePrediction // nil: no per-stage table
		wantErr    string
	}{
		{"old plan", minimal, nil, ""},
		{"per stage", withStages, map[string]StagePrediction{"ReadImage": {20, 0}, "VQA": {10, 55.5}}, ""},
		{"typo", withStages + "capacity_items_per_secnd = 3.0\n", nil, "capacity_items_per_secnd"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Parse("p.toml", []byte(c.text))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("want error naming %q, got %v", c.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Predicted.Stages) != len(c.want) {
				t.Fatalf("stages %+v, want %+v", p.Predicted.Stages, c.want)
			}
			for k, v := range c.want {
				if p.Predicted.Stages[k] != v {
					t.Errorf("stage %s: %+v, want %+v", k, p.Predicted.Stages[k], v)
				}
			}
			out, err := p.Encode()
			if err != nil {
				t.Fatal(err)
			}
			q, err := Parse("again.toml", out)
			if err != nil {
				t.Fatalf("re-parse: %v\n%s", err, out)
			}
			if len(q.Predicted.Stages) != len(c.want) || (c.want == nil && strings.Contains(string(out), "predicted.stage")) {
				t.Fatalf("round trip changed the per-stage table:\n%s", out)
			}
			for k, v := range c.want {
				if q.Predicted.Stages[k] != v {
					t.Errorf("round trip: stage %s: %+v, want %+v", k, q.Predicted.Stages[k], v)
				}
			}
		})
	}
}
