package pipeline

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	"jellybean/hostfiles"
	"jellybean/plan"
)

// MemoryBenchOptions configure BenchMemory.
type MemoryBenchOptions struct {
	Root     string
	Hostfile string
	Plan     string
	// Datasets are the manifests to run, by name (e.g. "normal", "dense"); each replaces the plan's.
	Datasets []NamedDataset
	Rounds   int // runs of each dataset, alternating (default 1)
	Logf     func(string, ...any)
}

// NamedDataset is one dataset of a memory benchmark.
type NamedDataset struct {
	Name     string
	Manifest string
}

// MemoryRun is one run of BenchMemory.
type MemoryRun struct {
	Dataset     string  `json:"dataset"`
	Items       int     `json:"items"`
	SubItems    int64   `json:"sub_items"` // sub-items the fan-out stages made (pieces of lines)
	WallSeconds float64 `json:"wall_seconds"`
	// Peaks over the run: the Go heap that the last garbage collection found live (what the ranks retain:
	// queues, messages, fan-in state, pages being worked on), the Go heap including garbage not yet
	// collected (which GOGC lets grow to about twice the live heap), and the process's resident set (all
	// ranks, ONNX Runtime included).
	PeakLiveHeapMiB float64 `json:"peak_live_go_heap_mib"`
	PeakHeapMiB     float64 `json:"peak_go_heap_mib"`
	PeakRSSMiB      float64 `json:"peak_rss_mib"`
	// The most any rank held at once (see Watermarks).
	MaxQueuedItems    int     `json:"max_queued_items"`
	MaxMessageItems   int     `json:"max_message_items"`
	MaxMessageMiB     float64 `json:"max_message_mib"`
	MaxFanInFamilies  int     `json:"max_fan_in_families"`
	MaxFanInSubItems  int     `json:"max_fan_in_sub_items"`
	LoadAverageBefore string  `json:"load_average_before"`
}

// BenchMemory runs the plan in this process on loopback over each dataset in turn (alternating, Rounds
// times) and reports each run's peak Go heap and resident set, sampled every few milliseconds, with the
// ranks' watermarks. The peak resident set is reset before each run (Linux clear_refs), so runs in one
// process do not inherit each other's peaks.
func BenchMemory(ctx context.Context, o MemoryBenchOptions) ([]MemoryRun, error) {
	if o.Rounds <= 0 {
		o.Rounds = 1
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	hf, err := hostfiles.Load(o.Hostfile)
	if err != nil {
		return nil, err
	}
	var out []MemoryRun
	for round := range o.Rounds {
		for _, ds := range o.Datasets {
			p, err := plan.Load(o.Plan)
			if err != nil {
				return nil, err
			}
			p.Dataset = ds.Manifest
			if err := plan.Validate(p, o.Plan, plan.Options{Hostfile: hf, Root: o.Root, CheckFiles: true}); err != nil {
				return nil, err
			}
			o.Logf("round %d: %s (%s)", round+1, ds.Name, ds.Manifest)
			run, err := memoryRun(ctx, o, hf, p)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", ds.Name, err)
			}
			run.Dataset = ds.Name
			out = append(out, *run)
		}
	}
	return out, nil
}

func memoryRun(ctx context.Context, o MemoryBenchOptions, hf *hostfiles.Hostfile, p *plan.Plan) (*MemoryRun, error) {
	tmp, err := os.MkdirTemp("", "jellybean-bench-memory-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	base, err := FreeBasePort(maxSlots(hf), hf.HostNames()...)
	if err != nil {
		return nil, err
	}
	p.BasePort = base
	run := &MemoryRun{LoadAverageBefore: loadAverage()}
	runtime.GC()
	debug.FreeOSMemory()
	// Reset the process's peak resident set (VmHWM); without it the first run's peak would stand for all.
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return nil, fmt.Errorf("resetting the peak resident set: %w", err)
	}
	var mu sync.Mutex
	marks := []Watermarks{}
	stop := make(chan struct{})
	sampled := make(chan [2]float64)
	go func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
		var peak [2]float64
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			for k := range peak {
				peak[k] = max(peak[k], float64(sample[k].Value.Uint64()))
			}
			select {
			case <-stop:
				sampled <- peak
				return
			case <-tick.C:
			}
		}
	}()
	start := time.Now()
	dir := filepath.Join(tmp, "run")
	err = RunInProcess(ctx, Config{Hostfile: hf, Plan: p, PlanName: o.Plan, Root: o.Root, RunDir: dir,
		JobID: "bench-memory", Secret: []byte("bench-secret-0123456789"), Cores: runtime.NumCPU(),
		Stdout: discard{}, ConnectTimeout: 20 * time.Second,
		Watermarks: func(w Watermarks) { mu.Lock(); marks = append(marks, w); mu.Unlock() }})
	run.WallSeconds = time.Since(start).Seconds()
	close(stop)
	peaks := <-sampled
	run.PeakHeapMiB, run.PeakLiveHeapMiB = peaks[0]/(1<<20), peaks[1]/(1<<20)
	if err != nil {
		return nil, err
	}
	if run.PeakRSSMiB, err = peakRSSMiB(); err != nil {
		return nil, err
	}
	n, err := countLines(filepath.Join(dir, "results.jsonl"))
	if err != nil {
		return nil, err
	}
	run.Items = n
	for _, w := range marks {
		run.SubItems += w.SubItemsEmitted
		run.MaxQueuedItems = max(run.MaxQueuedItems, w.InQueueItems+w.PendingItems+w.OutQueueItems)
		run.MaxMessageItems = max(run.MaxMessageItems, w.MessageItems)
		run.MaxMessageMiB = max(run.MaxMessageMiB, float64(w.MessageBytes)/(1<<20))
		run.MaxFanInFamilies = max(run.MaxFanInFamilies, w.FanInFamilies)
		run.MaxFanInSubItems = max(run.MaxFanInSubItems, w.FanInSubItems)
	}
	return run, nil
}

// peakRSSMiB reads this process's peak resident set (VmHWM) from /proc.
func peakRSSMiB() (float64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/self/status has no VmHWM line")
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<26)
	n := 0
	for sc.Scan() {
		n++
	}
	return n, sc.Err()
}
