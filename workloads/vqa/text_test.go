package vqa

import (
	"reflect"
	"testing"
)

func TestNormalizeAnswer(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Red", "red"},
		{" red. ", "red"},
		{"How many  RED objects, are there?", "how many red objects are there"},
		{"don't", "don't"},
		{"", ""},
		{"...", ""},
		{"a-b", "a b"},
	} {
		if got := NormalizeAnswer(c.in); got != c.want {
			t.Errorf("NormalizeAnswer(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTokenize(t *testing.T) {
	id := func(w string) int64 { return wordToken[w] }
	for _, c := range []struct {
		in   string
		want []int64
	}{
		{"what color is the circle", []int64{id("what"), id("color"), id("is"), id("the"), id("circle"), 0, 0, 0}},
		{"How many RED objects are there?", []int64{id("how"), id("many"), id("red"), id("objects"), id("are"), id("there"), 0, 0}},
		{"wat color", []int64{UnknownToken, id("color"), 0, 0, 0, 0, 0, 0}},
		{"", make([]int64, QuestionLen)},
		{"a a a a a a a a a a", []int64{id("a"), id("a"), id("a"), id("a"), id("a"), id("a"), id("a"), id("a")}},
	} {
		got := Tokenize(c.in)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Tokenize(%q) = %v, want %v", c.in, got, c.want)
		}
		if len(got) != QuestionLen {
			t.Errorf("Tokenize(%q) has %d tokens, want %d", c.in, len(got), QuestionLen)
		}
	}
}

// onehot builds logits [frames, classes] whose arg-max per frame is the given class.
func onehot(classes int, best ...int) []float32 {
	out := make([]float32, len(best)*classes)
	for t, c := range best {
		out[t*classes+c] = 1
	}
	return out
}

func TestCTCGreedy(t *testing.T) {
	chars := vocab.ASRChars
	cls := func(s string) []int {
		var out []int
		for _, r := range s {
			switch r {
			case '_':
				out = append(out, vocab.ASRBlank)
			default:
				for i := range chars {
					if rune(chars[i]) == r && i != vocab.ASRBlank {
						out = append(out, i)
					}
				}
			}
		}
		return out
	}
	C := len(chars)
	for _, c := range []struct {
		name   string
		frames string // one character (or _ = blank) per frame
		want   string
	}{
		{"plain", "red", "red"},
		{"repeats merge", "rreeeddd", "red"},
		{"blank separates doubles", "gre_e_n", "green"},
		{"blank only", "____", ""},
		{"spaces trimmed and collapsed", "  a __  b  ", "a b"},
		{"apostrophe", "it's", "it's"},
	} {
		if got := CTCGreedy(onehot(C, cls(c.frames)...), len(c.frames), C); got != c.want {
			t.Errorf("%s: CTCGreedy(%q) = %q, want %q", c.name, c.frames, got, c.want)
		}
	}
	// frames beyond the logits are ignored, not a panic
	if got := CTCGreedy(onehot(C, cls("ab")...), 5, C); got != "ab" {
		t.Errorf("short logits: got %q, want \"ab\"", got)
	}
	if got := CTCGreedy(nil, 0, C); got != "" {
		t.Errorf("no frames: got %q", got)
	}
	// only the first `frames` rows count (padding rows of a batch are not decoded)
	if got := CTCGreedy(onehot(C, cls("abc")...), 2, C); got != "ab" {
		t.Errorf("frames=2: got %q, want \"ab\"", got)
	}
}

func TestAnswerFromScores(t *testing.T) {
	s := make([]float32, len(vocab.Answers))
	s[3] = 2
	s[5] = 2 // tie: first wins
	if got := AnswerFromScores(s); got != vocab.Answers[3] {
		t.Errorf("got %q, want %q", got, vocab.Answers[3])
	}
	s[len(s)-1] = 9
	if got := AnswerFromScores(s); got != "no" {
		t.Errorf("got %q, want \"no\"", got)
	}
	if got := AnswerFromScores(nil); got != "" {
		t.Errorf("no scores: got %q", got)
	}
}

func TestVocabConsistency(t *testing.T) {
	for _, w := range append(append([]string{}, vocab.Colors...), vocab.Shapes...) {
		if !IsAnswer(w) {
			t.Errorf("%q is not an answer", w)
		}
		if _, ok := wordToken[w]; !ok {
			t.Errorf("%q is not a question word", w)
		}
	}
	for _, n := range vocab.Numbers {
		if !IsAnswer(n) {
			t.Errorf("number %q is not an answer", n)
		}
	}
	if vocab.ASRChars[vocab.ASRBlank] != '_' {
		t.Errorf("blank class is %q, want the placeholder '_'", vocab.ASRChars[vocab.ASRBlank])
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "ab", 2}, {"kitten", "sitting", 3}, {"same", "same", 0}, {"ab", "ba", 2},
	} {
		if got := EditDistance([]rune(c.a), []rune(c.b)); got != c.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestTally(t *testing.T) {
	var tl Tally
	tl.Add(Item{Question: "how many circles are there", Answer: "two", Type: "count_shape"}, "Two", "how many circles are there")
	tl.Add(Item{Question: "is there a red circle", Answer: "yes", Type: "exist"}, "no", "")
	if tl.Accuracy() != 50 || tl.Words != 10 || tl.WordErrors != 5 || tl.WER() != 50 {
		t.Errorf("accuracy %v, words %d, errors %d, WER %v", tl.Accuracy(), tl.Words, tl.WordErrors, tl.WER())
	}
	if got := tl.Types(); len(got) != 2 || got[0] != "count_shape" || got[1] != "exist" {
		t.Errorf("types %v", got)
	}
	var empty Tally
	if empty.Accuracy() != 0 || empty.WER() != 0 {
		t.Error("empty tally not zero")
	}
}
