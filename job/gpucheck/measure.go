package gpucheck

import (
	"fmt"
	"path/filepath"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"jellybean/job/onnx"
	"jellybean/workloads/vqa"
)

// Timing is one model at one batch size on one device: median latency and the first output's values.
type Timing struct {
	MedianMS float64
	Output   []float32
}

// model is one ONNX Runtime session of a shipped model on one device.
type model struct {
	info    vqa.ModelInfo
	session *ort.DynamicAdvancedSession
}

// openModel creates a session for info on device ("cpu" or "cuda:N"). After a CUDA session exists, Go's
// signal handlers are re-installed (the provider's libraries replace them).
func openModel(dir string, info vqa.ModelInfo, device string, threads int) (*model, error) {
	opts, err := onnx.NewSessionOptions(device, threads)
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	path := info.File
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	s, err := ort.NewDynamicAdvancedSession(path, info.Inputs, info.Outputs, opts)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", path, device, err)
	}
	if device != "cpu" {
		onnx.RestoreSignals()
	}
	return &model{info: info, session: s}, nil
}

func (m *model) close() { m.session.Destroy() }

// time runs the model warmup+runs times on the same inputs and returns the median of the timed runs and
// the first output of the last run.
func (m *model) time(inputs []Input, warmup, runs int) (Timing, error) {
	vals := make([]ort.Value, len(inputs))
	defer func() {
		for _, v := range vals {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	for i, in := range inputs {
		var err error
		if in.F32 != nil {
			vals[i], err = ort.NewTensor(ort.NewShape(in.Shape...), in.F32)
		} else {
			vals[i], err = ort.NewTensor(ort.NewShape(in.Shape...), in.I64)
		}
		if err != nil {
			return Timing{}, fmt.Errorf("input %s: %w", in.Name, err)
		}
	}
	var ms []float64
	var out []float32
	for r := 0; r < warmup+runs; r++ {
		outs := make([]ort.Value, len(m.info.Outputs))
		start := time.Now()
		err := m.session.Run(vals, outs)
		elapsed := time.Since(start)
		if err == nil {
			if t, ok := outs[0].(*ort.Tensor[float32]); ok {
				out = append(out[:0], t.GetData()...)
			} else {
				err = fmt.Errorf("output %s is not float32", m.info.Outputs[0])
			}
		}
		for _, o := range outs {
			if o != nil {
				o.Destroy()
			}
		}
		if err != nil {
			return Timing{}, fmt.Errorf("%s %s: %w", m.info.Kind, m.info.Variant, err)
		}
		if r >= warmup {
			ms = append(ms, float64(elapsed.Microseconds())/1000)
		}
	}
	return Timing{MedianMS: Median(ms), Output: out}, nil
}
