package pipeline

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
)

// RunInProcess runs every rank of a job as goroutines of this process (each with its own communicator
// on real loopback sockets): for benchmarks and tests. base.Rank is ignored. It returns the first rank
// error, naming the rank.
func RunInProcess(ctx context.Context, base Config) error {
	n := base.Hostfile.WorldSize()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := 0; r < n; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := base
			cfg.Rank = r
			errs[r] = Run(ctx, cfg)
		}()
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			return fmt.Errorf("rank %d: %w", r, err)
		}
	}
	return nil
}

// FreeBasePort returns a base port such that base..base+n-1 are free on every host (loopback addresses),
// checked by binding them. It picks from 20000-32767, below Linux's ephemeral range, so that outgoing
// connections of other tests cannot take the ports between the check and the job's bind.
func FreeBasePort(n int, hosts ...string) (int, error) {
	for try := 0; try < 200; try++ {
		base := 20000 + rand.IntN(32768-20000-n)
		ok := true
		var held []net.Listener
		for _, h := range hosts {
			for i := 0; i < n && ok; i++ {
				l, err := net.Listen("tcp", net.JoinHostPort(h, fmt.Sprint(base+i)))
				if err != nil {
					ok = false
					break
				}
				held = append(held, l)
			}
		}
		for _, l := range held {
			l.Close()
		}
		if ok {
			return base, nil
		}
	}
	return 0, fmt.Errorf("no range of %d free ports found", n)
}
