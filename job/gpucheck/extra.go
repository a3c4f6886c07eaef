package gpucheck

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"

	ort "github.com/yalue/onnxruntime_go"

	"jellybean/job/onnx"
)

// ExtraModels describes every *.onnx file in dir as a model to time beside the workflow's, e.g. the
// random-weight ResNet-50 that gpu-check.sh exports on the GPU host to compare with the issue's
// reference figures. Each must take float32 tensors whose only free dimension is the leading batch one.
func ExtraModels(dir string) ([]Model, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.onnx"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []Model
	for _, f := range files {
		ins, outs, err := onnx.IOInfo(f)
		if err != nil {
			return nil, err
		}
		m := Model{Node: "extra", Variant: strings.TrimSuffix(filepath.Base(f), ".onnx"), File: f}
		for _, in := range ins {
			if in.DataType != ort.TensorElementDataTypeFloat {
				return nil, fmt.Errorf("%s: input %s is %v; extra models take float32 inputs", f, in.Name, in.DataType)
			}
			m.Inputs = append(m.Inputs, in.Name)
		}
		for _, o := range outs {
			m.Outputs = append(m.Outputs, o.Name)
		}
		out = append(out, m)
	}
	return out, nil
}

// extraInputs returns deterministic float32 inputs for an extra model: its declared shapes with the
// leading (batch) dimension set to batch.
func extraInputs(m Model, batch int) ([]Input, error) {
	ins, _, err := onnx.IOInfo(m.File)
	if err != nil {
		return nil, err
	}
	var out []Input
	for _, in := range ins {
		shape := append([]int64{int64(batch)}, in.Dimensions[1:]...)
		n := int64(1)
		for i, d := range shape {
			if d <= 0 {
				return nil, fmt.Errorf("%s: input %s dimension %d is free (%d); only the batch dimension may be", m.File, in.Name, i, d)
			}
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(math.Sin(float64(i) * 0.37))
		}
		out = append(out, Input{Name: in.Name, Shape: shape, F32: data})
	}
	return out, nil
}
