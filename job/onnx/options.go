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
	if err := cudaOpts.Update(map[string]string{"device_id": strconv.Itoa(ordinal)}); err != nil {
		opts.Destroy()
		return nil, fmt.Errorf("%s: CUDA provider options: %w", device, err)
	}
	if err := opts.AppendExecutionProviderCUDA(cudaOpts); err != nil {
		opts.Destroy()
		return nil, fmt.Errorf("%s: enabling the CUDA execution provider (CUDA 13 and cuDNN 9 libraries must be on LD_LIBRARY_PATH): %w", device, err)
	}
	return opts, nil
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
