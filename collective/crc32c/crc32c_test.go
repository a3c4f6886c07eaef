package crc32c

import (
	"hash/crc32"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// TestMatchesStdlib compares against hash/crc32 over every length up to a few folding blocks (each
// path of the kernel: 256-byte loop, 64-byte loop, 16-byte loop, scalar tail), odd alignments and
// initial CRCs, and some large buffers.
func TestMatchesStdlib(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 1<<20+64)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	lengths := []int{1 << 20, 1<<20 - 1, 65536, 65536 + 16, 4096 + 48, 100000}
	for n := 0; n <= 1100; n++ {
		lengths = append(lengths, n)
	}
	for _, n := range lengths {
		for _, align := range []int{0, 1, 7, 33} {
			for _, init := range []uint32{0, 0xFFFFFFFF, rng.Uint32()} {
				p := buf[align : align+n]
				want := crc32.Update(init, castagnoli, p)
				if got := Update(init, p); got != want {
					t.Fatalf("Update(%#x, %d bytes at offset %d) = %#08x, hash/crc32 says %#08x", init, n, align, got, want)
				}
			}
		}
	}
}

// TestKnownVector: the CRC-32C check value of "123456789" (RFC 3720 appendix) and of 32 zero bytes.
func TestKnownVector(t *testing.T) {
	tests := []struct {
		in   []byte
		want uint32
	}{
		{[]byte("123456789"), 0xE3069283},
		{make([]byte, 32), 0x8A9136AA},
	}
	for _, tc := range tests {
		if got := Checksum(tc.in); got != tc.want {
			t.Errorf("Checksum(%q) = %#08x, want %#08x", tc.in, got, tc.want)
		}
	}
}

// TestChunkedEqualsWhole: Update over arbitrary pieces equals one pass (the frame reader checksums
// as data arrives).
func TestChunkedEqualsWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 3<<20)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	want := crc32.Checksum(buf, castagnoli)
	for range 50 {
		var crc uint32
		for off := 0; off < len(buf); {
			n := min(rng.IntN(300000), len(buf)-off)
			crc = Update(crc, buf[off:off+n])
			off += n
		}
		if crc != want {
			t.Fatalf("chunked CRC %#08x, whole %#08x", crc, want)
		}
	}
}

func FuzzUpdate(f *testing.F) {
	f.Add(uint32(0), make([]byte, 700))
	f.Fuzz(func(t *testing.T, init uint32, p []byte) {
		if got, want := Update(init, p), crc32.Update(init, castagnoli, p); got != want {
			t.Fatalf("Update(%#x, %d bytes) = %#08x, hash/crc32 says %#08x", init, len(p), got, want)
		}
	})
}

func benchmark(b *testing.B, n int, f func([]byte) uint32) {
	buf := make([]byte, n)
	b.SetBytes(int64(n))
	for b.Loop() {
		f(buf)
	}
}

func BenchmarkChecksum64KiB(b *testing.B) { benchmark(b, 64<<10, Checksum) }
func BenchmarkChecksum1MiB(b *testing.B)  { benchmark(b, 1<<20, Checksum) }
func BenchmarkStdlib64KiB(b *testing.B) {
	benchmark(b, 64<<10, func(p []byte) uint32 { return crc32.Checksum(p, castagnoli) })
}
func BenchmarkStdlib1MiB(b *testing.B) {
	benchmark(b, 1<<20, func(p []byte) uint32 { return crc32.Checksum(p, castagnoli) })
}

// TestAcceleratedWhereAvailable: on a Linux/amd64 CPU that advertises AVX-512 and VPCLMULQDQ the vector
// kernel must be the one in use (else the tests above only compared hash/crc32 with itself).
func TestAcceleratedWhereAvailable(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Logf("vector kernel only on linux/amd64; Accelerated() = %v", Accelerated())
		return
	}
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Fatalf("read /proc/cpuinfo: %v", err)
	}
	flags := map[string]bool{}
	for line := range strings.Lines(string(info)) {
		if name, list, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "flags" {
			for _, f := range strings.Fields(list) {
				flags[f] = true
			}
			break
		}
	}
	capable := flags["avx512f"] && flags["avx512vl"] && flags["vpclmulqdq"] && flags["pclmulqdq"] && flags["sse4_1"]
	if capable != Accelerated() {
		t.Fatalf("CPU flags say AVX-512 VPCLMULQDQ capable = %v, but Accelerated() = %v", capable, Accelerated())
	}
	t.Logf("vector kernel in use: %v", capable)
}

// BenchmarkChecksum1MiBCold checksums 1 MiB pieces of a 256 MiB buffer (not in cache), as the sender
// does with application buffers that the kernel's socket copies have pushed out of cache.
func BenchmarkChecksum1MiBCold(b *testing.B) {
	buf := make([]byte, 256<<20)
	b.SetBytes(1 << 20)
	off := 0
	for b.Loop() {
		Checksum(buf[off : off+1<<20])
		off = (off + 1<<20) % len(buf)
	}
}
