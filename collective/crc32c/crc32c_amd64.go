package crc32c

import "golang.org/x/sys/cpu"

// haveFold: the kernel uses 512-bit VPCLMULQDQ/VPTERNLOGD (AVX-512F, VPCLMULQDQ) and, for the final
// reduction, PCLMULQDQ and PEXTRD (SSE4.1). x/sys/cpu also checks that the OS saves ZMM state.
var haveFold = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VPCLMULQDQ &&
	cpu.X86.HasPCLMULQDQ && cpu.X86.HasSSE41

// foldCastagnoli returns the non-inverted CRC-32C update of crc with p; len(p) >= 256 and a multiple
// of 16. Implemented in crc32c_amd64.s.
//
//go:noescape
func foldCastagnoli(crc uint32, p []byte) uint32
