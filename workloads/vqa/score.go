package vqa

import (
	"sort"
	"strings"
)

// EditDistance is the Levenshtein distance between two token sequences.
func EditDistance[T comparable](a, b []T) int {
	d := make([]int, len(b)+1)
	for j := range d {
		d[j] = j
	}
	for i := 1; i <= len(a); i++ {
		prev := d[0]
		d[0] = i
		for j := 1; j <= len(b); j++ {
			cur := min(d[j]+1, d[j-1]+1, prev+boolInt(a[i-1] != b[j-1]))
			prev, d[j] = d[j], cur
		}
	}
	return d[len(b)]
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Tally accumulates VQA and speech recognition scores over items.
type Tally struct {
	Items, Correct    int
	WordErrors, Words int
	CharErrors, Chars int
	ByType            map[string]*TypeTally
}

// TypeTally is the part of a Tally for one question type.
type TypeTally struct {
	Items, Correct int
}

// Add scores one item: the predicted answer against the truth (after NormalizeAnswer), and the
// recognised question text against the spoken question (word and character edit distance after
// normalisation). An empty recognised text counts as all words deleted.
func (t *Tally) Add(item Item, answer, recognised string) {
	if t.ByType == nil {
		t.ByType = map[string]*TypeTally{}
	}
	tt := t.ByType[item.Type]
	if tt == nil {
		tt = &TypeTally{}
		t.ByType[item.Type] = tt
	}
	t.Items++
	tt.Items++
	if NormalizeAnswer(answer) == NormalizeAnswer(item.Answer) {
		t.Correct++
		tt.Correct++
	}
	ref, hyp := NormalizeAnswer(item.Question), NormalizeAnswer(recognised)
	t.WordErrors += EditDistance(strings.Fields(hyp), strings.Fields(ref))
	t.Words += len(strings.Fields(ref))
	t.CharErrors += EditDistance([]rune(hyp), []rune(ref))
	t.Chars += len([]rune(ref))
}

// Accuracy is the percentage of correct answers (0 with no items).
func (t *Tally) Accuracy() float64 { return pct(t.Correct, t.Items) }

// WER is the word error rate in percent.
func (t *Tally) WER() float64 { return pct(t.WordErrors, t.Words) }

// CER is the character error rate in percent.
func (t *Tally) CER() float64 { return pct(t.CharErrors, t.Chars) }

// Types lists the question types seen, in QuestionTypes order then alphabetically.
func (t *Tally) Types() []string {
	rank := map[string]int{}
	for i, q := range QuestionTypes {
		rank[q] = i
	}
	var out []string
	for k := range t.ByType {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		ri, iok := rank[out[i]]
		rj, jok := rank[out[j]]
		if iok != jok {
			return iok
		}
		if iok && ri != rj {
			return ri < rj
		}
		return out[i] < out[j]
	})
	return out
}

func pct(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return 100 * float64(n) / float64(d)
}
