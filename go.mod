module jellybean

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/NVIDIA/go-nvml v0.13.4-1
	github.com/klauspost/compress v1.20.4
	github.com/yalue/onnxruntime_go v1.27.0
	golang.org/x/sys v0.50.0
)
