// Package onnxbuild writes small ONNX model files (IR version 8, default-domain opset 17) from Go, so tests
// can generate real models without Python. It encodes the ModelProto wire format directly with protowire;
// it does no shape inference, so every graph input and output declares its element type and dimensions.
//
//	m := onnxbuild.New("tiny-classifier")
//	x := m.Input("x", onnxbuild.Float32, -1, 4)
//	w := m.Constant("w", onnxbuild.Float32, []int64{4, 3}, weights)
//	z := m.Node("MatMul", x, w)
//	label := m.NodeAttrs("ArgMax", []string{z}, onnxbuild.Attrs{"axis": 1, "keepdims": 0})
//	m.Output(label, "label", onnxbuild.Int64, -1)
//	err := m.Save("tiny.onnx")
//
// Mistakes (a value used before it exists, a name given twice, data that does not fill its shape, an
// attribute of an unsupported Go type) are remembered and returned by Bytes or Save, so a model reads as a
// straight list of calls.
package onnxbuild

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"sort"

	"google.golang.org/protobuf/encoding/protowire"
)

// IRVersion and Opset are the ONNX IR version and default-domain operator set version the models declare.
const (
	IRVersion = 8
	Opset     = 17
)

// ElemType is an ONNX tensor element type (TensorProto.DataType).
type ElemType int32

// The element types this package can declare and store. Bool is only a Cast target (no initializers).
const (
	Float32 ElemType = 1
	Uint8   ElemType = 2
	Int32   ElemType = 6
	Int64   ElemType = 7
	Bool    ElemType = 9
)

func (t ElemType) String() string {
	switch t {
	case Float32:
		return "float32"
	case Uint8:
		return "uint8"
	case Int32:
		return "int32"
	case Int64:
		return "int64"
	case Bool:
		return "bool"
	}
	return fmt.Sprintf("ElemType(%d)", int32(t))
}

// Attrs are a node's attributes. Values may be int, int64, ElemType (for Cast's "to"), float32, float64,
// string, []int, []int64, []float32 or []float64; ints are stored as INT(S), floats as FLOAT(S).
type Attrs map[string]any

// Model is a graph being built. The zero value is not usable; call New.
type Model struct {
	name    string
	defined map[string]bool // value names that exist so far: inputs, initializers, node outputs
	nodes   []node
	inputs  []valueInfo
	outputs []valueInfo
	inits   []tensor
	nextID  int
	err     error // the first mistake, returned by Bytes
}

type node struct {
	op      string
	name    string
	inputs  []string
	outputs []string
	attrs   Attrs
}

type valueInfo struct {
	name string
	elem ElemType
	dims []any // int64 (>= 0) is fixed, string is a named dynamic dimension, nil is unknown
}

type tensor struct {
	name string
	elem ElemType
	dims []int64
	raw  []byte // little-endian element data
}

// New starts an empty model whose graph is called name.
func New(name string) *Model {
	return &Model{name: name, defined: map[string]bool{}}
}

func (m *Model) fail(format string, args ...any) {
	if m.err == nil {
		m.err = fmt.Errorf("onnxbuild: model %q: "+format, append([]any{m.name}, args...)...)
	}
}

func (m *Model) define(name string) {
	if name == "" {
		m.fail("empty value name")
	} else if m.defined[name] {
		m.fail("value %q defined twice", name)
	}
	m.defined[name] = true
}

// fresh returns a new value name derived from prefix that no value uses yet.
func (m *Model) fresh(prefix string) string {
	for {
		m.nextID++
		name := fmt.Sprintf("%s_%d", prefix, m.nextID)
		if !m.defined[name] {
			return name
		}
	}
}

// Input declares a graph input and returns its name. Each dim is an int or int64 (a fixed size, or -1 for
// an unknown size such as the batch) or a string (a named dynamic dimension).
func (m *Model) Input(name string, elem ElemType, dims ...any) string {
	m.define(name)
	m.checkElem(name, elem)
	m.inputs = append(m.inputs, valueInfo{name: name, elem: elem, dims: m.checkDims(name, dims)})
	return name
}

// Output declares value as a graph output called name, with the given element type and dims (as for Input).
// When name differs from value an Identity node copies value to name.
func (m *Model) Output(value, name string, elem ElemType, dims ...any) {
	if !m.defined[value] {
		m.fail("output %q: value %q is not defined", name, value)
	}
	if name != value {
		m.addNode("Identity", []string{value}, []string{name}, nil)
	}
	for _, o := range m.outputs {
		if o.name == name {
			m.fail("output %q declared twice", name)
		}
	}
	m.checkElem(name, elem)
	m.outputs = append(m.outputs, valueInfo{name: name, elem: elem, dims: m.checkDims(name, dims)})
}

func (m *Model) checkElem(value string, elem ElemType) {
	switch elem {
	case Float32, Uint8, Int32, Int64, Bool:
	default:
		m.fail("%q: unsupported element type %v", value, elem)
	}
}

func (m *Model) checkDims(value string, dims []any) []any {
	out := make([]any, len(dims))
	for i, d := range dims {
		switch d := d.(type) {
		case int:
			out[i] = m.checkDim(value, i, int64(d))
		case int64:
			out[i] = m.checkDim(value, i, d)
		case string:
			if d == "" {
				m.fail("%q dim %d: empty dimension name", value, i)
			}
			out[i] = d
		default:
			m.fail("%q dim %d: %T is not an int, int64 or string", value, i, d)
		}
	}
	return out
}

func (m *Model) checkDim(value string, i int, d int64) any {
	if d == -1 {
		return nil
	}
	if d < 0 {
		m.fail("%q dim %d: size %d (use -1 for unknown)", value, i, d)
	}
	return d
}

// Constant adds an initializer and returns its name (a fresh one when name is ""). data is a []float32,
// []int64, []int32 or []uint8 matching elem, with as many elements as dims holds (dims empty = scalar).
func (m *Model) Constant(name string, elem ElemType, dims []int64, data any) string {
	if name == "" {
		name = m.fresh("const")
	}
	m.define(name)
	want := int64(1)
	for _, d := range dims {
		if d < 0 {
			m.fail("constant %q: negative dim %d", name, d)
			return name
		}
		want *= d
	}
	raw, n, dataElem := encodeData(data)
	if dataElem == 0 {
		m.fail("constant %q: data of type %T is not []float32, []int64, []int32 or []uint8", name, data)
	} else if dataElem != elem {
		m.fail("constant %q: declared %v but data is %v", name, elem, dataElem)
	} else if int64(n) != want {
		m.fail("constant %q: dims %v hold %d elements, data has %d", name, dims, want, n)
	}
	m.inits = append(m.inits, tensor{name: name, elem: elem, dims: append([]int64(nil), dims...), raw: raw})
	return name
}

func encodeData(data any) (raw []byte, n int, elem ElemType) {
	switch d := data.(type) {
	case []float32:
		for _, v := range d {
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
		}
		return raw, len(d), Float32
	case []int64:
		for _, v := range d {
			raw = binary.LittleEndian.AppendUint64(raw, uint64(v))
		}
		return raw, len(d), Int64
	case []int32:
		for _, v := range d {
			raw = binary.LittleEndian.AppendUint32(raw, uint32(v))
		}
		return raw, len(d), Int32
	case []uint8:
		return append([]byte(nil), d...), len(d), Uint8
	}
	return nil, 0, 0
}

// Node adds an operator with one output and no attributes and returns the output's (fresh) name.
func (m *Model) Node(op string, inputs ...string) string {
	return m.NodeAttrs(op, inputs, nil)
}

// NodeAttrs adds an operator with one output and the given attributes and returns the output's name. An
// input "" stands for an omitted optional input.
func (m *Model) NodeAttrs(op string, inputs []string, attrs Attrs) string {
	out := m.fresh(op)
	m.addNode(op, inputs, []string{out}, attrs)
	return out
}

// NodeOutputs adds an operator with the given outputs (names that must be new) and attributes.
func (m *Model) NodeOutputs(op string, inputs, outputs []string, attrs Attrs) {
	m.addNode(op, inputs, outputs, attrs)
}

func (m *Model) addNode(op string, inputs, outputs []string, attrs Attrs) {
	for _, in := range inputs {
		if in != "" && !m.defined[in] {
			m.fail("%s node: input %q is not defined", op, in)
		}
	}
	for _, out := range outputs {
		m.define(out)
	}
	m.nodes = append(m.nodes, node{op: op, name: fmt.Sprintf("%s_node_%d", op, len(m.nodes)),
		inputs: append([]string(nil), inputs...), outputs: append([]string(nil), outputs...), attrs: attrs})
}

// Save writes the encoded model to path.
func (m *Model) Save(path string) error {
	data, err := m.Bytes()
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("onnxbuild: saving model %q: %w", m.name, err)
	}
	return nil
}

// Field numbers of onnx.proto used below.
const (
	modelIRVersion, modelProducerName, modelGraph, modelOpsetImport = 1, 2, 7, 8
	opsetDomain, opsetVersion                                       = 1, 2
	graphNode, graphName, graphInitializer, graphInput, graphOutput = 1, 2, 5, 11, 12
	nodeInput, nodeOutput, nodeName, nodeOpType, nodeAttribute      = 1, 2, 3, 4, 5
	attrName, attrF, attrI, attrS, attrFloats, attrInts, attrType   = 1, 2, 3, 4, 7, 8, 20
	valueName, valueType                                            = 1, 2
	typeTensor, tensorTypeElem, tensorTypeShape                     = 1, 1, 2
	shapeDim, dimValue, dimParam                                    = 1, 1, 2
	tensorDims, tensorDataType, tensorName, tensorRawData           = 1, 2, 8, 9
)

// AttributeProto.AttributeType values.
const (
	attrTypeFloat, attrTypeInt, attrTypeString, attrTypeFloats, attrTypeInts = 1, 2, 3, 6, 7
)

// Bytes encodes the model as an ONNX ModelProto, or returns the first mistake made while building it. The
// encoding is deterministic: attributes are written in name order.
func (m *Model) Bytes() ([]byte, error) {
	if m.err != nil {
		return nil, m.err
	}
	if len(m.outputs) == 0 {
		return nil, fmt.Errorf("onnxbuild: model %q has no outputs", m.name)
	}
	var g []byte
	for _, n := range m.nodes {
		nb, err := encodeNode(n)
		if err != nil {
			return nil, fmt.Errorf("onnxbuild: model %q: %w", m.name, err)
		}
		g = appendMessage(g, graphNode, nb)
	}
	g = appendString(g, graphName, m.name)
	for _, t := range m.inits {
		g = appendMessage(g, graphInitializer, encodeTensor(t))
	}
	for _, v := range m.inputs {
		g = appendMessage(g, graphInput, encodeValueInfo(v))
	}
	for _, v := range m.outputs {
		g = appendMessage(g, graphOutput, encodeValueInfo(v))
	}

	var b []byte
	b = appendVarint(b, modelIRVersion, IRVersion)
	b = appendString(b, modelProducerName, "jellybean-onnxbuild")
	b = appendMessage(b, modelGraph, g)
	var opset []byte
	opset = appendString(opset, opsetDomain, "")
	opset = appendVarint(opset, opsetVersion, Opset)
	b = appendMessage(b, modelOpsetImport, opset)
	return b, nil
}

func encodeNode(n node) ([]byte, error) {
	var b []byte
	for _, in := range n.inputs {
		b = appendString(b, nodeInput, in)
	}
	for _, out := range n.outputs {
		b = appendString(b, nodeOutput, out)
	}
	b = appendString(b, nodeName, n.name)
	b = appendString(b, nodeOpType, n.op)
	names := make([]string, 0, len(n.attrs))
	for k := range n.attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		ab, err := encodeAttr(k, n.attrs[k])
		if err != nil {
			return nil, fmt.Errorf("%s node %q: %w", n.op, n.name, err)
		}
		b = appendMessage(b, nodeAttribute, ab)
	}
	return b, nil
}

func encodeAttr(name string, v any) ([]byte, error) {
	b := appendString(nil, attrName, name)
	switch v := v.(type) {
	case int:
		return appendInt(b, int64(v)), nil
	case int64:
		return appendInt(b, v), nil
	case ElemType: // Cast's "to"
		return appendInt(b, int64(v)), nil
	case float32:
		return appendFloat(b, v), nil
	case float64:
		return appendFloat(b, float32(v)), nil
	case string:
		b = appendString(b, attrS, v)
		return appendVarint(b, attrType, attrTypeString), nil
	case []int:
		for _, x := range v {
			b = appendVarint(b, attrInts, uint64(x))
		}
		return appendVarint(b, attrType, attrTypeInts), nil
	case []int64:
		for _, x := range v {
			b = appendVarint(b, attrInts, uint64(x))
		}
		return appendVarint(b, attrType, attrTypeInts), nil
	case []float32:
		for _, x := range v {
			b = appendFixed32(b, attrFloats, math.Float32bits(x))
		}
		return appendVarint(b, attrType, attrTypeFloats), nil
	case []float64:
		for _, x := range v {
			b = appendFixed32(b, attrFloats, math.Float32bits(float32(x)))
		}
		return appendVarint(b, attrType, attrTypeFloats), nil
	}
	return nil, fmt.Errorf("attribute %q: unsupported type %T", name, v)
}

func appendInt(b []byte, v int64) []byte {
	b = appendVarint(b, attrI, uint64(v))
	return appendVarint(b, attrType, attrTypeInt)
}

func appendFloat(b []byte, v float32) []byte {
	b = appendFixed32(b, attrF, math.Float32bits(v))
	return appendVarint(b, attrType, attrTypeFloat)
}

func encodeTensor(t tensor) []byte {
	var b []byte
	for _, d := range t.dims {
		b = appendVarint(b, tensorDims, uint64(d))
	}
	b = appendVarint(b, tensorDataType, uint64(t.elem))
	b = appendString(b, tensorName, t.name)
	b = protowire.AppendTag(b, tensorRawData, protowire.BytesType)
	return protowire.AppendBytes(b, t.raw)
}

func encodeValueInfo(v valueInfo) []byte {
	var shape []byte
	for _, d := range v.dims {
		var dim []byte // an empty Dimension means "unknown size"
		switch d := d.(type) {
		case int64:
			dim = appendVarint(dim, dimValue, uint64(d))
		case string:
			dim = appendString(dim, dimParam, d)
		}
		shape = appendMessage(shape, shapeDim, dim)
	}
	tt := appendVarint(nil, tensorTypeElem, uint64(v.elem))
	tt = appendMessage(tt, tensorTypeShape, shape)
	b := appendString(nil, valueName, v.name)
	return appendMessage(b, valueType, appendMessage(nil, typeTensor, tt))
}

func appendVarint(b []byte, field protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, field, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendFixed32(b []byte, field protowire.Number, v uint32) []byte {
	b = protowire.AppendTag(b, field, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, v)
}

func appendString(b []byte, field protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMessage(b []byte, field protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}
