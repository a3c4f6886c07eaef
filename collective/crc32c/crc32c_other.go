//go:build !amd64

package crc32c

const haveFold = false

func foldCastagnoli(crc uint32, p []byte) uint32 {
	panic("crc32c: no vector kernel on this architecture")
}
