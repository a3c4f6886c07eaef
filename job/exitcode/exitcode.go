// Package exitcode is what a rank and its launcher agree on about how a rank ended: a rank that stopped
// only because another rank failed exits with PeerFailed and prints whom it followed, so that the
// launcher can name the rank whose own failure started it rather than whichever rank exited first.
package exitcode

import (
	"fmt"
	"strconv"
	"strings"
)

// PeerFailed is the exit status of a rank that stopped because a peer failed or vanished: it did nothing
// wrong itself. (1 is a rank's own failure, 2 a usage error, 126 and above the shell's.)
const PeerFailed = 3

// FollowedPrefix starts the line (on stderr) in which a rank that exits with PeerFailed names the peer
// it followed: "jellybean-followed 4".
const FollowedPrefix = "jellybean-followed "

// PeerFailure is the error of a rank that stopped because rank Peer failed (Peer's failure report, or the
// collective's error about losing it). Its exit status is PeerFailed.
type PeerFailure struct {
	Peer int
	Err  error
}

func (e *PeerFailure) Error() string { return e.Err.Error() }
func (e *PeerFailure) Unwrap() error { return e.Err }

// ExitCode makes `jellybean run` exit with PeerFailed.
func (e *PeerFailure) ExitCode() int { return PeerFailed }

// FollowedLine is the line a rank prints before exiting with PeerFailed.
func FollowedLine(peer int) string { return FollowedPrefix + strconv.Itoa(peer) }

// ParseFollowed reads a FollowedLine; ok is false for any other line.
func ParseFollowed(line string) (peer int, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(line), FollowedPrefix)
	if !found {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// Describe names an exit status for messages.
func Describe(status int) string {
	if status == PeerFailed {
		return fmt.Sprintf("exit status %d (stopped because a peer failed)", status)
	}
	return fmt.Sprintf("exit status %d", status)
}
