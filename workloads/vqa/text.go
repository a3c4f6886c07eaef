package vqa

import (
	"jellybean/workloads/transforms"
	"strings"
)

// NormalizeAnswer lower-cases s, keeps letters, digits and apostrophes, and collapses runs of anything
// else into single spaces, so that "Red." and " red" compare equal. Used for answers and for recognised
// question text before scoring.
func NormalizeAnswer(s string) string { return transforms.Words(s) }

// Tokenize maps a (recognised) question to QuestionLen token ids: words of the question vocabulary get
// their id, other words UnknownToken, and the tail is PadToken. Words past QuestionLen are dropped.
func Tokenize(question string) []int64 {
	out := make([]int64, QuestionLen)
	for i, w := range strings.Fields(NormalizeAnswer(question)) {
		if i == QuestionLen {
			break
		}
		if id, ok := wordToken[w]; ok {
			out[i] = id
		} else {
			out[i] = UnknownToken
		}
	}
	return out
}

// CTCGreedy decodes row-major logits [frames, classes] by best path: take the arg-max class per frame,
// merge repeats, drop blanks, and map classes to the recogniser's characters (vocab.json asr_chars).
// Leading, trailing and repeated spaces are removed. Rows beyond len(logits) are ignored.
func CTCGreedy(logits []float32, frames, classes int) string {
	if classes <= 0 || frames <= 0 {
		return ""
	}
	if frames*classes > len(logits) {
		frames = len(logits) / classes
	}
	chars := vocab.ASRChars
	var b strings.Builder
	prev := -1
	for t := 0; t < frames; t++ {
		row := logits[t*classes : (t+1)*classes]
		best := 0
		for c := 1; c < classes; c++ {
			if row[c] > row[best] {
				best = c
			}
		}
		if best != prev && best != vocab.ASRBlank && best < len(chars) {
			b.WriteByte(chars[best])
		}
		prev = best
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// AnswerFromScores returns the answer with the highest score (the first on ties); "" for no scores.
func AnswerFromScores(scores []float32) string {
	if len(scores) == 0 {
		return ""
	}
	best := 0
	for i, s := range scores {
		if s > scores[best] {
			best = i
		}
	}
	if best >= len(vocab.Answers) {
		return ""
	}
	return vocab.Answers[best]
}

// IsAnswer reports whether a is in the fixed answer vocabulary.
func IsAnswer(a string) bool { _, ok := answerRank[a]; return ok }
