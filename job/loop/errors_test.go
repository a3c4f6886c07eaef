package loop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "jellybean/workloads/all" // the spoken-VQA workload the configurations name
)

// Bad input is refused before anything runs, with an error naming the file, line, key or flag at fault,
// and leaves nothing behind in the runs folder.
func TestRunRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hf := write("hostfile", "localhost slots=2\n")
	badHF := write("bad-hostfile", "localhost slots=two\n")
	typo := write("typo.toml", "[[host]]\nname = \"localhost\"\ntier = \"edge\"\nprice_per_hr = 1.0\n")
	other := write("other.toml", "[[host]]\nname = \"10.0.0.9\"\ntier = \"edge\"\n")
	runs := filepath.Join(dir, "runs")
	if err := os.MkdirAll(filepath.Join(runs, "taken"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"no rate", Config{Hostfile: hf}, []string{"--rate 0"}},
		{"negative limit", Config{Hostfile: hf, AutoRate: true, Limit: -1}, []string{"--limit -1"}},
		{"bad run id", Config{Hostfile: hf, AutoRate: true, RunID: "a/b"}, []string{`--run-id "a/b"`}},
		{"run exists", Config{Hostfile: hf, AutoRate: true, RunID: "taken"}, []string{"run taken already exists"}},
		{"hostfile syntax", Config{Hostfile: badHF, AutoRate: true}, []string{"bad-hostfile", "1"}},
		{"missing hostfile", Config{Hostfile: filepath.Join(dir, "nope"), AutoRate: true}, []string{"nope"}},
		{"infra typo", Config{Hostfile: hf, Infra: typo, AutoRate: true}, []string{"typo.toml", "price_per_hr"}},
		{"host not in infra", Config{Hostfile: hf, Infra: other, AutoRate: true}, []string{"other.toml", `host "localhost"`}},
		{"missing split", Config{Hostfile: hf, AutoRate: true, DataDir: dir, Split: "val"}, []string{"split val", "gen-data --workload vqa --split val"}},
		{"unknown workload", Config{Hostfile: hf, AutoRate: true, Workload: "nope"}, []string{`workload "nope" is not registered`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.RunsDir, tc.cfg.Binary, tc.cfg.Root = runs, "/bin/false", "../.."
			if tc.cfg.Workload == "" {
				tc.cfg.Workload = "vqa"
			}
			_, err := Run(tc.cfg)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			entries, _ := os.ReadDir(runs)
			if len(entries) != 1 {
				t.Errorf("runs folder holds %d entries, want only the existing run", len(entries))
			}
		})
	}
}
