package onnx

import (
	"errors"
	"fmt"
	"os"

	"google.golang.org/protobuf/encoding/protowire"
)

// Tensor element types of the ONNX format (TensorProto.DataType) that JellyBean moves between ranks.
const (
	ElemFloat32 = 1
	ElemUint8   = 2
	ElemInt32   = 6
	ElemInt64   = 7
	ElemFloat16 = 10
)

// IO is one input or output of a model graph: its name, element type (ONNX's TensorProto.DataType; 0 for
// a non-tensor) and dimensions (-1 where the graph leaves a dimension free).
type IO struct {
	Name string
	Elem int32
	Dims []int64
}

// ElemName names an ONNX element type for messages.
func ElemName(e int32) string {
	names := map[int32]string{ElemFloat32: "float32", ElemUint8: "uint8", 3: "int8", 4: "uint16", 5: "int16",
		ElemInt32: "int32", ElemInt64: "int64", 8: "string", 9: "bool", ElemFloat16: "float16", 11: "float64"}
	if n, ok := names[e]; ok {
		return n
	}
	return fmt.Sprintf("element type %d", e)
}

// ReadIO reads a model file's graph inputs (initializers excluded: they are weights, not inputs) and
// outputs straight from the ONNX protobuf, without ONNX Runtime: start-up checks of every rank and of
// the launcher read the metadata of every model of a workflow, and creating a session for that costs
// 50-150 ms a model.
func ReadIO(path string) (inputs, outputs []IO, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading model %s: %w", path, err)
	}
	inputs, outputs, err = parseModel(data)
	if err != nil {
		return nil, nil, fmt.Errorf("reading model %s: not an ONNX model: %w", path, err)
	}
	return inputs, outputs, nil
}

var errTruncated = errors.New("truncated or malformed protobuf")

// fields calls f for each field of a protobuf message; f gets the raw bytes of length-delimited
// fields and the value of varints.
func fields(b []byte, f func(num protowire.Number, typ protowire.Type, bytes []byte, v uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errTruncated
		}
		b = b[n:]
		var raw []byte
		var v uint64
		switch typ {
		case protowire.BytesType:
			raw, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return errTruncated
		}
		b = b[n:]
		if err := f(num, typ, raw, v); err != nil {
			return err
		}
	}
	return nil
}

func parseModel(b []byte) (inputs, outputs []IO, err error) {
	var graph []byte
	err = fields(b, func(num protowire.Number, typ protowire.Type, raw []byte, _ uint64) error {
		if num == 7 && typ == protowire.BytesType { // ModelProto.graph
			graph = raw
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if graph == nil {
		return nil, nil, errors.New("no graph")
	}
	weights := map[string]bool{}
	var ins []IO
	err = fields(graph, func(num protowire.Number, typ protowire.Type, raw []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 5: // GraphProto.initializer (TensorProto: name = 8)
			return fields(raw, func(n protowire.Number, t protowire.Type, r []byte, _ uint64) error {
				if n == 8 && t == protowire.BytesType {
					weights[string(r)] = true
				}
				return nil
			})
		case 11, 12: // input, output
			io, err := parseValueInfo(raw)
			if err != nil {
				return err
			}
			if num == 11 {
				ins = append(ins, io)
			} else {
				outputs = append(outputs, io)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for _, in := range ins {
		if !weights[in.Name] {
			inputs = append(inputs, in)
		}
	}
	return inputs, outputs, nil
}

// parseValueInfo reads ValueInfoProto{name = 1, type = 2 (TypeProto{tensor_type = 1 (elem_type = 1,
// shape = 2 (dim = 1 (dim_value = 1 | dim_param = 2)))})}.
func parseValueInfo(b []byte) (IO, error) {
	var io IO
	err := fields(b, func(num protowire.Number, typ protowire.Type, raw []byte, _ uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			io.Name = string(raw)
		case num == 2 && typ == protowire.BytesType:
			return fields(raw, func(n protowire.Number, t protowire.Type, tensor []byte, _ uint64) error {
				if n != 1 || t != protowire.BytesType {
					return nil
				}
				return fields(tensor, func(n protowire.Number, t protowire.Type, shape []byte, v uint64) error {
					switch {
					case n == 1 && t == protowire.VarintType:
						io.Elem = int32(v)
					case n == 2 && t == protowire.BytesType:
						io.Dims = []int64{}
						return fields(shape, func(n protowire.Number, t protowire.Type, dim []byte, _ uint64) error {
							if n != 1 || t != protowire.BytesType {
								return nil
							}
							d := int64(-1)
							err := fields(dim, func(n protowire.Number, t protowire.Type, _ []byte, v uint64) error {
								if n == 1 && t == protowire.VarintType {
									d = int64(v)
								}
								return nil
							})
							io.Dims = append(io.Dims, d)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
	return io, err
}
