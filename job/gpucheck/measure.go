package gpucheck

import (
	"fmt"

	ort "github.com/yalue/onnxruntime_go"

	"jellybean/job/onnx"
)

// Model is one ONNX model to time: a workflow node's variant, or an extra model file.
type Model struct {
	Node, Variant string
	File          string
	Inputs        []string // input names, in the order the inputs are fed
	Outputs       []string
}

// Timing is one model at one batch size on one device: median latency and the first float32 output's
// values.
type Timing struct {
	MedianMS float64
	Output   []float32
}

// timeOn opens the model on device ("cpu" or "cuda:N") through job/onnx.Session and times it on the
// inputs. After a CUDA session exists, Go's signal handlers are re-installed (the provider's libraries
// replace them).
func timeOn(m Model, device string, threads int, inputs []Input, runs int) (Timing, error) {
	s, err := onnx.Open(m.File, m.Inputs, m.Outputs, device, threads)
	if err != nil {
		return Timing{}, fmt.Errorf("%s on %s: %w", m.File, device, err)
	}
	if device != "cpu" {
		onnx.RestoreSignals()
	}
	defer s.Close()
	return timeSession(s, m, inputs, 2, runs)
}

// timeSession runs the model warmup+runs times on the same inputs and returns the median of the timed
// runs and the first float32 output of the last run.
func timeSession(s *onnx.Session, m Model, inputs []Input, warmup, runs int) (Timing, error) {
	vals := make([]ort.Value, len(inputs))
	defer onnx.DestroyAll(vals)
	for i, in := range inputs {
		var err error
		shape := ort.NewShape(in.Shape...)
		switch {
		case in.F32 != nil:
			vals[i], err = ort.NewTensor(shape, in.F32)
		case in.I64 != nil:
			vals[i], err = ort.NewTensor(shape, in.I64)
		case in.I32 != nil:
			vals[i], err = ort.NewTensor(shape, in.I32)
		default:
			vals[i], err = ort.NewTensor(shape, in.U8)
		}
		if err != nil {
			return Timing{}, fmt.Errorf("input %s: %w", in.Name, err)
		}
	}
	var ms []float64
	var out []float32
	for r := 0; r < warmup+runs; r++ {
		outs, elapsed, err := s.Run(vals, len(m.Outputs))
		if err == nil {
			found := false
			for _, o := range outs {
				if t, ok := o.(*ort.Tensor[float32]); ok {
					out, found = append(out[:0], t.GetData()...), true
					break
				}
			}
			if !found {
				err = fmt.Errorf("no float32 output among %v to compare", m.Outputs)
			}
		}
		onnx.DestroyAll(outs)
		if err != nil {
			return Timing{}, fmt.Errorf("%s %s: %w", m.Node, m.Variant, err)
		}
		if r >= warmup {
			ms = append(ms, float64(elapsed.Microseconds())/1000)
		}
	}
	return Timing{MedianMS: Median(ms), Output: out}, nil
}
