package collective

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
)

// Go benchmarks over real loopback TCP inside one process. Run with -benchmem: steady state must show
// 0 allocs/op (buffers are pooled, AllToAllVInto recycles the previous round's blocks).

func benchAllToAllV(b *testing.B, ranks, size int, comp string) {
	comms := openLocal(b, ranks, func(c *Config) { c.Compression = comp })
	sends := make([][][]byte, ranks)
	recvs := make([][][]byte, ranks)
	for r := range ranks {
		sends[r] = make([][]byte, ranks)
		recvs[r] = make([][]byte, ranks)
		for d := range ranks {
			sends[r][d] = pattern(make([]byte, size), r, d, 0)
		}
	}
	ctx := context.Background()
	round := func(n int) {
		var wg sync.WaitGroup
		for r, c := range comms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range n {
					if err := c.AllToAllVInto(ctx, sends[r], recvs[r]); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	round(3) // warm the pools and codecs
	b.SetBytes(int64(ranks * (ranks - 1) * size))
	b.ReportAllocs()
	b.ResetTimer()
	round(b.N)
}

func BenchmarkAllToAllV4x1MiB(b *testing.B)     { benchAllToAllV(b, 4, 1<<20, "off") }
func BenchmarkAllToAllV4x64KiB(b *testing.B)    { benchAllToAllV(b, 4, 64<<10, "off") }
func BenchmarkAllToAllV2x1MiB(b *testing.B)     { benchAllToAllV(b, 2, 1<<20, "off") }
func BenchmarkAllToAllV4x1MiBZstd(b *testing.B) { benchAllToAllV(b, 4, 1<<20, "fastest") }

func benchStream(b *testing.B, size int) {
	comms := openLocal(b, 2, nil)
	msg := pattern(make([]byte, size), 1, 0, 0)
	ctx := context.Background()
	done := make(chan error, 1)
	run := func(n int) {
		go func() {
			for range n {
				if err := comms[1].Send(ctx, 0, 1, msg); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		for range n {
			m, err := comms[0].Recv(ctx)
			if err != nil {
				b.Fatal(err)
			}
			Release(m.Payload)
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	run(20)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	run(b.N)
}

func BenchmarkStream1MiB(b *testing.B) { benchStream(b, 1<<20) }
func BenchmarkStream4KiB(b *testing.B) { benchStream(b, 4<<10) }

func BenchmarkAppendDecodeBatch(b *testing.B) {
	feat := make([]float32, 32*512)
	batch := Batch{IDs: make([]int64, 32), Tensors: []Tensor{FromFloat32s("features", []int64{32, 512}, feat)}}
	buf := AppendBatch(nil, &batch)
	var out Batch
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendBatch(buf[:0], &batch)
		if err := DecodeBatchInto(&out, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawTCPStream1MiB is the baseline for BenchmarkStream1MiB: the same 1 MiB messages over a
// plain loopback TCP connection (no framing, checksum, credit or goroutine hand-off).
func BenchmarkRawTCPStream1MiB(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	const size = 1 << 20
	msg := pattern(make([]byte, size), 1, 0, 0)
	done := make(chan error, 1)
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		for range b.N + 20 {
			if _, err := c.Write(msg); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	c, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, size)
	for range 20 {
		io.ReadFull(c, buf)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
