package pipeline

import (
	"fmt"
	"io"
	"jellybean/job/flow"
	"sort"
	"time"
)

// sinkState is the sink rank's view of the job: the results file, progress and end-to-end latencies.
type sinkState struct {
	node      *flow.Node // regroups sub-items when the sink has a fan_in
	fields    []string   // tensors written to each line
	w         *resultsWriter
	total     int // items in the job (after limit), including those done by an earlier run
	todo      int // items this run must finish
	variants  map[string]string
	out       io.Writer
	latencies []float64 // ms, one per item finished by this run
	lastPrint time.Time
	lastUnix  int64 // when the last result was written
	// firstUnix is when the first result was written, firstCount how many items that write held: the
	// steady throughput counts from there (Summary.SteadyThroughputItemsPerSecond).
	firstUnix  int64
	firstCount int
}

// progressInterval keeps progress lines at about two per second.
const progressInterval = 500 * time.Millisecond

type sinkOp struct{ s *sinkState }

func (o sinkOp) process(in []Item) ([]Item, time.Duration, error) {
	s := o.s
	ptrs := make([]*flow.Item, len(in))
	for i := range in {
		ptrs[i] = &in[i].Item
	}
	items, _, err := s.node.Process(ptrs)
	if err != nil {
		return nil, 0, err
	}
	ids := make([]int64, len(items))
	lines := make([][]byte, len(items))
	for i, it := range items {
		ids[i] = it.ID
		if lines[i], err = flow.ResultLine(it, s.fields, s.variants); err != nil {
			return nil, 0, err
		}
	}
	if err := s.w.write(ids, lines); err != nil {
		return nil, 0, err
	}
	now := time.Now()
	s.lastUnix = now.UnixNano()
	if s.firstUnix == 0 {
		s.firstUnix, s.firstCount = s.lastUnix, len(items)
	}
	for _, it := range items {
		if it.T0 > 0 {
			s.latencies = append(s.latencies, float64(s.lastUnix-it.T0)/1e6)
		}
	}
	if s.w.count() == s.total || now.Sub(s.lastPrint) >= progressInterval {
		s.progress()
		s.lastPrint = now
	}
	// The items written, by id only (the sink sends nothing; a sink that regroups acknowledges them).
	done := make([]Item, len(items))
	for i, it := range items {
		done[i].ID = it.ID
	}
	return done, 0, nil
}

func (o sinkOp) pending() (int, int) { return o.s.node.Pending() }

func (o sinkOp) finish() error { return o.s.node.Finish() }
func (o sinkOp) close()        { o.s.node.Close() }

// progress prints the line the launcher turns into its progress display.
func (s *sinkState) progress() {
	fmt.Fprintf(s.out, "jellybean-progress {\"done\":%d,\"total\":%d}\n", s.w.count(), s.total)
}

// percentile returns the p-th percentile (0..100) of sorted values by nearest rank; 0 for none.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	k := int(p/100*float64(len(sorted))+0.999999999) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}

func sortedCopy(v []float64) []float64 {
	c := append([]float64(nil), v...)
	sort.Float64s(c)
	return c
}
