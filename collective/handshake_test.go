package collective

import (
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultyStream wraps a Stream and damages it: flipping one bit of the written byte at offset flipAt, or
// closing after closeAfter written bytes. It exercises the same code paths as a real broken link.
type faultyStream struct {
	Stream
	mu         sync.Mutex
	written    int
	flipAt     int // -1: never
	closeAfter int // -1: never
}

func (f *faultyStream) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closeAfter >= 0 && f.written+len(p) > f.closeAfter {
		n := f.closeAfter - f.written
		if n > 0 {
			f.Stream.Write(p[:n])
		}
		f.Stream.Close()
		return max(n, 0), net.ErrClosed
	}
	if f.flipAt >= f.written && f.flipAt < f.written+len(p) {
		q := append([]byte(nil), p...)
		q[f.flipAt-f.written] ^= 0x10
		p = q
	}
	f.written += len(p)
	return f.Stream.Write(p)
}

func TestHandshakeOverPipe(t *testing.T) {
	other := []byte("another secret")
	cases := []struct {
		name              string
		dialSecret        []byte
		job, dialJob      string
		size, dialSize    int
		flipAt, closeAt   int
		wantDial, wantAcc string // "" = success
	}{
		{name: "ok", dialSecret: testSecret, job: "j", dialJob: "j", size: 3, dialSize: 3, flipAt: -1, closeAt: -1},
		{name: "wrong secret", dialSecret: other, job: "j", dialJob: "j", size: 3, dialSize: 3, flipAt: -1, closeAt: -1,
			wantDial: "failed to prove the job secret", wantAcc: "reading auth"},
		{name: "wrong job", dialSecret: testSecret, job: "j", dialJob: "k", size: 3, dialSize: 3, flipAt: -1, closeAt: -1,
			wantDial: "reading hello-ack", wantAcc: `belongs to job "k"`},
		{name: "wrong size", dialSecret: testSecret, job: "j", dialJob: "j", size: 3, dialSize: 4, flipAt: -1, closeAt: -1,
			wantDial: "reading hello-ack", wantAcc: "thinks the job has 4 ranks"},
		{name: "bit flip in hello", dialSecret: testSecret, job: "j", dialJob: "j", size: 3, dialSize: 3, flipAt: headerSize + 20, closeAt: -1,
			wantDial: "reading hello-ack", wantAcc: "CRC32C mismatch"},
		{name: "cut in hello", dialSecret: testSecret, job: "j", dialJob: "j", size: 3, dialSize: 3, flipAt: -1, closeAt: 10,
			wantDial: "sending hello", wantAcc: "EOF"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, d := net.Pipe()
			defer a.Close()
			defer d.Close()
			fd := &faultyStream{Stream: d, flipAt: tc.flipAt, closeAfter: tc.closeAt}
			deadline := time.Now().Add(2 * time.Second)
			var accErr error
			var accRank int
			done := make(chan struct{})
			go func() {
				defer close(done)
				accRank, accErr = acceptHandshake(a, tc.job, testSecret, 1, tc.size, deadline, func(int) error { return nil })
				if accErr != nil {
					a.Close() // as the acceptor does: reject by closing
				}
			}()
			dialErr := dialHandshake(fd, tc.dialJob, tc.dialSecret, 2, 1, tc.dialSize, deadline)
			if dialErr != nil {
				d.Close()
			}
			<-done
			check := func(side string, err error, want string) {
				if want == "" {
					if err != nil {
						t.Errorf("%s: unexpected error %v", side, err)
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("%s: error %v, want one containing %q", side, err, want)
				}
			}
			check("dialer", dialErr, tc.wantDial)
			check("acceptor", accErr, tc.wantAcc)
			if tc.wantAcc == "" && accRank != 2 {
				t.Errorf("acceptor saw rank %d, want 2", accRank)
			}
		})
	}
}

func TestHandshakeAcceptHookRejects(t *testing.T) {
	a, d := net.Pipe()
	defer a.Close()
	defer d.Close()
	deadline := time.Now().Add(2 * time.Second)
	var accErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, accErr = acceptHandshake(a, "j", testSecret, 0, 2, deadline, func(r int) error { return errors.New("rank 1 is already connected") })
		a.Close()
	}()
	err := dialHandshake(d, "j", testSecret, 1, 0, 2, deadline)
	<-done
	if err == nil || accErr == nil || !strings.Contains(accErr.Error(), "already connected") {
		t.Fatalf("dial %v, accept %v", err, accErr)
	}
}
