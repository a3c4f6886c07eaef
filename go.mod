module jellybean

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/yalue/onnxruntime_go v1.27.0
)
