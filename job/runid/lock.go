package runid

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// LockFile is the file in the run directory whose flock marks the run's one writer. It holds the
// holder's PID and host, for the message a second writer gets.
const LockFile = "lock"

// HeldEnv is set in the environment of ranks the launcher starts: the launcher holds the run's lock, so
// the rank that writes results must not take it again (under srun or mpirun, where it is unset, that
// rank takes the lock itself).
const HeldEnv = "JELLYBEAN_RUN_LOCK_HELD"

// LauncherHolds reports whether this process is a rank whose launcher holds the run's lock (HeldEnv is
// set), so that the rank writing results must not take it. Ranks started by srun or mpirun take it.
func LauncherHolds(getenv func(string) string) bool { return getenv(HeldEnv) != "" }

// Lock is a held run lock. The kernel releases it when the holder exits, however it exits.
type Lock struct {
	f *os.File
}

// InUseError says who holds a run's lock.
type InUseError struct {
	Run  string // the run id (the run directory's name)
	PID  int    // 0 when the holder has not written its name yet
	Host string
}

func (e *InUseError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("run ID %s is in use by another process", e.Run)
	}
	return fmt.Sprintf("run ID %s is in use by PID %d on %s", e.Run, e.PID, e.Host)
}

// Acquire takes the lock of run directory dir without waiting: when another process holds it, it
// returns an *InUseError at once. The file descriptor is close-on-exec, so ranks the holder starts do not
// inherit the lock.
func Acquire(dir string) (*Lock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking the run: %w", err)
	}
	if err := flock(f); err != nil {
		f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		return nil, holder(path, filepath.Base(dir))
	}
	host, _ := os.Hostname()
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(fmt.Sprintf("%d %s\n", os.Getpid(), host)), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// holder reads who holds the lock. The holder writes its name just after taking the lock, so an empty
// file is read again briefly before the error says the PID is unknown.
func holder(path, run string) error {
	e := &InUseError{Run: run}
	for i := 0; i < 10; i++ {
		data, _ := os.ReadFile(path)
		pid, host, ok := strings.Cut(strings.TrimSpace(string(data)), " ")
		if n, err := strconv.Atoi(pid); ok && err == nil && n > 0 {
			e.PID, e.Host = n, host
			return e
		}
		time.Sleep(10 * time.Millisecond)
	}
	return e
}

// Release gives the lock up. The file stays: removing it would let a third process lock a new file
// while a second still holds the old one.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	return err
}
