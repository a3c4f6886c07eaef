// Package all registers the steps of every embedded workload with the workflow engine: the generic
// transforms and each workload's own. The jellybean program imports it for its side effects.
package all

import (
	_ "jellybean/workloads/transforms" // generic steps: image, audio, text, CTC, labels
)

import _ "jellybean/workloads/vqa/hooks" // the spoken-VQA workload's tools: gen-data, eval, accuracy profile

import _ "jellybean/workloads/ocr/hooks" // the OCR workload's steps (PP-OCRv4) and tools: gen-data, eval, profile

// Default is the workload the commands use when neither a plan nor --workload names one.
const Default = "vqa"
