// Package metrics scores OCR results against the generated ground truth: character error rate and word
// accuracy of each page's text in reading order, and line detection recall (a true line counts as found
// when a predicted box overlaps it with IoU ≥ MatchIoU, one prediction per true line).
package metrics

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"jellybean/workloads/ocr"
	"jellybean/workloads/ocr/dataset"
)

// MatchIoU is the intersection-over-union a predicted box needs with a true line's box to find it.
const MatchIoU = 0.5

// Line is one recognised line: its text and axis-aligned box [x0, y0, x1, y1] in page pixels.
type Line struct {
	Text string     `json:"text"`
	Box  [4]float64 `json:"box"`
}

// Score counts one page's (or, summed, a set of pages') errors; the rates come from the counts so that
// sums give rates over all characters, words and lines (pages weigh by their size).
type Score struct {
	Pages        int `json:"pages"`
	Chars        int `json:"chars"`       // characters of the true page texts
	CharErrors   int `json:"char_errors"` // edit distance between true and recognised page texts
	Words        int `json:"words"`       // words of the true page texts
	WordsCorrect int `json:"words_correct"`
	Lines        int `json:"lines"`       // true lines
	LinesFound   int `json:"lines_found"` // true lines matched by a predicted box
}

// CER is the character error rate in percent.
func (s Score) CER() float64 { return pct(s.CharErrors, s.Chars) }

// WordAccuracy is the percentage of true words recognised, in order (see ScorePage).
func (s Score) WordAccuracy() float64 { return pct(s.WordsCorrect, s.Words) }

// Recall is the percentage of true lines found by the detector.
func (s Score) Recall() float64 { return pct(s.LinesFound, s.Lines) }

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// Add returns the sum of two scores.
func (s Score) Add(o Score) Score {
	return Score{s.Pages + o.Pages, s.Chars + o.Chars, s.CharErrors + o.CharErrors, s.Words + o.Words,
		s.WordsCorrect + o.WordsCorrect, s.Lines + o.Lines, s.LinesFound + o.LinesFound}
}

// ScorePage scores one page. Both texts are built the same way (ocr.PageText: boxes grouped into rows,
// rows top to bottom, boxes left to right) with runs of spaces collapsed. Words are the space-separated
// tokens; a true word is correct when it is in the longest common subsequence of the true and the
// recognised word sequences, so a missed, misread or misplaced word counts against the page.
func ScorePage(truth []dataset.Line, pred []Line) Score {
	tb := make([][4]float64, len(truth))
	tt := make([]string, len(truth))
	for i, l := range truth {
		tb[i] = [4]float64{float64(l.Box[0]), float64(l.Box[1]), float64(l.Box[2]), float64(l.Box[3])}
		tt[i] = l.Text
	}
	pb := make([][4]float64, len(pred))
	pt := make([]string, len(pred))
	for i, l := range pred {
		pb[i], pt[i] = l.Box, l.Text
	}
	want, got := normalize(ocr.PageText(tb, tt)), normalize(ocr.PageText(pb, pt))
	ww, gw := strings.Fields(want), strings.Fields(got)
	return Score{
		Pages:        1,
		Chars:        len([]rune(want)),
		CharErrors:   EditDistance([]rune(want), []rune(got)),
		Words:        len(ww),
		WordsCorrect: LCS(ww, gw),
		Lines:        len(truth),
		LinesFound:   Matched(tb, pb, MatchIoU),
	}
}

// normalize collapses runs of spaces and tabs in each row and drops empty rows.
func normalize(s string) string {
	var rows []string
	for _, r := range strings.Split(s, "\n") {
		if f := strings.Fields(r); len(f) > 0 {
			rows = append(rows, strings.Join(f, " "))
		}
	}
	return strings.Join(rows, "\n")
}

// EditDistance is the Levenshtein distance (insertions, deletions, substitutions of one element each).
func EditDistance[T comparable](a, b []T) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// LCS is the length of the longest common subsequence of a and b.
func LCS[T comparable](a, b []T) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				cur[j] = prev[j-1] + 1
			} else {
				cur[j] = max(prev[j], cur[j-1])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// IoU is the intersection over union of two axis-aligned boxes.
func IoU(a, b [4]float64) float64 {
	iw := min(a[2], b[2]) - max(a[0], b[0])
	ih := min(a[3], b[3]) - max(a[1], b[1])
	if iw <= 0 || ih <= 0 {
		return 0
	}
	inter := iw * ih
	union := (a[2]-a[0])*(a[3]-a[1]) + (b[2]-b[0])*(b[3]-b[1]) - inter
	return inter / union
}

// Matched counts the true boxes matched one-to-one by predicted boxes with IoU ≥ minIoU, pairing the
// most overlapping pairs first.
func Matched(truth, pred [][4]float64, minIoU float64) int {
	type pair struct {
		t, p int
		iou  float64
	}
	var pairs []pair
	for i, t := range truth {
		for j, p := range pred {
			if v := IoU(t, p); v >= minIoU {
				pairs = append(pairs, pair{i, j, v})
			}
		}
	}
	sort.SliceStable(pairs, func(a, b int) bool { return pairs[a].iou > pairs[b].iou })
	usedT, usedP := make([]bool, len(truth)), make([]bool, len(pred))
	n := 0
	for _, pr := range pairs {
		if !usedT[pr.t] && !usedP[pr.p] {
			usedT[pr.t], usedP[pr.p] = true, true
			n++
		}
	}
	return n
}

// Result is one line of a run's results.jsonl as the OCR workflow's sink writes it.
type Result struct {
	ID        int64        `json:"id"`
	PageText  string       `json:"page_text"`
	LineTexts []string     `json:"line_texts"`
	LineBoxes [][4]float64 `json:"line_boxes"`
}

// Lines pairs the result's line texts with their boxes.
func (r Result) Lines() ([]Line, error) {
	if len(r.LineTexts) != len(r.LineBoxes) {
		return nil, fmt.Errorf("item %d: %d line texts but %d line boxes", r.ID, len(r.LineTexts), len(r.LineBoxes))
	}
	out := make([]Line, len(r.LineTexts))
	for i := range out {
		out[i] = Line{Text: r.LineTexts[i], Box: r.LineBoxes[i]}
	}
	return out, nil
}

// LoadResults reads results.jsonl; errors name the file and line.
func LoadResults(path string) ([]Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Result
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for line := 1; sc.Scan(); line++ {
		var r Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// ScoreResults scores every page of the manifest against its result and returns the total and the
// per-page scores (manifest order). A page without a result scores as if nothing was read on it; a
// result for an id the manifest lacks, or two results for one id, is an error.
func ScoreResults(pages []dataset.Page, results []Result) (Score, []Score, error) {
	byID := map[int64]Result{}
	for _, r := range results {
		if _, dup := byID[r.ID]; dup {
			return Score{}, nil, fmt.Errorf("two results for item %d", r.ID)
		}
		byID[r.ID] = r
	}
	var total Score
	per := make([]Score, len(pages))
	for i, p := range pages {
		r := byID[p.ID]
		delete(byID, p.ID)
		lines, err := r.Lines()
		if err != nil {
			return Score{}, nil, err
		}
		per[i] = ScorePage(p.Lines, lines)
		total = total.Add(per[i])
	}
	for id := range byID {
		return Score{}, nil, fmt.Errorf("result for item %d, which the manifest does not have", id)
	}
	return total, per, nil
}
