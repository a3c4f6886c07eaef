// Package ocr is the document text recognition workload on PaddleOCR's PP-OCRv4 models: the pure Go
// pre- and post-processing around the three ONNX models (detector input, DB post-processing to line boxes,
// line crops for the recogniser and the angle classifier, CTC decoding, reading order), and the workflow
// steps that run them. Package dataset generates the pages, package metrics scores results.
package ocr
