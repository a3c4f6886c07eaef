package onnxbuild

import (
	"math"
	"path/filepath"
	"reflect"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"jellybean/job/onnx"
)

// The tests in this file load the built models into the real ONNX Runtime and compare what it computes with
// the same arithmetic done in Go.

func needORT(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("loads ONNX Runtime; not in -short")
	}
	if _, err := onnx.Init(); err != nil {
		t.Fatal(err)
	}
}

// runModel saves m, checks ONNX Runtime reports the declared inputs and outputs, runs it on inputs and
// returns the outputs (ORT-allocated, destroyed when the test ends).
func runModel(t *testing.T, m *Model, declaredIn, declaredOut []ort.InputOutputInfo, inputs ...ort.Value) []ort.Value {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	gotIn, gotOut, err := ort.GetInputOutputInfo(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, io := range [][2][]ort.InputOutputInfo{{gotIn, declaredIn}, {gotOut, declaredOut}} {
		got, want := io[0], io[1]
		for i := range want {
			want[i].OrtValueType = ort.ONNXTypeTensor
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ONNX Runtime reports %v, want %v", got, want)
		}
	}
	names := func(infos []ort.InputOutputInfo) []string {
		var out []string
		for _, i := range infos {
			out = append(out, i.Name)
		}
		return out
	}
	s, err := ort.NewDynamicAdvancedSession(path, names(declaredIn), names(declaredOut), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	outs := make([]ort.Value, len(declaredOut))
	if err := s.Run(inputs, outs); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, o := range outs {
			o.Destroy()
		}
	})
	return outs
}

func newTensor[T ort.TensorData](t *testing.T, data []T, dims ...int64) *ort.Tensor[T] {
	t.Helper()
	v, err := ort.NewTensor(ort.NewShape(dims...), data)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Destroy() })
	return v
}

func info(name string, elem ort.TensorElementDataType, dims ...int64) ort.InputOutputInfo {
	return ort.InputOutputInfo{Name: name, DataType: elem, Dimensions: ort.NewShape(dims...)}
}

// output returns the data of out, which must be a tensor of T with the given shape.
func output[T ort.TensorData](t *testing.T, out ort.Value, dims ...int64) []T {
	t.Helper()
	tt, ok := out.(*ort.Tensor[T])
	if !ok {
		t.Fatalf("output is %T", out)
	}
	if got := tt.GetShape(); !reflect.DeepEqual(got, ort.NewShape(dims...)) {
		t.Fatalf("output shape %v, want %v", got, dims)
	}
	return tt.GetData()
}

func near(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-5 {
			t.Fatalf("%s[%d] = %v, want %v (all: %v vs %v)", what, i, got[i], want[i], got, want)
		}
	}
}

func TestClassifierRunsInORT(t *testing.T) {
	needORT(t)
	x := []float32{1, 0, 0, 0, 0, 1, 0, 0, 0.5, -1, 2, 3}
	const batch = 3

	// relu(x·w + b), softmax over the 3 classes, argmax.
	var probs []float32
	var labels []int64
	for r := range batch {
		h := make([]float64, 3)
		sum := 0.0
		for c := range 3 {
			v := float64(classifierB[c])
			for k := range 4 {
				v += float64(x[r*4+k]) * float64(classifierW[k*3+c])
			}
			h[c] = math.Exp(math.Max(v, 0))
			sum += h[c]
		}
		best := 0
		for c := range 3 {
			probs = append(probs, float32(h[c]/sum))
			if h[c] > h[best] {
				best = c
			}
		}
		labels = append(labels, int64(best))
	}
	if labels[0] == labels[1] && labels[1] == labels[2] {
		t.Fatalf("fixture labels %v are all equal; pick inputs that tell classes apart", labels)
	}

	outs := runModel(t, classifier(),
		[]ort.InputOutputInfo{info("x", ort.TensorElementDataTypeFloat, -1, 4)},
		[]ort.InputOutputInfo{info("probs", ort.TensorElementDataTypeFloat, -1, 3),
			info("label", ort.TensorElementDataTypeInt64, -1)},
		newTensor(t, x, batch, 4))
	near(t, "probs", output[float32](t, outs[0], batch, 3), probs)
	if got := output[int64](t, outs[1], batch); !reflect.DeepEqual(got, labels) {
		t.Fatalf("labels %v, want %v", got, labels)
	}
}

func TestTwoInputConcatRunsInORT(t *testing.T) {
	needORT(t)
	m := New("concat")
	a := m.Input("a", Float32, -1, 2)
	b := m.Input("b", Float32, "batch", 3)
	scale := []float32{1, -1, 0.5, 2, 0}
	joined := m.NodeAttrs("Concat", []string{a, b}, Attrs{"axis": 1})
	m.Output(m.Node("Sigmoid", m.Node("Mul", joined, m.Constant("scale", Float32, []int64{5}, scale))),
		"y", Float32, -1, 5)

	av := []float32{1, 2, -3, 4}
	bv := []float32{0.5, 1, 1.5, -2, -2.5, 3}
	var want []float32
	for r := range 2 {
		row := append(append([]float32{}, av[r*2:r*2+2]...), bv[r*3:r*3+3]...)
		for c, v := range row {
			want = append(want, float32(1/(1+math.Exp(-float64(v*scale[c])))))
		}
	}
	outs := runModel(t, m,
		[]ort.InputOutputInfo{info("a", ort.TensorElementDataTypeFloat, -1, 2),
			info("b", ort.TensorElementDataTypeFloat, -1, 3)},
		[]ort.InputOutputInfo{info("y", ort.TensorElementDataTypeFloat, -1, 5)},
		newTensor(t, av, 2, 2), newTensor(t, bv, 2, 3))
	near(t, "y", output[float32](t, outs[0], 2, 5), want)
}

// A text-length model: zero-padded UTF-8 bytes in, the count of non-zero bytes per row out. It also returns
// a uint8 constant to prove uint8 initializers load.
func TestTextLengthRunsInORT(t *testing.T) {
	needORT(t)
	m := New("text-length")
	text := m.Input("text", Uint8, "batch", "bytes")
	nonzero := m.NodeAttrs("Cast", []string{text}, Attrs{"to": int64(Bool)})
	ones := m.NodeAttrs("Cast", []string{nonzero}, Attrs{"to": Int64})
	axes := m.Constant("axes", Int64, []int64{1}, []int64{1})
	m.Output(m.NodeAttrs("ReduceSum", []string{ones, axes}, Attrs{"keepdims": 0}), "length", Int64, "batch")
	magic := []uint8{0, 7, 255}
	m.Output(m.Constant("magic", Uint8, []int64{3}, magic), "magic", Uint8, 3)

	rows := []string{"hello", "hi", "", "héllo"}
	width := 0
	for _, r := range rows {
		width = max(width, len(r))
	}
	var padded []uint8
	var want []int64
	for _, r := range rows {
		padded = append(padded, r...)
		padded = append(padded, make([]uint8, width-len(r))...)
		want = append(want, int64(len(r)))
	}
	outs := runModel(t, m,
		[]ort.InputOutputInfo{info("text", ort.TensorElementDataTypeUint8, -1, -1)},
		[]ort.InputOutputInfo{info("length", ort.TensorElementDataTypeInt64, -1),
			info("magic", ort.TensorElementDataTypeUint8, 3)},
		newTensor(t, padded, int64(len(rows)), int64(width)))
	if got := output[int64](t, outs[0], int64(len(rows))); !reflect.DeepEqual(got, want) {
		t.Fatalf("lengths %v, want %v", got, want)
	}
	if got := output[uint8](t, outs[1], 3); !reflect.DeepEqual(got, magic) {
		t.Fatalf("magic %v, want %v", got, magic)
	}
}

// An embedding lookup: int32 ids shifted by an int32 constant, Gather rows of a table, Reshape, Flatten,
// and ReduceMean (axes as an attribute in opset 17) to one number per id.
func TestEmbeddingRunsInORT(t *testing.T) {
	needORT(t)
	table := []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	m := New("embedding")
	ids := m.Input("ids", Int32, -1)
	shifted := m.Node("Add", ids, m.Constant("", Int32, nil, []int32{1}))
	rows := m.NodeAttrs("Gather", []string{m.Constant("table", Float32, []int64{5, 2}, table), shifted},
		Attrs{"axis": 0})
	cube := m.Node("Reshape", rows, m.Constant("", Int64, []int64{3}, []int64{-1, 1, 2}))
	flat := m.NodeAttrs("Flatten", []string{cube}, Attrs{"axis": 1})
	m.Output(flat, "rows", Float32, -1, 2)
	m.Output(m.NodeAttrs("ReduceMean", []string{flat}, Attrs{"axes": []int{1}, "keepdims": 0}), "mean", Float32, -1)

	in := []int32{3, 0, 2}
	var wantRows, wantMean []float32
	for _, id := range in {
		r := table[2*(id+1) : 2*(id+1)+2]
		wantRows = append(wantRows, r...)
		wantMean = append(wantMean, (r[0]+r[1])/2)
	}
	outs := runModel(t, m,
		[]ort.InputOutputInfo{info("ids", ort.TensorElementDataTypeInt32, -1)},
		[]ort.InputOutputInfo{info("rows", ort.TensorElementDataTypeFloat, -1, 2),
			info("mean", ort.TensorElementDataTypeFloat, -1)},
		newTensor(t, in, 3))
	near(t, "rows", output[float32](t, outs[0], 3, 2), wantRows)
	near(t, "mean", output[float32](t, outs[1], 3), wantMean)
}

func TestMultiOutputNodeRunsInORT(t *testing.T) {
	needORT(t)
	m := New("split")
	x := m.Input("x", Float32, 4)
	m.NodeOutputs("Split", []string{x, ""}, []string{"lo", "hi"}, nil)
	m.Output("lo", "lo", Float32, 2)
	m.Output(m.Node("Relu", "hi"), "hi_relu", Float32, 2)
	outs := runModel(t, m,
		[]ort.InputOutputInfo{info("x", ort.TensorElementDataTypeFloat, 4)},
		[]ort.InputOutputInfo{info("lo", ort.TensorElementDataTypeFloat, 2),
			info("hi_relu", ort.TensorElementDataTypeFloat, 2)},
		newTensor(t, []float32{-1, 2, -3, 4}, 4))
	near(t, "lo", output[float32](t, outs[0], 2), []float32{-1, 2})
	near(t, "hi_relu", output[float32](t, outs[1], 2), []float32{0, 4})
}
