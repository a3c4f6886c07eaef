package launch

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"jellybean/hostfiles"
	"jellybean/job/runid"
)

// supervise starts every rank and waits for all of them. The first rank to fail (or a signal) makes it
// stop the others; it returns the failure that caused the stop.
func supervise(cfg Config, job Job, dir string, slots []hostfiles.Slot) (*RankFailure, error) {
	exits := make(chan rankExit, len(slots))
	disp := newDisplay(cfg)
	// The launcher holds the run's lock: the rank that writes results must not take it again.
	env := append(rankEnv(), runid.HeldEnv+"="+strconv.Itoa(os.Getpid()))

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
		procs = append(procs, startRank(inv, logPath, job.Secret, env, disp.line, exits))
	}

	var (
		stopping    bool
		firstFailed *rankExit // first failure, whatever its cause
		rootCause   *rankExit // first failure the launcher did not provoke; signal kills preferred
		interrupted *Interrupted
	)
	stopAll := func() {
		if stopping {
			return
		}
		stopping = true
		for _, p := range procs {
			p.stop(cfg.Grace)
		}
	}
	tick := time.NewTicker(disp.tickEvery())
	defer tick.Stop()
	for running := len(procs); running > 0; {
		select {
		case e := <-exits:
			running--
			if !e.failed() {
				continue
			}
			if firstFailed == nil {
				firstFailed = &e
			}
			if !e.provoked() && (rootCause == nil || (killedBySignal(e) && !killedBySignal(*rootCause))) {
				rootCause = &e
			}
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
	if rootCause == nil {
		rootCause = firstFailed
	}
	if rootCause == nil {
		return nil, nil
	}
	f := describeExit(*rootCause)
	f.LastLine = lastLogLine(rootCause.proc.logPath)
	f.Log = rankPath(cfg.Root, f.Log)
	return f, nil
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
