package onnxbuild

import (
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// field is one decoded protobuf field: v holds a varint or fixed32 value, b a length-delimited payload.
type field struct {
	num protowire.Number
	v   uint64
	b   []byte
}

// decode splits one message into its fields, failing the test on malformed bytes.
func decode(t *testing.T, b []byte) []field {
	t.Helper()
	var out []field
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		f := field{num: num}
		switch typ {
		case protowire.VarintType:
			f.v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			f.v = uint64(v)
		case protowire.BytesType:
			f.b, n = protowire.ConsumeBytes(b)
		default:
			t.Fatalf("field %d: unexpected wire type %d", num, typ)
		}
		if n < 0 {
			t.Fatalf("field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
		out = append(out, f)
	}
	return out
}

func all(fs []field, num protowire.Number) []field {
	var out []field
	for _, f := range fs {
		if f.num == num {
			out = append(out, f)
		}
	}
	return out
}

func one(t *testing.T, fs []field, num protowire.Number) field {
	t.Helper()
	got := all(fs, num)
	if len(got) != 1 {
		t.Fatalf("field %d occurs %d times, want once", num, len(got))
	}
	return got[0]
}

func strs(fs []field, num protowire.Number) []string {
	var out []string
	for _, f := range all(fs, num) {
		out = append(out, string(f.b))
	}
	return out
}

// classifier builds x[-1,4] → MatMul w → Add b → Relu → Softmax → probs, and ArgMax → label.
func classifier() *Model {
	m := New("tiny-classifier")
	x := m.Input("x", Float32, -1, 4)
	w := m.Constant("w", Float32, []int64{4, 3}, classifierW)
	b := m.Constant("b", Float32, []int64{3}, classifierB)
	h := m.Node("Relu", m.Node("Add", m.Node("MatMul", x, w), b))
	p := m.NodeAttrs("Softmax", []string{h}, Attrs{"axis": 1})
	m.Output(p, "probs", Float32, "batch", 3)
	m.Output(m.NodeAttrs("ArgMax", []string{p}, Attrs{"axis": int64(1), "keepdims": 0}), "label", Int64, -1)
	return m
}

var (
	classifierW = []float32{0.5, -1, 2, 1, 0.25, -0.5, -2, 1.5, 0.75, 0.1, 0.2, 0.3}
	classifierB = []float32{0.1, -0.2, 0.05}
)

func TestEncodedModelDecodesToDeclaredStructure(t *testing.T) {
	data, err := classifier().Bytes()
	if err != nil {
		t.Fatal(err)
	}
	model := decode(t, data)
	if v := one(t, model, modelIRVersion).v; v != IRVersion {
		t.Errorf("ir_version %d, want %d", v, IRVersion)
	}
	opset := decode(t, one(t, model, modelOpsetImport).b)
	if d, v := string(one(t, opset, opsetDomain).b), one(t, opset, opsetVersion).v; d != "" || v != Opset {
		t.Errorf("opset import (%q, %d), want (\"\", %d)", d, v, Opset)
	}
	graph := decode(t, one(t, model, modelGraph).b)
	if name := string(one(t, graph, graphName).b); name != "tiny-classifier" {
		t.Errorf("graph name %q", name)
	}

	var ops []string
	var argmax []field
	for _, n := range all(graph, graphNode) {
		nf := decode(t, n.b)
		op := string(one(t, nf, nodeOpType).b)
		ops = append(ops, op)
		if op == "ArgMax" {
			argmax = nf
		}
	}
	wantOps := []string{"MatMul", "Add", "Relu", "Softmax", "Identity", "ArgMax", "Identity"}
	if !reflect.DeepEqual(ops, wantOps) {
		t.Errorf("node ops %v, want %v", ops, wantOps)
	}
	// Attributes come in name order, each with its INT type tag.
	attrs := all(argmax, nodeAttribute)
	if len(attrs) != 2 {
		t.Fatalf("ArgMax has %d attributes, want 2", len(attrs))
	}
	for i, want := range []struct {
		name string
		v    uint64
	}{{"axis", 1}, {"keepdims", 0}} {
		af := decode(t, attrs[i].b)
		if n, v, typ := string(one(t, af, attrName).b), one(t, af, attrI).v, one(t, af, attrType).v; n != want.name ||
			v != want.v || typ != attrTypeInt {
			t.Errorf("ArgMax attribute %d = (%q, %d, type %d), want (%q, %d, type %d)", i, n, v, typ, want.name,
				want.v, attrTypeInt)
		}
	}

	inits := all(graph, graphInitializer)
	if len(inits) != 2 {
		t.Fatalf("%d initializers, want 2", len(inits))
	}
	w := decode(t, inits[0].b)
	var dims []uint64
	for _, d := range all(w, tensorDims) {
		dims = append(dims, d.v)
	}
	if !reflect.DeepEqual(dims, []uint64{4, 3}) || one(t, w, tensorDataType).v != uint64(Float32) ||
		string(one(t, w, tensorName).b) != "w" {
		t.Errorf("initializer w decodes to dims %v type %d name %q", dims, one(t, w, tensorDataType).v,
			one(t, w, tensorName).b)
	}
	raw := one(t, w, tensorRawData).b
	for i, want := range classifierW {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])); got != want {
			t.Errorf("w[%d] = %v, want %v", i, got, want)
		}
	}

	checkValueInfo(t, one(t, graph, graphInput).b, "x", Float32, []any{nil, uint64(4)})
	outs := all(graph, graphOutput)
	if len(outs) != 2 {
		t.Fatalf("%d outputs, want 2", len(outs))
	}
	checkValueInfo(t, outs[0].b, "probs", Float32, []any{"batch", uint64(3)})
	checkValueInfo(t, outs[1].b, "label", Int64, []any{nil})
}

// checkValueInfo decodes a ValueInfoProto; in want, nil is an unknown dim, a string a dim_param.
func checkValueInfo(t *testing.T, b []byte, name string, elem ElemType, want []any) {
	t.Helper()
	vi := decode(t, b)
	if got := string(one(t, vi, valueName).b); got != name {
		t.Errorf("value info name %q, want %q", got, name)
	}
	tt := decode(t, one(t, decode(t, one(t, vi, valueType).b), typeTensor).b)
	if got := one(t, tt, tensorTypeElem).v; got != uint64(elem) {
		t.Errorf("%s: elem type %d, want %d", name, got, elem)
	}
	var dims []any
	for _, d := range all(decode(t, one(t, tt, tensorTypeShape).b), shapeDim) {
		df := decode(t, d.b)
		switch {
		case len(df) == 0:
			dims = append(dims, nil)
		case df[0].num == dimValue:
			dims = append(dims, df[0].v)
		case df[0].num == dimParam:
			dims = append(dims, string(df[0].b))
		}
	}
	if !reflect.DeepEqual(dims, want) {
		t.Errorf("%s: dims %v, want %v", name, dims, want)
	}
}

func TestBytesAreDeterministic(t *testing.T) {
	build := func() []byte {
		m := New("attrs")
		x := m.Input("x", Float32, 2)
		m.Output(m.NodeAttrs("Custom", []string{x}, Attrs{"z": "s", "a": []int{1, 2}, "m": []float32{0.5},
			"f": 1.5, "b": int64(3), "c": []int64{4}, "d": []float64{2.5}, "e": float32(1)}), "y", Float32, 2)
		data, err := m.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	first := build()
	for range 20 { // map iteration order varies between runs; the bytes must not
		if !bytes.Equal(build(), first) {
			t.Fatal("two builds of the same model encode differently")
		}
	}
	var names []string
	graph := decode(t, one(t, decode(t, first), modelGraph).b)
	node := decode(t, all(graph, graphNode)[0].b)
	for _, a := range all(node, nodeAttribute) {
		names = append(names, string(one(t, decode(t, a.b), attrName).b))
	}
	if want := []string{"a", "b", "c", "d", "e", "f", "m", "z"}; !reflect.DeepEqual(names, want) {
		t.Errorf("attribute order %v, want %v", names, want)
	}
}

func TestAttributeEncodings(t *testing.T) {
	m := New("attrs")
	x := m.Input("x", Float32, 2)
	m.Output(m.NodeAttrs("Custom", []string{x}, Attrs{"f": 0.25, "fs": []float32{1, -2}, "i": -3,
		"is": []int64{-1, 7}, "s": "hello"}), "y", Float32, 2)
	data, err := m.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	graph := decode(t, one(t, decode(t, data), modelGraph).b)
	got := map[string][]field{}
	for _, a := range all(decode(t, all(graph, graphNode)[0].b), nodeAttribute) {
		af := decode(t, a.b)
		got[string(one(t, af, attrName).b)] = af
	}
	f32 := func(v uint64) float32 { return math.Float32frombits(uint32(v)) }
	if a := got["f"]; f32(one(t, a, attrF).v) != 0.25 || one(t, a, attrType).v != attrTypeFloat {
		t.Errorf("float attribute decodes to %v", a)
	}
	if a := got["fs"]; len(all(a, attrFloats)) != 2 || f32(all(a, attrFloats)[1].v) != -2 ||
		one(t, a, attrType).v != attrTypeFloats {
		t.Errorf("floats attribute decodes to %v", a)
	}
	if a := got["i"]; int64(one(t, a, attrI).v) != -3 || one(t, a, attrType).v != attrTypeInt {
		t.Errorf("int attribute decodes to %v", a)
	}
	if a := got["is"]; len(all(a, attrInts)) != 2 || int64(all(a, attrInts)[0].v) != -1 ||
		all(a, attrInts)[1].v != 7 || one(t, a, attrType).v != attrTypeInts {
		t.Errorf("ints attribute decodes to %v", a)
	}
	if a := got["s"]; string(one(t, a, attrS).b) != "hello" || one(t, a, attrType).v != attrTypeString {
		t.Errorf("string attribute decodes to %v", a)
	}
}

func TestNodeOutputsAndOptionalInputs(t *testing.T) {
	m := New("split")
	x := m.Input("x", Float32, 4)
	m.NodeOutputs("Split", []string{x, ""}, []string{"lo", "hi"}, nil)
	m.Output("lo", "lo", Float32, 2)
	m.Output("hi", "hi", Float32, 2)
	data, err := m.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	graph := decode(t, one(t, decode(t, data), modelGraph).b)
	nodes := all(graph, graphNode)
	if len(nodes) != 1 { // outputs named like their values need no Identity
		t.Fatalf("%d nodes, want 1", len(nodes))
	}
	nf := decode(t, nodes[0].b)
	if in, out := strs(nf, nodeInput), strs(nf, nodeOutput); !reflect.DeepEqual(in, []string{"x", ""}) ||
		!reflect.DeepEqual(out, []string{"lo", "hi"}) {
		t.Errorf("Split node inputs %q outputs %q", in, out)
	}
}

func TestConstantElementTypesAndFreshNames(t *testing.T) {
	m := New("consts")
	a := m.Constant("", Int64, []int64{2}, []int64{-1, 1 << 40})
	b := m.Constant("", Int32, nil, []int32{-7})
	c := m.Constant("", Uint8, []int64{3}, []uint8{1, 2, 255})
	if a == b || b == c || a == "" {
		t.Fatalf("fresh constant names %q %q %q are not distinct", a, b, c)
	}
	m.Output(a, "out", Int64, 2)
	data, err := m.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	inits := all(decode(t, one(t, decode(t, data), modelGraph).b), graphInitializer)
	wantRaw := [][]byte{
		binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, math.MaxUint64), 1<<40),
		{0xf9, 0xff, 0xff, 0xff},
		{1, 2, 255},
	}
	for i, init := range inits {
		tf := decode(t, init.b)
		if raw := one(t, tf, tensorRawData).b; !bytes.Equal(raw, wantRaw[i]) {
			t.Errorf("initializer %d raw data %x, want %x", i, raw, wantRaw[i])
		}
	}
	if len(all(decode(t, inits[1].b), tensorDims)) != 0 {
		t.Error("scalar initializer has dims")
	}
}

func TestMistakesAreReportedByBytes(t *testing.T) {
	cases := []struct {
		name  string
		build func(m *Model)
		want  string
	}{
		{"undefined input", func(m *Model) { m.Output(m.Node("Relu", "nope"), "y", Float32) }, `input "nope" is not defined`},
		{"duplicate value", func(m *Model) { m.Input("x", Float32); m.Input("x", Float32) }, `"x" defined twice`},
		{"duplicate output", func(m *Model) {
			x := m.Input("x", Float32)
			m.Output(x, "x", Float32)
			m.Output(x, "x", Float32)
		}, `output "x" declared twice`},
		{"undefined output", func(m *Model) { m.Output("ghost", "y", Float32) }, `value "ghost" is not defined`},
		{"data size", func(m *Model) { m.Constant("c", Float32, []int64{2, 2}, []float32{1, 2, 3}) }, "hold 4 elements, data has 3"},
		{"data type", func(m *Model) { m.Constant("c", Int64, []int64{1}, []float32{1}) }, "declared int64 but data is float32"},
		{"unsupported data", func(m *Model) { m.Constant("c", Float32, []int64{1}, []float64{1}) }, "[]float64 is not"},
		{"negative const dim", func(m *Model) { m.Constant("c", Float32, []int64{-1}, []float32{}) }, "negative dim"},
		{"bad dim", func(m *Model) { m.Input("x", Float32, 2.5) }, `"x" dim 0: float64`},
		{"bad size", func(m *Model) { m.Input("x", Float32, 3, -2) }, `"x" dim 1: size -2`},
		{"empty dim name", func(m *Model) { m.Input("x", Float32, "") }, "empty dimension name"},
		{"bad elem", func(m *Model) { m.Input("x", ElemType(42)) }, "unsupported element type ElemType(42)"},
		{"bad attribute", func(m *Model) {
			m.Output(m.NodeAttrs("Relu", []string{m.Input("x", Float32)}, Attrs{"k": true}), "y", Float32)
		}, `attribute "k": unsupported type bool`},
		{"no outputs", func(m *Model) { m.Input("x", Float32) }, "has no outputs"},
	}
	for _, c := range cases {
		m := New("bad")
		c.build(m)
		_, err := m.Bytes()
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"bad"`) {
			t.Errorf("%s: error %v, want one naming the model and containing %q", c.name, err, c.want)
		}
		if err := m.Save(t.TempDir() + "/m.onnx"); err == nil {
			t.Errorf("%s: Save succeeded", c.name)
		}
	}
}
