package pipeline

import (
	"fmt"
	"sort"
	"time"
)

// inbound is the receiving half of a rank's stream protocol, as a pure state machine: it is stepped by
// each message's sender and edge, and asked with a clock value which upstream ranks to probe. The rank's
// receive loop does the I/O around it.
//
// Rules: data comes only from an upstream rank that has not ended its stream; each upstream rank ends it
// once (end of stream); an abort is the sender's failure and ends this rank too; acks return window
// tokens (sources only); pings are ignored. The stream is over when every upstream rank has ended it. An
// upstream rank that still owes its end of stream is probed every probe interval, whatever else arrives,
// so that one that died without its abort report is noticed (a failed probe ends the rank).
type inbound struct {
	waiting map[int]bool // upstream ranks that still owe an end of stream
	every   time.Duration
	next    time.Time // when the next probe is due
}

// event is what a message asks the receive loop to do.
type event int

const (
	evNone event = iota // nothing (a ping, or an end of stream counted)
	evData              // decode the payload's items
	evAck               // return window tokens
)

func newInbound(upstream []int, now time.Time, every time.Duration) *inbound {
	s := &inbound{waiting: map[int]bool{}, every: every, next: now.Add(every)}
	for _, u := range upstream {
		s.waiting[u] = true
	}
	return s
}

// open reports whether some upstream rank has not ended its stream.
func (s *inbound) open() bool { return len(s.waiting) > 0 }

// step applies one message from src on edge; payload is only read for an abort (the sender's error).
// Messages do not postpone the probe: traffic from one upstream rank says nothing about another.
func (s *inbound) step(src int, edge uint16, payload []byte) (event, error) {
	switch edge {
	case edgePing:
		return evNone, nil
	case edgeAbort:
		return evNone, fmt.Errorf("%s", payload)
	case edgeAck:
		return evAck, nil
	case edgeEOS:
		if !s.waiting[src] {
			return evNone, fmt.Errorf("unexpected end-of-stream from rank %d", src)
		}
		delete(s.waiting, src)
		return evNone, nil
	case edgeData:
		if !s.waiting[src] {
			return evNone, fmt.Errorf("data from rank %d, which is not an input of this stage or already ended its stream", src)
		}
		return evData, nil
	}
	return evNone, fmt.Errorf("message on unknown edge %d from rank %d", edge, src)
}

// deadline is when the receive loop must stop waiting and call probes.
func (s *inbound) deadline() time.Time { return s.next }

// probes returns the upstream ranks to probe at now (sorted; none before the deadline) and schedules
// the next probe.
func (s *inbound) probes(now time.Time) []int {
	if now.Before(s.next) {
		return nil
	}
	s.next = now.Add(s.every)
	out := make([]int, 0, len(s.waiting))
	for u := range s.waiting {
		out = append(out, u)
	}
	sort.Ints(out)
	return out
}
