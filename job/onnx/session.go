package onnx

import (
	"fmt"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// Session is one ONNX Runtime session with fixed input and output names: the one wrapper every model
// execution in JellyBean goes through (runner steps, profiler, GPU check).
type Session struct {
	Path string
	sess *ort.DynamicAdvancedSession
}

// Open creates a session of the model file on device ("cpu" or "cuda:N") with the given intra-op
// threads (0 = ONNX Runtime's default), feeding inputs and reading outputs by name. It initialises ONNX
// Runtime if needed.
func Open(path string, inputs, outputs []string, device string, threads int) (*Session, error) {
	if _, err := Init(); err != nil {
		return nil, err
	}
	opts, err := NewSessionOptions(device, threads)
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	// One stage runs one model per rank: parallelism comes from ranks and intra-op threads, not inter-op.
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, err
	}
	sess, err := ort.NewDynamicAdvancedSession(path, inputs, outputs, opts)
	if err != nil {
		return nil, fmt.Errorf("loading model %s: %w", path, err)
	}
	return &Session{Path: path, sess: sess}, nil
}

// Run executes the model. Outputs are allocated by ONNX Runtime and must be destroyed by the caller
// (DestroyAll); on error none are returned.
func (s *Session) Run(inputs []ort.Value, nOutputs int) ([]ort.Value, time.Duration, error) {
	outputs := make([]ort.Value, nOutputs)
	start := time.Now()
	err := s.sess.Run(inputs, outputs)
	d := time.Since(start)
	if err != nil {
		DestroyAll(outputs)
		return nil, d, fmt.Errorf("running %s: %w", s.Path, err)
	}
	return outputs, d, nil
}

// Close releases the session.
func (s *Session) Close() error {
	if s == nil || s.sess == nil {
		return nil
	}
	err := s.sess.Destroy()
	s.sess = nil
	return err
}

// DestroyAll releases values (nil entries are skipped).
func DestroyAll(vs []ort.Value) {
	for _, v := range vs {
		if v != nil {
			v.Destroy()
		}
	}
}

// IOInfo describes a model file's inputs and outputs (names, element types, dimensions) without
// creating a session.
func IOInfo(path string) (inputs, outputs []ort.InputOutputInfo, err error) {
	if _, err := Init(); err != nil {
		return nil, nil, err
	}
	inputs, outputs, err = ort.GetInputOutputInfo(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading model %s: %w", path, err)
	}
	return inputs, outputs, nil
}
