package evaluate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testManifest = `{"id":1,"image":"i1.png","audio":"a1.wav","question":"what color is the circle","answer":"red","type":"color"}
{"id":2,"image":"i2.png","audio":"a2.wav","question":"how many squares are there","answer":"two","type":"count_shape"}
{"id":3,"image":"i3.png","audio":"a3.wav","question":"is there a blue triangle","answer":"no","type":"exist"}
{"id":4,"image":"i4.png","audio":"a4.wav","question":"is there a red square","answer":"yes","type":"exist"}
`

const testPlan = `job = "t"
workflow = "workloads/vqa/workflow.toml"
dataset = "data/test/manifest.jsonl"
%LIMIT%
[[stage]]
name = "ImageFeatures"
variant = "res64"
[[stage]]
name = "SpeechRecognition"
variant = "ctc-large"
`

// setupRun writes a dataset manifest and a run directory with the given results lines under a temp root.
func setupRun(t *testing.T, results string, limit string) (root, run string) {
	t.Helper()
	root = t.TempDir()
	write := func(p, s string) {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("data/test/manifest.jsonl", testManifest)
	write("runs/r1/plan.toml", strings.Replace(testPlan, "%LIMIT%", limit, 1))
	write("runs/r1/results.jsonl", results)
	return root, filepath.Join(root, "runs/r1")
}

func TestEvalRun(t *testing.T) {
	v := `"variants":{"ImageFeatures":"res64","SpeechRecognition":"ctc-large"}`
	results := `{"id":1,"answer":"Red","question":"what color is the circle",` + v + `}
{"id":2,"answer":"three","question":"how many squares are there",` + v + `}
{"id":3,"answer":"no","question":"is there a blue triangle",` + v + `}
{"id":4,"answer":"yes","question":"is there red squares",` + v + `,"extra":1}
`
	root, run := setupRun(t, results, "")
	rep, err := EvalRun(root, run)
	if err != nil {
		t.Fatal(err)
	}
	// 3 of 4 answers right; words: 5+5+5+5 = 20, errors: item 4 "a" deleted + "square"->"squares" = 2
	// chars: item 4 "is there a red square" (21) vs "is there red squares": delete "a " (2) + insert "s" (1) = 3
	chars := len("what color is the circle") + len("how many squares are there") + len("is there a blue triangle") + len("is there a red square")
	want := map[string]float64{"acc": 75, "wer": 10, "cer": round(300.0 / float64(chars))}
	if rep.Items != 4 || rep.VQAAccuracy != want["acc"] || rep.ASRWER != want["wer"] || rep.ASRCER != want["cer"] {
		t.Errorf("got items %d acc %v wer %v cer %v, want 4 %v %v %v", rep.Items, rep.VQAAccuracy, rep.ASRWER, rep.ASRCER, want["acc"], want["wer"], want["cer"])
	}
	if rep.ByType["exist"].Items != 2 || rep.ByType["exist"].VQAAccuracy != 100 || rep.ByType["count_shape"].VQAAccuracy != 0 {
		t.Errorf("by type: %+v", rep.ByType)
	}
	if rep.Variants["ImageFeatures"] != "res64" || len(rep.Combinations) != 1 || rep.Missing != 0 {
		t.Errorf("variants %v, combinations %+v, missing %d", rep.Variants, rep.Combinations, rep.Missing)
	}
	if err := rep.Write(run); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	b, _ := os.ReadFile(filepath.Join(run, "eval.json"))
	if err := json.Unmarshal(b, &back); err != nil || back["vqa_accuracy"] != 75.0 || back["asr_wer"] != 10.0 || back["items"] != 4.0 {
		t.Errorf("eval.json: %v %s", err, b)
	}
}

func TestEvalRunMixedVariantsAndLimit(t *testing.T) {
	results := `{"id":1,"answer":"red","question":"what color is the circle","variants":{"ImageFeatures":"res16"}}
{"id":2,"answer":"two","question":"how many squares are there","variants":{"ImageFeatures":"res64"}}
`
	root, run := setupRun(t, results, "limit = 3")
	rep, err := EvalRun(root, run)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Combinations) != 2 || rep.VariantMix["ImageFeatures=res16"] != 1 || rep.Missing != 1 {
		t.Errorf("combinations %+v, mix %v, missing %d", rep.Combinations, rep.VariantMix, rep.Missing)
	}
	if rep.Variants["SpeechRecognition"] != "ctc-large" { // mixed results: the plan's variants are reported
		t.Errorf("variants %v", rep.Variants)
	}
}

func TestEvalRunErrors(t *testing.T) {
	for _, c := range []struct{ name, results, want string }{
		{"torn last line", `{"id":1,"answer":"red","question":"q"}` + "\n" + `{"id":2,"ans`, "results.jsonl:2:"},
		{"unknown id", `{"id":9,"answer":"red","question":"q"}`, "results.jsonl:1: id 9 is not in"},
		{"duplicate", `{"id":1,"answer":"red"}` + "\n" + `{"id":1,"answer":"red"}`, "results.jsonl:2: id 1 answered twice (first on line 1)"},
		{"missing id", `{"answer":"red"}`, `results.jsonl:1: key "id" missing`},
		{"missing answer", `{"id":1}`, `results.jsonl:1: key "answer" missing`},
		{"empty", "\n", "no results"},
	} {
		root, run := setupRun(t, c.results, "")
		_, err := EvalRun(root, run)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	root, run := setupRun(t, "", "")
	os.Remove(filepath.Join(root, "data/test/manifest.jsonl"))
	if _, err := EvalRun(root, run); err == nil || !strings.Contains(err.Error(), "manifest.jsonl") {
		t.Errorf("missing dataset: %v", err)
	}
}
