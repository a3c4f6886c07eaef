package collective

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

func TestAllToAllVInProcess(t *testing.T) {
	checkGoroutines(t)
	for _, comp := range []string{"off", "fastest", "auto"} {
		t.Run(comp, func(t *testing.T) {
			const n, rounds, maxBlock = 4, 6, 700_000 // blocks above partBytes travel as several parts when compressed
			comms := openLocal(t, n, func(c *Config) { c.Compression = comp })
			runAll(t, comms, func(c *Comm) error {
				ctx := context.Background()
				for round := range rounds {
					send := make([][]byte, n)
					for dst := range send {
						send[dst] = halfPattern(blockSize(c.Rank(), dst, round, maxBlock), c.Rank(), dst, round)
					}
					recv, err := c.AllToAllV(ctx, send)
					if err != nil {
						return err
					}
					for src, got := range recv {
						want := halfPattern(blockSize(src, c.Rank(), round, maxBlock), src, c.Rank(), round)
						if !bytes.Equal(got, want) {
							t.Errorf("rank %d: %s: got %d bytes, want %d (content differs)", c.Rank(), describe(src, c.Rank(), round), len(got), len(want))
						}
					}
					if err := c.Barrier(ctx); err != nil {
						return err
					}
				}
				return nil
			})
			if comp == "fastest" {
				if tot := comms[0].Totals(); tot.WireBytesSent >= tot.RawBytesSent {
					t.Errorf("fastest compression sent %d wire bytes for %d raw", tot.WireBytesSent, tot.RawBytesSent)
				}
			}
			closeAll(comms)
		})
	}
}

// halfPattern is n bytes whose first half is random and second half zeros (compressible).
func halfPattern(n, src, dst, round int) []byte {
	b := make([]byte, n)
	pattern(b[:n/2], src, dst, round)
	return b
}

func TestStreamSendRecv(t *testing.T) {
	checkGoroutines(t)
	comms := openLocal(t, 3, func(c *Config) { c.CreditBytes = 64 << 10 })
	const msgs = 200
	ctx := context.Background()
	runAll(t, comms, func(c *Comm) error {
		if c.Rank() != 0 {
			for i := range msgs {
				p := pattern(make([]byte, (i*997)%100_000), c.Rank(), 0, i)
				if err := c.Send(ctx, 0, uint16(c.Rank()), p); err != nil {
					return err
				}
			}
			return c.Close()
		}
		next := map[int]int{}
		for {
			m, err := c.Recv(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			i := next[m.Src]
			want := pattern(make([]byte, (i*997)%100_000), m.Src, 0, i)
			if !bytes.Equal(m.Payload, want) || m.Edge != uint16(m.Src) {
				t.Errorf("message %d from rank %d differs", i, m.Src)
			}
			next[m.Src]++
			Release(m.Payload)
		}
		if next[1] != msgs || next[2] != msgs {
			t.Errorf("received %v, want %d from each", next, msgs)
		}
		return nil
	})
	_ = time.Second
}
