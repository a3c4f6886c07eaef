package metrics

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jellybean/workloads/ocr/dataset"
)

func TestEditDistanceAndLCS(t *testing.T) {
	if d := EditDistance([]rune("kitten"), []rune("sitting")); d != 3 {
		t.Errorf("kitten/sitting: %d, want 3", d)
	}
	if d := EditDistance([]rune(""), []rune("abc")); d != 3 {
		t.Errorf("empty/abc: %d", d)
	}
	if n := LCS([]string{"a", "b", "c", "d"}, []string{"b", "x", "d", "a"}); n != 2 {
		t.Errorf("LCS %d, want 2", n)
	}
}

func TestIoUAndMatching(t *testing.T) {
	a := [4]float64{0, 0, 10, 10}
	if v := IoU(a, [4]float64{5, 0, 15, 10}); v < 0.333 || v > 0.334 {
		t.Errorf("IoU %v, want 1/3", v)
	}
	truth := [][4]float64{{0, 0, 10, 10}, {0, 20, 10, 30}, {0, 40, 10, 50}}
	// one prediction covers the first line well, one is between lines 2 and 3 (matches neither at 0.5)
	pred := [][4]float64{{0, 1, 10, 11}, {0, 25, 10, 45}, {0, 0, 10, 9}}
	if n := Matched(truth, pred, MatchIoU); n != 1 {
		t.Errorf("matched %d, want 1 (one-to-one)", n)
	}
}

func TestScorePage(t *testing.T) {
	truth := []dataset.Line{
		{Text: "Total", Box: [4]int{10, 10, 60, 24}},
		{Text: "$12.50", Box: [4]int{200, 10, 260, 24}},
		{Text: "Thank you", Box: [4]int{10, 40, 100, 54}},
	}
	pred := []Line{
		{Text: "Thank yov", Box: [4]float64{9, 39, 101, 55}},
		{Text: "Total", Box: [4]float64{9, 9, 61, 25}},
		{Text: "$12.50", Box: [4]float64{199, 11, 260, 25}},
	}
	s := ScorePage(truth, pred)
	// page text "Total $12.50\nThank you" (22 characters, 4 words); one character and one word wrong
	want := Score{Pages: 1, Chars: 22, CharErrors: 1, Words: 4, WordsCorrect: 3, Lines: 3, LinesFound: 3}
	if s != want {
		t.Errorf("score %+v, want %+v", s, want)
	}
	if s.WordAccuracy() != 75 || s.Recall() != 100 {
		t.Errorf("word accuracy %v recall %v", s.WordAccuracy(), s.Recall())
	}
	// nothing read: every character an error, no word, no line
	if e := ScorePage(truth, nil); e.CharErrors != 22 || e.WordsCorrect != 0 || e.LinesFound != 0 {
		t.Errorf("empty prediction scored %+v", e)
	}
}

func TestScoreResultsFromFile(t *testing.T) {
	pages := []dataset.Page{{ID: 0, Lines: []dataset.Line{{Text: "a b", Box: [4]int{0, 0, 30, 10}}}},
		{ID: 1, Lines: []dataset.Line{{Text: "c", Box: [4]int{0, 0, 10, 10}}}}}
	path := filepath.Join(t.TempDir(), "results.jsonl")
	os.WriteFile(path, []byte(`{"id":1,"page_text":"c","line_texts":["c"],"line_boxes":[[0,0,10,10]]}`+"\n"), 0o644)
	res, err := LoadResults(path)
	if err != nil {
		t.Fatal(err)
	}
	total, per, err := ScoreResults(pages, res)
	if err != nil {
		t.Fatal(err)
	}
	if per[0].WordsCorrect != 0 || per[1].WordsCorrect != 1 || total.Words != 3 || total.Pages != 2 {
		t.Errorf("total %+v per %+v", total, per)
	}
	if _, _, err := ScoreResults(pages, append(res, Result{ID: 7})); err == nil {
		t.Error("a result for an unknown id accepted")
	}
	os.WriteFile(path, []byte("{\"id\":1}\nnot json\n"), 0o644)
	if _, err := LoadResults(path); err == nil || !contains(err.Error(), ":2:") {
		t.Errorf("bad line: %v, want an error naming line 2", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
