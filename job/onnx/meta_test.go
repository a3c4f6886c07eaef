package onnx_test

import (
	"fmt"
	"path/filepath"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"jellybean/job/onnx"
	"jellybean/job/onnx/onnxbuild"
)

func TestReadIOOfABuiltModel(t *testing.T) {
	m := onnxbuild.New("two")
	a := m.Input("a", onnxbuild.Float32, "batch", 3)
	b := m.Input("b", onnxbuild.Int64, -1)
	w := m.Constant("w", onnxbuild.Float32, []int64{3}, []float32{1, 2, 3})
	m.Output(m.Node("Mul", a, w), "y", onnxbuild.Float32, "batch", 3)
	m.Output(b, "n", onnxbuild.Int64, -1)
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	ins, outs, err := onnx.ReadIO(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(ins, outs); got != "[{a 1 [-1 3]} {b 7 [-1]}] [{y 1 [-1 3]} {n 7 [-1]}]" {
		t.Fatalf("got %s", got)
	}
	if _, _, err := onnx.ReadIO(filepath.Join(t.TempDir(), "none.onnx")); err == nil {
		t.Fatal("missing file read")
	}
}

// ReadIO agrees with ONNX Runtime on every shipped model.
func TestReadIOAgreesWithONNXRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("loads ONNX Runtime")
	}
	files, _ := filepath.Glob("../../workloads/*/models/*.onnx")
	if len(files) == 0 {
		t.Fatal("no shipped models found")
	}
	for _, f := range files {
		ins, outs, err := onnx.ReadIO(f)
		if err != nil {
			t.Fatal(err)
		}
		oi, oo, err := onnx.IOInfo(f)
		if err != nil {
			t.Fatal(err)
		}
		same := func(ours []onnx.IO, theirs []ort.InputOutputInfo) bool {
			if len(ours) != len(theirs) {
				return false
			}
			for i := range ours {
				if ours[i].Name != theirs[i].Name || int(ours[i].Elem) != int(theirs[i].DataType) ||
					fmt.Sprint(ours[i].Dims) != fmt.Sprint([]int64(theirs[i].Dimensions)) {
					return false
				}
			}
			return true
		}
		if !same(ins, oi) || !same(outs, oo) {
			t.Errorf("%s: ours %v %v, ONNX Runtime %v %v", f, ins, outs, oi, oo)
		}
	}
}
