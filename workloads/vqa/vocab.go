// Package vqa is the embedded spoken visual-question-answering workload: its vocabularies, dataset
// manifest, and the pre- and post-processing that turn dataset files into model inputs and model outputs
// into answers exactly as the training recipe (recipe/train.py) did.
//
// Everything here is pure or plain file reading; the dataset generator lives in vqa/dataset and model
// execution in the runner.
package vqa

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

//go:embed vocab.json
var vocabJSON []byte

// Vocab is vocab.json: the single source of truth shared with the Python recipe.
type Vocab struct {
	Colors        []string `json:"colors"`
	Shapes        []string `json:"shapes"`
	Numbers       []string `json:"numbers"`
	QuestionLen   int      `json:"question_len"`
	QuestionWords []string `json:"question_words"`
	Answers       []string `json:"answers"`
	ASRChars      string   `json:"asr_chars"`
	ASRBlank      int      `json:"asr_blank"`
	ImageMean     float32  `json:"image_mean"`
	ImageStd      float32  `json:"image_std"`
}

// QuestionLen is the fixed number of tokens Tokenize returns (the VQA model's question input width).
// It must equal vocab.json's question_len; init checks that.
const QuestionLen = 8

// Token ids with a fixed meaning in question_words.
const (
	PadToken     = 0
	UnknownToken = 1
)

var (
	vocab      Vocab
	wordToken  map[string]int64
	answerRank map[string]int
)

// TheVocab returns the embedded vocabularies.
func TheVocab() Vocab { return vocab }

func init() {
	if err := json.Unmarshal(vocabJSON, &vocab); err != nil {
		panic(fmt.Sprintf("vqa: embedded vocab.json: %v", err))
	}
	if vocab.QuestionLen != QuestionLen {
		panic(fmt.Sprintf("vqa: vocab.json question_len %d != QuestionLen %d", vocab.QuestionLen, QuestionLen))
	}
	if vocab.QuestionWords[PadToken] != "<pad>" || vocab.QuestionWords[UnknownToken] != "<unk>" {
		panic("vqa: vocab.json question_words must start with <pad>, <unk>")
	}
	wordToken = make(map[string]int64, len(vocab.QuestionWords))
	for i, w := range vocab.QuestionWords {
		wordToken[w] = int64(i)
	}
	answerRank = make(map[string]int, len(vocab.Answers))
	for i, a := range vocab.Answers {
		answerRank[a] = i
	}
}
