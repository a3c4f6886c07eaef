package pipeline

import (
	"context"
	"math"
	"testing"
	"time"
)

// A worker's capacity is items per CPU second of its own process when every rank has one, and items per
// second of op plus runner wall time otherwise (ranks sharing a process share its CPU figure).
func TestBusySecondsBasis(t *testing.T) {
	own := []rankStats{{PID: 10, CPUSeconds: 0.5}, {PID: 11, CPUSeconds: 0.25}}
	if !ownProcesses(own) {
		t.Fatal("distinct PIDs with CPU time: want own processes")
	}
	for _, shared := range [][]rankStats{
		{{PID: 10, CPUSeconds: 0.5}, {PID: 10, CPUSeconds: 0.5}}, // one process (in-process job)
		{{PID: 10, CPUSeconds: 0.5}, {PID: 11}},                  // a rank without CPU time (older rank)
		{{CPUSeconds: 0.5}},                                      // no PID recorded
		nil,
	} {
		if ownProcesses(shared) {
			t.Errorf("%+v: want no own processes", shared)
		}
	}
	rs := rankStats{Items: 100, ComputeSeconds: 0.2, RunnerIOSeconds: 0.05, CPUSeconds: 0.4}
	if b, basis := busySeconds(rs, true); b != 0.4 || basis != "cpu" {
		t.Errorf("own process: %v %s, want 0.4 cpu", b, basis)
	}
	if b, basis := busySeconds(rs, false); math.Abs(b-0.25) > 1e-12 || basis != "wall" {
		t.Errorf("shared process: %v %s, want 0.25 wall", b, basis)
	}
	if c := processCPUSeconds(); !(c > 0) {
		t.Errorf("process CPU time %v: want > 0 on Linux", c)
	}
}

// receive tells a batch whose items were already queued from one that had to wait for them (a starved
// worker, whose CPU per item the capacity model predicts apart).
func TestReceiveSaysWhetherItWaited(t *testing.T) {
	in := make(chan []Item, 1)
	in <- []Item{{}}
	if b, ok, waited, err := receive(context.Background(), in); err != nil || !ok || waited || len(b) != 1 {
		t.Errorf("queued: %d items, ok %v, waited %v, %v", len(b), ok, waited, err)
	}
	go func() { time.Sleep(20 * time.Millisecond); in <- []Item{{}, {}} }()
	if b, ok, waited, err := receive(context.Background(), in); err != nil || !ok || !waited || len(b) != 2 {
		t.Errorf("late: %d items, ok %v, waited %v, %v", len(b), ok, waited, err)
	}
	close(in)
	if _, ok, _, err := receive(context.Background(), in); ok || err != nil {
		t.Errorf("closed: ok %v, %v", ok, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, _, err := receive(ctx, make(chan []Item)); err == nil {
		t.Error("a cancelled wait returned no error")
	}
}
