package onnx

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	ort "github.com/yalue/onnxruntime_go"

	"jellybean/job/gpu"
)

// NewSessionOptions returns session options for one placement: device "cpu" runs on the CPU with the given
// intra-op thread count (0 leaves ONNX Runtime's default); "cuda:N" appends the CUDA execution provider on
// GPU N (as numbered inside CUDA_VISIBLE_DEVICES). The caller destroys the options after creating sessions.
//
// With the CUDA provider, call RestoreSignals once the sessions exist: the provider's libraries replace Go's
// signal handlers, which would otherwise break clean Ctrl-C/SIGTERM aborts.
func NewSessionOptions(device string, intraOpThreads int) (*ort.SessionOptions, error) {
	cuda, ordinal, err := gpu.ParseDevice(device)
	if err != nil {
		return nil, err
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("creating ONNX Runtime session options: %w", err)
	}
	if intraOpThreads > 0 {
		if err := opts.SetIntraOpNumThreads(intraOpThreads); err != nil {
			opts.Destroy()
			return nil, fmt.Errorf("setting %d intra-op threads: %w", intraOpThreads, err)
		}
	}
	if !cuda {
		return opts, nil
	}
	cudaOpts, err := ort.NewCUDAProviderOptions()
	if err != nil {
		opts.Destroy()
		return nil, fmt.Errorf("%s: this ONNX Runtime build cannot use CUDA (is libonnxruntime_providers_cuda.so beside the core library?): %w", device, err)
	}
	defer cudaOpts.Destroy()
	settings, err := CUDASettings(ordinal, os.Getenv)
	if err != nil {
		opts.Destroy()
		return nil, fmt.Errorf("%s: %w", device, err)
	}
	if err := cudaOpts.Update(settings); err != nil {
		opts.Destroy()
		return nil, fmt.Errorf("%s: CUDA provider options: %w", device, err)
	}
	if err := opts.AppendExecutionProviderCUDA(cudaOpts); err != nil {
		opts.Destroy()
		return nil, fmt.Errorf("%s: enabling the CUDA execution provider (CUDA 13 and cuDNN 9 libraries must be on LD_LIBRARY_PATH): %w", device, err)
	}
	return opts, nil
}

// The CUDA provider's settings that JellyBean chooses, and the variables that override them.
const (
	// EnvConvAlgoSearch picks how cuDNN chooses a convolution algorithm: HEURISTIC (our default), EXHAUSTIVE
	// (ONNX Runtime's default) or DEFAULT.
	EnvConvAlgoSearch = "JELLYBEAN_CUDNN_CONV_ALGO_SEARCH"
	// EnvTF32 set to 1 lets the GPU compute float32 matrix products and convolutions in TF32.
	EnvTF32 = "JELLYBEAN_CUDA_TF32"
)

// CUDASettings are the CUDA provider options for GPU ordinal, with the overrides read through getenv.
//
// Why they differ from ONNX Runtime's defaults, as measured on an H200:
//   - cuDNN's EXHAUSTIVE search benchmarks every algorithm again for every new input shape. Our inputs change
//     shape from item to item (audio lengths, text-line widths, batches padded to their longest item), so a
//     job kept searching: an audio model (CTC) took 87 ms an item at batch 1 instead of about 1 ms, and the OCR
//     profile did not finish in 150 s. HEURISTIC asks cuDNN's heuristics instead; a new shape still costs
//     85-620 ms (`jellybean bench shapes`), which is why GPU sessions also keep the batch dimension fixed
//     (flow's modelStep). DEFAULT costs less per new shape but ran those models 15-25x slower.
//   - TF32 rounds products to a 10-bit mantissa: the OCR detector's probabilities then differed from the CPU's
//     by up to 0.047. The optimizer promises an end-to-end accuracy measured on the CPU, so a GPU rank
//     computes in full float32 unless the user opts in.
func CUDASettings(ordinal int, getenv func(string) string) (map[string]string, error) {
	search := "HEURISTIC"
	if v := getenv(EnvConvAlgoSearch); v != "" {
		switch v {
		case "HEURISTIC", "EXHAUSTIVE", "DEFAULT":
			search = v
		default:
			return nil, fmt.Errorf("%s=%q: want HEURISTIC, EXHAUSTIVE or DEFAULT", EnvConvAlgoSearch, v)
		}
	}
	tf32 := "0"
	switch v := getenv(EnvTF32); v {
	case "", "0":
	case "1":
		tf32 = "1"
	default:
		return nil, fmt.Errorf("%s=%q: want 0 or 1", EnvTF32, v)
	}
	return map[string]string{
		"device_id":              strconv.Itoa(ordinal),
		"cudnn_conv_algo_search": search,
		"use_tf32":               tf32,
	}, nil
}

// RestoreSignals re-installs Go's handlers for the signals a job aborts on. Resetting and re-enabling a
// signal makes the Go runtime call sigaction again, replacing whatever a C library installed meanwhile.
// Channels already registered with signal.Notify keep receiving: pass them in so they are re-registered.
func RestoreSignals(chans ...chan<- os.Signal) {
	sigs := []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}
	signal.Reset(sigs...)
	for _, c := range chans {
		signal.Notify(c, sigs...)
	}
}
