package launch

import (
	"fmt"
	"os"
	"syscall"
)

// RankFailure is the launcher's error when a rank ends badly: which rank, on which host, how it ended
// and the last thing it said. Its ExitCode is what `jellybean launch` exits with, like mpirun.
type RankFailure struct {
	Rank     int
	Host     string
	Cause    string // "exit status 3", "killed by signal 9 (killed)", "could not start: ..."
	LastLine string // last meaningful line of the rank's log
	Log      string // path of the rank's log
	Code     int
}

func (f *RankFailure) Error() string {
	s := fmt.Sprintf("rank %d (host %s) failed: %s", f.Rank, f.Host, f.Cause)
	if f.LastLine != "" {
		s += "; last log line: " + f.LastLine
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
			f.Cause = fmt.Sprintf("exit status %d", ws.ExitStatus())
			if c := ws.ExitStatus(); c > 0 && c < 126 {
				f.Code = c
			}
		}
	}
	return f
}
