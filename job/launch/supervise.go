package launch

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"
)

// rankProc is one started rank: a local `jellybean run` or the ssh client that carries a remote one.
type rankProc struct {
	inv      Invocation
	logPath  string
	cmd      *exec.Cmd
	lifeline *os.File // write end of an ssh rank's stdin; closing it tells the remote rank to exit

	mu       sync.Mutex
	stopping bool                    // the launcher asked this rank to stop
	sent     map[syscall.Signal]bool // signals the launcher sent, to tell them from outside kills
	exited   bool
	timers   []*time.Timer
}

// rankExit is what the supervisor learns when a rank's process ends.
type rankExit struct {
	proc  *rankProc
	state *os.ProcessState // nil when the process could not be started
	err   error            // start or wait error
	at    time.Time
}

// failed reports whether the exit is a failure (anything but status 0).
func (e rankExit) failed() bool { return e.state == nil || !e.state.Success() }

// provoked reports whether the launcher caused this exit by stopping the rank. A rank killed by a
// signal the launcher never sent (kill -9 from outside, the OOM killer) was not provoked even if the
// launcher had started stopping it, so that it is still reported as the cause.
func (e rankExit) provoked() bool {
	p := e.proc
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopping {
		return false
	}
	if e.state != nil {
		if ws, ok := e.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() && !p.sent[ws.Signal()] {
			return false
		}
	}
	return true
}

// startRank starts inv with its output appended to logPath. Lines on the rank's stdout are copied to
// the log and offered to onLine (progress). The exit is reported on exits exactly once, also when the
// process cannot be started.
func startRank(inv Invocation, logPath, secret string, env []string, onLine func(string), exits chan<- rankExit) *rankProc {
	p := &rankProc{inv: inv, logPath: logPath, sent: map[syscall.Signal]bool{}}
	fail := func(err error) *rankProc {
		p.exited = true
		appendLog(logPath, "jellybean launch: could not start rank %d: %v\n", inv.Rank, err)
		go func() { exits <- rankExit{proc: p, err: err, at: time.Now()} }()
		return p
	}

	outR, outW, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	cmd := exec.Command(inv.Path, inv.Args...)
	cmd.Dir = inv.Dir
	cmd.Env = slices.Concat(env, inv.Env)
	// stdout and stderr share one pipe, so the log keeps the order the rank wrote them in: the failure
	// report quotes the last line, and a final error on stderr must not be overtaken by earlier stdout.
	cmd.Stdout = outW
	cmd.Stderr = outW
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // the terminal's Ctrl-C goes to the launcher, which stops ranks in order
		Pdeathsig: syscall.SIGTERM, // a launcher killed outright still takes its local ranks with it
	}
	var inR *os.File
	if inv.Remote {
		if inR, p.lifeline, err = os.Pipe(); err != nil {
			outR.Close()
			outW.Close()
			return fail(err)
		}
		cmd.Stdin = inR
	}
	err = cmd.Start()
	outW.Close()
	if inR != nil {
		inR.Close()
	}
	if err != nil {
		outR.Close()
		if p.lifeline != nil {
			p.lifeline.Close()
		}
		return fail(err)
	}
	p.cmd = cmd
	if p.lifeline != nil {
		// A 65-byte line fits the pipe buffer, so this cannot block on a slow ssh start.
		if _, err := io.WriteString(p.lifeline, secret+"\n"); err != nil {
			appendLog(logPath, "jellybean launch: writing the secret to rank %d's stdin: %v\n", inv.Rank, err)
		}
	}

	copied := make(chan struct{})
	go func() {
		defer close(copied)
		defer outR.Close()
		copyLines(outR, logPath, onLine)
	}()
	go func() {
		werr := cmd.Wait()
		state := cmd.ProcessState
		// Let the copier drain what the rank printed last, so the failure report can quote it; a
		// grandchild holding the pipe open must not delay the report for long.
		select {
		case <-copied:
		case <-time.After(2 * time.Second):
		}
		p.mu.Lock()
		p.exited = true
		for _, t := range p.timers {
			t.Stop()
		}
		if p.lifeline != nil {
			p.lifeline.Close()
		}
		p.mu.Unlock()
		exits <- rankExit{proc: p, state: state, err: werr, at: time.Now()}
	}()
	return p
}

// appendLog adds the launcher's own note to a rank's log.
func appendLog(logPath, format string, a ...any) {
	if f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
		fmt.Fprintf(f, format, a...)
		f.Close()
	}
}

// copyLines copies a rank's stdout into its log line by line, handing each line to onLine.
func copyLines(r io.Reader, logPath string, onLine func(string)) {
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		_, _ = io.Copy(io.Discard, r) // keep the pipe drained so the rank never blocks on stdout
		return
	}
	defer f.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			_, _ = f.WriteString(line)
			if onLine != nil {
				onLine(line)
			}
		}
		if err != nil {
			return
		}
	}
}

// stop asks the rank to end: SIGTERM for a local rank; for an ssh rank the lifeline is closed (the
// remote rank exits on EOF and ssh with it), then the ssh client gets SIGTERM. Whatever is still running
// after grace gets SIGKILL. Only this launcher's own child processes are ever signalled.
func (p *rankProc) stop(grace time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited || p.stopping || p.cmd == nil {
		return
	}
	p.stopping = true
	if p.lifeline != nil {
		p.lifeline.Close()
		p.timers = append(p.timers, time.AfterFunc(grace/2, func() { p.signal(syscall.SIGTERM) }))
	} else {
		p.signalLocked(syscall.SIGTERM)
		// A stopped rank (SIGSTOP, a debugger's pause) would hold SIGTERM pending until SIGKILL: let
		// it run again so that it stops cleanly now.
		p.signalLocked(syscall.SIGCONT)
	}
	p.timers = append(p.timers, time.AfterFunc(grace, func() { p.signal(syscall.SIGKILL) }))
}

func (p *rankProc) signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.signalLocked(sig)
}

func (p *rankProc) signalLocked(sig syscall.Signal) {
	if p.exited {
		return
	}
	// os.Process signals through a pidfd, so a reaped rank's recycled PID can never be hit.
	if err := p.cmd.Process.Signal(sig); err == nil || !errors.Is(err, os.ErrProcessDone) {
		p.sent[sig] = true
	}
}
