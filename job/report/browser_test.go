package report

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"jellybean/job/report/browsertest"
)

// TestReportInChromium renders the report of a real run's files (with a [predicted] table added so that
// the comparison is exercised) and loads it in headless chromium: the page's own script reports whether
// every chart decoded, and the dumped DOM must hold the tables and explanations.
func TestReportInChromium(t *testing.T) {
	browser := browsertest.Find(t)
	run := copyFixture(t)
	f, err := os.OpenFile(filepath.Join(run, "plan.toml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The fixture ran at 110.7 items/s end to end; predict 100 (within 15 %) and an accuracy 7.5 points off.
	_, err = f.WriteString("\n[predicted]\nthroughput_items_per_second = 100.0\naccuracy = 0.40\ncompute_cost = 1.5\ncommunication_cost = 0.25\ntotal_cost = 1.75\n")
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	page, err := Write(run, "", out)
	if err != nil {
		t.Fatal(err)
	}
	d := browsertest.DumpDOM(t, browser, page)
	checks := []struct{ what, re string }{
		{"every chart decoded in the browser", `images decoded: 4/4`},
		{"throughput", `id="throughput">110\.7 items/s`},
		{"prediction shown", `predicted 100\.0 items/s`},
		{"stage row of the slowest model", `<td>SpeechRecognition</td><td>speech_recognition</td><td>ctc-large</td>`},
		{"an explained stage (ReadImage ran far above the prediction in batch mode)", `ReadImage: measured [0-9.]+ items/s is [0-9]+% above the predicted 100\.0`},
		{"accuracy difference explained", `Accuracy: measured 32\.50% vs predicted 40\.00%`},
		{"link table", `0 ReadImage → 2 ImageFeatures`},
		{"cost", `total 1\.75`},
		{"latency percentiles", `<th>p90</th>`},
	}
	for _, c := range checks {
		if !regexp.MustCompile(c.re).MatchString(d) {
			t.Errorf("page lacks %s (%s)", c.what, c.re)
		}
	}
	for _, name := range []string{"throughput", "links", "latency", "accuracy"} {
		if st, err := os.Stat(filepath.Join(out, name+".png")); err != nil || st.Size() < 1000 {
			t.Errorf("chart %s.png: %v", name, err)
		}
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", d)
	}
}

// TestTiersReportInChromium renders a real run across emulated tiers with a real profile's message sizes.
func TestTiersReportInChromium(t *testing.T) {
	browser := browsertest.Find(t)
	page, err := Write("testdata/tiers-run", "testdata/profile", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d := browsertest.DumpDOM(t, browser, page)
	for _, re := range []string{`images decoded: 4/4`, `<table id="edges">`, `<td>ReadSpeech → SpeechRecognition</td><td>default</td><td>400</td>`,
		`<td>ImageFeatures → VQA</td><td>res64</td>`} {
		if !regexp.MustCompile(re).MatchString(d) {
			t.Errorf("page lacks %s", re)
		}
	}
}
