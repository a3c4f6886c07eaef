package launch

import (
	"fmt"
	"os"
	"syscall"

	"jellybean/job/exitcode"
)

// RankFailure is the launcher's error when a rank ends badly: which rank, on which host, how it ended
// and the last thing it said. Its ExitCode is what `jellybean launch` exits with, like mpirun.
type RankFailure struct {
	Rank     int
	Host     string
	Cause    string // "exit status 3", "killed by signal 9 (killed)", "could not start: ..."
	LastLine string // last meaningful line of the rank's log
	Reported string // for a rank that did not fail itself: what the peer that lost it said
	Log      string // path of the rank's log
	Code     int
}

func (f *RankFailure) Error() string {
	s := fmt.Sprintf("rank %d (host %s) failed: %s", f.Rank, f.Host, f.Cause)
	if f.LastLine != "" {
		s += "; last log line: " + f.LastLine
	}
	if f.Reported != "" {
		s += "; " + f.Reported
	}
	if f.Log != "" {
		s += " [log: " + f.Log + "]"
	}
	return s
}

// ExitCode is the launcher's exit status for this failure: the rank's own status when it has one,
// 128+signal for a killed rank (the shell's convention), else 1.
func (f *RankFailure) ExitCode() int { return f.Code }

// Interrupted is the launcher's error when it was told to stop (Ctrl-C, SIGTERM) and stopped the ranks.
type Interrupted struct {
	Signal os.Signal
	Ranks  int // ranks that were still running and were stopped
}

func (e *Interrupted) Error() string {
	return fmt.Sprintf("interrupted by %v: stopped %d running rank(s)", e.Signal, e.Ranks)
}

// ExitCode follows the shell's 128+signal convention.
func (e *Interrupted) ExitCode() int {
	if s, ok := e.Signal.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}

// describeExit turns a rank's exit into a RankFailure (without the log line, which the caller adds).
func describeExit(e rankExit) *RankFailure {
	f := &RankFailure{Rank: e.proc.inv.Rank, Host: e.proc.inv.Host, Log: e.proc.logPath, Code: 1}
	switch {
	case e.state == nil:
		f.Cause = fmt.Sprintf("could not start %s: %v", e.proc.inv.Path, e.err)
	default:
		ws, _ := e.state.Sys().(syscall.WaitStatus)
		switch {
		case ws.Signaled():
			f.Cause = fmt.Sprintf("killed by signal %d (%v)", int(ws.Signal()), ws.Signal())
			f.Code = 128 + int(ws.Signal())
		case e.proc.inv.Remote && ws.ExitStatus() == 255:
			// ssh's own failures: unreachable host, refused key, lost connection. The log says which.
			f.Cause = "ssh failed (status 255)"
			f.Code = 255
		case e.proc.inv.Remote && ws.ExitStatus() > 128:
			// The remote shell's report of a rank killed by a signal (see SSHInvocation).
			f.Cause = fmt.Sprintf("killed by signal %d on the remote host", ws.ExitStatus()-128)
			f.Code = ws.ExitStatus()
		default:
			f.Cause = exitcode.Describe(ws.ExitStatus())
			if c := ws.ExitStatus(); c > 0 && c < 126 {
				f.Code = c
			}
		}
	}
	return f
}

// exitRecord is what blame needs to know about one rank's exit.
type exitRecord struct {
	Rank     int
	Failed   bool // anything but status 0
	Provoked bool // the launcher had stopped it (see rankExit.provoked)
	Signaled bool // killed by a signal the launcher did not send
	Followed bool // exited with exitcode.PeerFailed: it stopped because a peer failed
}

// blame picks the rank whose own failure started a job's end, from the exits in the order they arrived
// and what the ranks that followed a peer said they followed (rank → peer):
//
//  1. the first failure of a rank's own (neither provoked by the launcher nor following a peer), a kill
//     from outside preferred over an error exit (the error may be a reaction to the kill);
//  2. else the rank at the end of the "followed" chain that starts at the first failure: a rank that hung
//     or was stopped never fails itself, but its peers say they lost it. via is the last rank of the chain
//     before it (whose report explains it), -1 in case 1.
//
// ok is false when no rank failed.
func blame(exits []exitRecord, followed map[int]int) (root, via int, ok bool) {
	own := -1
	for i, e := range exits {
		if !e.Failed || e.Provoked || e.Followed {
			continue
		}
		if own < 0 || (e.Signaled && !exits[own].Signaled) {
			own = i
		}
	}
	if own >= 0 {
		return exits[own].Rank, -1, true
	}
	first := -1
	for i, e := range exits {
		if e.Failed {
			first = i
			break
		}
	}
	if first < 0 {
		return 0, -1, false
	}
	known := map[int]bool{}
	for _, e := range exits {
		known[e.Rank] = true
	}
	root, via = exits[first].Rank, -1
	seen := map[int]bool{root: true}
	for {
		next, ok := followed[root]
		if !ok || seen[next] || !known[next] { // a rank number no rank has is a garbled report
			return root, via, true
		}
		seen[next] = true
		root, via = next, root
	}
}

// preferStopped overrides blame when a rank was found stopped (SIGSTOP) as the job ended: a frozen rank
// can be nobody's victim, but once the launcher wakes it to end it, it may report the peers it lost while
// frozen and so appear to follow them. via becomes a rank that followed it (or the first to fail).
func preferStopped(root, via int, stopped map[int]bool, followed map[int]int, exits []exitRecord) (int, int) {
	if len(stopped) == 0 || stopped[root] {
		return root, via
	}
	frozen := -1
	for r := range stopped {
		if frozen < 0 || r < frozen {
			frozen = r
		}
	}
	via = -1
	for _, e := range exits {
		if e.Failed && e.Rank != frozen && (via < 0 || followed[e.Rank] == frozen) {
			via = e.Rank
			if followed[e.Rank] == frozen {
				break
			}
		}
	}
	return frozen, via
}
