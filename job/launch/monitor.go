package launch

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"jellybean/hostfiles"
	"jellybean/job/exitcode"
	"jellybean/job/runid"
)

// followGrace is how long the launcher waits, after a rank exits saying it followed a failed peer, for
// the rank whose own failure started it to exit too (it is still sending its failure report to its
// peers), before stopping every rank. A followed peer that is stopped (SIGSTOP) is not waited for.
const followGrace = 2 * time.Second

// supervise starts every rank and waits for all of them. The first rank to fail on its own (or a signal)
// makes it stop the others; a rank that only followed a failed peer is given followGrace for the cause
// to show itself. It returns the failure that started the end of the job (see blame).
func supervise(cfg Config, job Job, dir string, slots []hostfiles.Slot) (*RankFailure, error) {
	exits := make(chan rankExit, len(slots))
	disp := newDisplay(cfg)
	// The launcher holds the run's lock: the rank that writes results must not take it again.
	env := append(rankEnv(), runid.HeldEnv+"="+strconv.Itoa(os.Getpid()))

	var followMu sync.Mutex
	followed := map[int]int{} // rank → the peer it says it followed (its exitcode.FollowedLine)
	procs := make([]*rankProc, 0, len(slots))
	for _, s := range slots {
		var inv Invocation
		if IsLocalHost(s.Host, cfg.Hostname) {
			inv = LocalInvocation(job, s.Rank, s.Host)
		} else {
			inv = SSHInvocation(job, s.Rank, s.Host, cfg.SSH)
		}
		logPath := filepath.Join(dir, RanksDir, strconv.Itoa(s.Rank)+".log")
		if job.Resume {
			appendMarker(logPath)
		}
		rank := s.Rank
		onLine := func(line string) {
			if peer, ok := exitcode.ParseFollowed(line); ok {
				followMu.Lock()
				followed[rank] = peer
				followMu.Unlock()
				return
			}
			disp.line(line)
		}
		procs = append(procs, startRank(inv, logPath, job.Secret, env, onLine, exits))
	}
	byRank := map[int]*rankProc{}
	for _, p := range procs {
		byRank[p.inv.Rank] = p
	}

	var (
		stopping    bool
		records     []exitRecord // failures and successes, in the order they arrived
		exited      = map[int]rankExit{}
		wasStopped  = map[int]bool{} // ranks seen stopped (state T) when the job was ended
		interrupted *Interrupted
		graceUp     <-chan time.Time
	)
	stopAll := func() {
		if stopping {
			return
		}
		stopping = true
		for _, p := range procs {
			if !p.inv.Remote && p.cmd != nil && procState(p.cmd.Process.Pid) == 'T' {
				wasStopped[p.inv.Rank] = true
			}
			p.stop(cfg.Grace)
		}
	}
	tick := time.NewTicker(disp.tickEvery())
	defer tick.Stop()
	for running := len(procs); running > 0; {
		select {
		case e := <-exits:
			running--
			rec := exitRecord{Rank: e.proc.inv.Rank, Failed: e.failed()}
			if rec.Failed {
				rec.Provoked = e.provoked()
				rec.Signaled = killedBySignal(e)
				rec.Followed = exitStatus(e) == exitcode.PeerFailed
			}
			records = append(records, rec)
			exited[rec.Rank] = e
			switch {
			case !rec.Failed || stopping:
			case rec.Followed:
				// Wait a little for the peer it followed to fail on its own, unless that peer is
				// stopped (SIGSTOP) and never will.
				followMu.Lock()
				peer, known := followed[rec.Rank]
				followMu.Unlock()
				p := byRank[peer]
				if known && p != nil && !p.inv.Remote && p.cmd != nil && procState(p.cmd.Process.Pid) == 'T' {
					stopAll()
				} else if graceUp == nil {
					graceUp = time.After(followGrace)
				}
			default:
				stopAll()
			}
		case <-graceUp:
			stopAll()
		case sig := <-cfg.Signals:
			if interrupted == nil {
				interrupted = &Interrupted{Signal: sig, Ranks: running}
				disp.message(fmt.Sprintf("jellybean launch: %v: stopping %d rank(s)", sig, running))
			}
			stopAll()
		case <-tick.C:
			disp.refresh(false)
		}
	}
	disp.refresh(true)
	disp.finish()

	if interrupted != nil {
		return nil, interrupted
	}
	followMu.Lock()
	root, via, ok := blame(records, followed)
	if ok {
		root, via = preferStopped(root, via, wasStopped, followed, records)
	}
	followMu.Unlock()
	if !ok {
		return nil, nil
	}
	e := exited[root]
	f := describeExit(e)
	f.LastLine = lastLogLine(e.proc.logPath)
	f.Log = rankPath(cfg.Root, f.Log)
	if via >= 0 {
		// The rank did not fail itself: its peers lost it (it hung, or was stopped) and the launcher
		// ended it. Its own last line is only the launcher's stop; what its follower saw explains it.
		switch {
		case !e.failed():
			f.Cause = "exited (status 0) while its peers still expected it"
		default:
			f.Cause = "stopped responding: its peers lost contact with it"
			if wasStopped[root] {
				f.Cause += " (the process was stopped, e.g. by SIGSTOP)"
			}
			f.Cause += "; ended by the launcher"
		}
		f.LastLine = ""
		f.Reported = fmt.Sprintf("rank %d reported: %s", via, lastLogLine(exited[via].proc.logPath))
		f.Code = 1
	}
	return f, nil
}

// exitStatus is a rank's exit status, or -1 when it was killed by a signal or never started.
func exitStatus(e rankExit) int {
	if e.state == nil {
		return -1
	}
	return e.state.ExitCode()
}

// procState is the state letter of a local process from /proc/<pid>/stat ('R', 'S', 'T' for stopped,
// ...), or 0 when unknown.
func procState(pid int) byte {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(data, ')') // the command name may hold spaces and parentheses
	if i < 0 || i+2 >= len(data) {
		return 0
	}
	return data[i+2]
}

func killedBySignal(e rankExit) bool {
	if e.state == nil {
		return false
	}
	ws, ok := e.state.Sys().(interface{ Signaled() bool })
	return ok && ws.Signaled()
}

// appendMarker separates a resumed run's output from the earlier attempt's in the same log.
func appendMarker(logPath string) {
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	fmt.Fprintf(f, "jellybean launch: ---- resumed at %s ----\n", time.Now().UTC().Format(time.RFC3339))
	f.Close()
}

// display shows progress on the launcher's stderr: one redrawn line on a terminal, a line every
// ProgressInterval otherwise (logs of batch jobs stay readable).
type display struct {
	cfg Config

	mu       sync.Mutex
	progress Progress
	changed  bool
	lastOut  time.Time
	drawn    bool // a progress line is on the terminal and must be cleared before other text
}

func newDisplay(cfg Config) *display { return &display{cfg: cfg, lastOut: time.Now()} }

func (d *display) tickEvery() time.Duration {
	if d.cfg.ErrIsTerminal {
		return 250 * time.Millisecond
	}
	return min(d.cfg.ProgressInterval, time.Second)
}

// line receives every stdout line of every rank (from the copier goroutines).
func (d *display) line(s string) {
	if msg, ok := strings.CutPrefix(strings.TrimRight(s, "\r\n"), SayPrefix); ok {
		d.message(msg)
		return
	}
	r, ok := ParseProgress(s)
	if !ok {
		return
	}
	d.mu.Lock()
	d.progress.Update(r, time.Now())
	d.changed = true
	d.mu.Unlock()
}

// refresh prints the progress if it changed (and, off a terminal, if the interval has passed); final
// forces the last figures out.
func (d *display) refresh(final bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	if !d.changed || !d.progress.Seen() {
		return
	}
	if d.cfg.ErrIsTerminal {
		fmt.Fprintf(d.cfg.Err, "\r\033[Kprogress: %s", d.progress.Line(now))
		d.drawn, d.changed = true, false
		return
	}
	if final || now.Sub(d.lastOut) >= d.cfg.ProgressInterval {
		fmt.Fprintf(d.cfg.Err, "jellybean launch: progress: %s\n", d.progress.Line(now))
		d.lastOut, d.changed = now, false
	}
}

func (d *display) message(s string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.drawn {
		fmt.Fprint(d.cfg.Err, "\n")
		d.drawn = false
	}
	fmt.Fprintln(d.cfg.Err, s)
}

func (d *display) finish() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.drawn {
		fmt.Fprint(d.cfg.Err, "\n")
		d.drawn = false
	}
}
