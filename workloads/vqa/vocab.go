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

// The vocabularies are package variables initialised from vocab.json before any variable that uses
// them (Go orders package initialisation by dependency).
var (
	vocab      = mustVocab()
	wordToken  = indexOf(vocab.QuestionWords)
	answerRank = indexOf(vocab.Answers)
)

// TheVocab returns the embedded vocabularies.
func TheVocab() Vocab { return vocab }

func mustVocab() Vocab {
	var v Vocab
	if err := json.Unmarshal(vocabJSON, &v); err != nil {
		panic(fmt.Sprintf("vqa: embedded vocab.json: %v", err))
	}
	if v.QuestionLen != QuestionLen {
		panic(fmt.Sprintf("vqa: vocab.json question_len %d != QuestionLen %d", v.QuestionLen, QuestionLen))
	}
	if v.QuestionWords[PadToken] != "<pad>" || v.QuestionWords[UnknownToken] != "<unk>" {
		panic("vqa: vocab.json question_words must start with <pad>, <unk>")
	}
	return v
}

func indexOf(words []string) map[string]int64 {
	m := make(map[string]int64, len(words))
	for i, w := range words {
		m[w] = int64(i)
	}
	return m
}
