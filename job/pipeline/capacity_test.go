package pipeline

import (
	"math"
	"testing"
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
