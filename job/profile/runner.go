package profile

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"jellybean/collective"
	"jellybean/job/flow"
	"jellybean/job/pipeline"
)

// The runner's own work on a micro-batch, besides the node's op, is what a worker pays on top of the
// latency timed by timeNode: receiving its input messages from TCP sockets and decoding them
// (collective.DecodeBatch, pipeline.Unpack), handing the items from the receiving goroutine to the
// computing one and on to the sending one, packing the output (pipeline.Pack, collective.AppendBatch)
// and writing it to a socket, and the Go runtime's work for all that (waking parked goroutines from the
// network poller, garbage collection). runnerCost runs exactly that path, with the node's real messages,
// on real loopback TCP connections, one micro-batch at a time as a paced worker sees them, and counts
// CPU time: the whole process's (getrusage), less that of the two peer threads standing in for the
// upstream and downstream ranks (each locked to its OS thread and timed with its thread CPU clock).

// runnerCost measures the runner's CPU milliseconds per micro-batch for a node that receives the
// messages ins (one per input, already packed by the upstream ranks) and emits out. It runs one warm-up
// round and repeats timed rounds and returns the timed rounds' figures.
func runnerCost(ins [][]byte, outs [][]*flow.Item, repeats int) ([]float64, error) {
	up, upConn, err := loopbackPair() // upstream peer writes into up; this worker reads upConn
	if err != nil {
		return nil, err
	}
	defer up.Close()
	defer upConn.Close()
	downConn, down, err := loopbackPair() // this worker writes downConn; the downstream peer reads down
	if err != nil {
		return nil, err
	}
	defer downConn.Close()
	defer down.Close()
	var outMsgs [][]byte
	for _, out := range outs {
		m, err := packMessages(out)
		if err != nil {
			return nil, err
		}
		outMsgs = append(outMsgs, m...)
	}
	outBytes := 0
	for _, m := range outMsgs {
		outBytes += len(m)
	}
	rounds := repeats + 1
	var (
		next     = make(chan struct{})         // the downstream peer has drained a round: send the next
		upCPU    = make(chan time.Duration, 1) // the upstream peer's thread CPU of a round
		peerErr  = make(chan error, 2)         // each peer's end
		received = make(chan []pipeline.Item)  // receiving goroutine -> computing goroutine
		computed = make(chan struct{})         // computing goroutine -> sending goroutine
		samples  = make([]float64, 0, repeats)
		workErr  = make(chan error, 3)
		roundCPU = make(chan time.Duration, 1) // both peers' CPU of a finished round
	)
	go func() { // the upstream rank: writes each round's input messages
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var hdr [4]byte
		for r := range rounds {
			if r > 0 {
				if _, ok := <-next; !ok {
					peerErr <- nil
					return
				}
			}
			t0 := threadCPU()
			for _, m := range ins {
				binary.LittleEndian.PutUint32(hdr[:], uint32(len(m)))
				if _, err := up.Write(append(hdr[:], m...)); err != nil {
					peerErr <- err
					return
				}
			}
			upCPU <- threadCPU() - t0
		}
		peerErr <- nil
	}()
	go func() { // the downstream rank: drains each round's output, then asks for the next round
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		buf := make([]byte, max(outBytes, 1))
		for r := range rounds {
			t0 := threadCPU()
			if _, err := io.ReadFull(down, buf[:outBytes]); err != nil {
				peerErr <- err
				close(next)
				return
			}
			mine := threadCPU() - t0
			roundCPU <- <-upCPU + mine
			if r < rounds-1 {
				next <- struct{}{}
			}
		}
		close(next)
		peerErr <- nil
	}()
	go func() { // receiving goroutine
		var hdr [4]byte
		var buf []byte
		for range rounds {
			var items []pipeline.Item
			for range ins {
				if _, err := io.ReadFull(upConn, hdr[:]); err != nil {
					workErr <- err
					return
				}
				n := int(binary.LittleEndian.Uint32(hdr[:]))
				if cap(buf) < n {
					buf = make([]byte, n)
				}
				buf = buf[:n]
				if _, err := io.ReadFull(upConn, buf); err != nil {
					workErr <- err
					return
				}
				b, err := collective.DecodeBatch(buf)
				if err != nil {
					workErr <- err
					return
				}
				its, err := pipeline.Unpack(b)
				if err != nil {
					workErr <- err
					return
				}
				items = append(items, its...)
			}
			received <- items
		}
		workErr <- nil
	}()
	go func() { // computing goroutine: the op is timed apart (timeNode); here only the hand-offs
		for range rounds {
			<-received
			computed <- struct{}{}
		}
		workErr <- nil
	}()
	go func() { // sending goroutine
		var buf []byte
		for range rounds {
			<-computed
			for _, chunk := range outChunks(outs) {
				p, err := pipeline.Pack(chunk)
				if err != nil {
					workErr <- err
					return
				}
				buf = collective.AppendBatch(buf[:0], &p)
				if _, err := downConn.Write(buf); err != nil {
					workErr <- err
					return
				}
			}
		}
		workErr <- nil
	}()
	p0 := processCPU()
	for r := range rounds {
		peers := <-roundCPU
		p1 := processCPU()
		if r > 0 {
			samples = append(samples, max(0, (p1-p0-peers).Seconds()*1000))
		}
		p0 = p1
	}
	for range 3 {
		if err := <-workErr; err != nil {
			return nil, fmt.Errorf("profile: the runner's path: %w", err)
		}
	}
	for range 2 {
		if err := <-peerErr; err != nil {
			return nil, fmt.Errorf("profile: the runner's path: %w", err)
		}
	}
	return samples, nil
}

// processCPU is this process's CPU time so far (user + system, all threads).
func processCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// messageChunks groups the items as the runner sends them: one message for the items that pack
// together, the others (placeholders of empty families, items with other tensors) one by one.
func messageChunks(items []*flow.Item) [][]pipeline.Item {
	all := make([]pipeline.Item, len(items))
	for i, it := range items {
		all[i].Item = *it
	}
	if len(all) == 0 {
		return nil
	}
	if _, err := pipeline.Pack(all); err == nil {
		return [][]pipeline.Item{all}
	}
	var out [][]pipeline.Item
	for i := range all {
		out = append(out, all[i:i+1])
	}
	return out
}

// outChunks is the messages a node's calls send: each call's output, grouped by messageChunks.
func outChunks(outs [][]*flow.Item) [][]pipeline.Item {
	var all [][]pipeline.Item
	for _, out := range outs {
		all = append(all, messageChunks(out)...)
	}
	return all
}

// packMessages packs items into the bytes of the messages that carry them (see messageChunks).
func packMessages(items []*flow.Item) ([][]byte, error) {
	var out [][]byte
	for _, chunk := range messageChunks(items) {
		p, err := pipeline.Pack(chunk)
		if err != nil {
			return nil, err
		}
		out = append(out, collective.AppendBatch(nil, &p))
	}
	return out, nil
}

// loopbackPair is both ends of a real TCP connection on 127.0.0.1.
func loopbackPair() (net.Conn, net.Conn, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	acc := make(chan res, 1)
	go func() { c, err := ln.Accept(); acc <- res{c, err} }()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	r := <-acc
	if r.err != nil {
		a.Close()
		return nil, nil, r.err
	}
	return a, r.c, nil
}

// onLockedThread runs f on a goroutine locked to its OS thread, so that the thread's CPU clock is f's.
func onLockedThread(f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		done <- f()
	}()
	return <-done
}

// threadCPU is the calling thread's CPU time so far.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
