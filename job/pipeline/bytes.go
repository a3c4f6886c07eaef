package pipeline

import "unsafe"

// bytesOfFloat32 views a float32 slice as bytes (for copying unaligned tensor data into it).
func bytesOfFloat32(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}
