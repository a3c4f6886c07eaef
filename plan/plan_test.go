package plan

import (
	"strings"
	"testing"
)

const minimal = `
job = "t"
workload = "vqa"
dataset = "d/manifest.jsonl"
base_port = 29500

[[stage]]
name = "ReadImage"
op = "read_image"
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
