package pipeline

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// The stream protocol, stepped by messages and a clock, with no sockets.
func TestInboundProtocol(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type msg struct {
		src  int
		edge uint16
		body string
		want event
		err  string // substring of the error, "" for none
	}
	tests := []struct {
		name     string
		upstream []int
		msgs     []msg
		open     bool
	}{
		{"data then end of stream from each", []int{3, 5}, []msg{
			{3, edgeData, "", evData, ""}, {5, edgeData, "", evData, ""}, {3, edgeEOS, "", evNone, ""},
			{5, edgeData, "", evData, ""}, {5, edgeEOS, "", evNone, ""}}, false},
		{"data after end of stream", []int{3}, []msg{{3, edgeEOS, "", evNone, ""}, {3, edgeData, "", evNone, "data from rank 3"}}, false},
		{"end of stream twice", []int{3, 4}, []msg{{3, edgeEOS, "", evNone, ""}, {3, edgeEOS, "", evNone, "unexpected end-of-stream from rank 3"}}, true},
		{"data from a stranger", []int{3}, []msg{{7, edgeData, "", evNone, "not an input of this stage"}}, true},
		{"abort carries the sender's error", []int{3}, []msg{{3, edgeAbort, "rank 3 (h, stage X) failed: disk full", evNone, "rank 3 (h, stage X) failed: disk full"}}, true},
		{"pings and acks", nil, []msg{{2, edgePing, "", evNone, ""}, {2, edgeAck, "", evAck, ""}}, false},
		{"unknown edge", []int{3}, []msg{{3, 99, "", evNone, "unknown edge 99"}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newInbound(tc.upstream, t0, time.Second)
			for i, m := range tc.msgs {
				ev, err := s.step(m.src, m.edge, []byte(m.body))
				if (err == nil) != (m.err == "") || (err != nil && !strings.Contains(err.Error(), m.err)) {
					t.Fatalf("message %d: error %v, want %q", i, err, m.err)
				}
				if err == nil && ev != m.want {
					t.Fatalf("message %d: event %d, want %d", i, ev, m.want)
				}
			}
			if s.open() != tc.open {
				t.Fatalf("open = %v, want %v", s.open(), tc.open)
			}
		})
	}
}

func TestInboundProbesOnSchedule(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := newInbound([]int{9, 2, 5}, t0, 2*time.Second)
	if got := s.probes(t0.Add(time.Second)); got != nil {
		t.Fatalf("probe before the deadline: %v", got)
	}
	// Traffic from one upstream rank does not postpone probing the others.
	s.step(2, edgeData, nil)
	if !s.deadline().Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("deadline %v", s.deadline())
	}
	s.step(5, edgeEOS, nil)
	if got := s.probes(t0.Add(2 * time.Second)); !reflect.DeepEqual(got, []int{2, 9}) {
		t.Fatalf("probes %v, want the ranks still owing their end of stream", got)
	}
	if got := s.probes(t0.Add(3 * time.Second)); got != nil || !s.deadline().Equal(t0.Add(4*time.Second)) {
		t.Fatalf("probes %v, next %v", got, s.deadline())
	}
}
