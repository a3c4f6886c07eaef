package exitcode

import (
	"errors"
	"fmt"
	"testing"
)

func TestFollowedLineRoundTrip(t *testing.T) {
	for _, peer := range []int{0, 5, 1234} {
		if got, ok := ParseFollowed(FollowedLine(peer) + "\n"); !ok || got != peer {
			t.Errorf("ParseFollowed(FollowedLine(%d)) = %d, %v", peer, got, ok)
		}
	}
	for _, line := range []string{"", "jellybean-followed", "jellybean-followed x", "jellybean-followed -1", "rank 3 failed"} {
		if _, ok := ParseFollowed(line); ok {
			t.Errorf("ParseFollowed(%q) accepted", line)
		}
	}
}

func TestPeerFailureExitCodeThroughWrapping(t *testing.T) {
	err := fmt.Errorf("rank 1 (localhost): %w", &PeerFailure{Peer: 4, Err: errors.New("rank 4 failed: boom")})
	var ec interface{ ExitCode() int }
	if !errors.As(err, &ec) || ec.ExitCode() != PeerFailed {
		t.Fatalf("wrapped PeerFailure: exit code not found")
	}
	var pf *PeerFailure
	if !errors.As(err, &pf) || pf.Peer != 4 || err.Error() != "rank 1 (localhost): rank 4 failed: boom" {
		t.Errorf("got %v / %+v", err, pf)
	}
}
