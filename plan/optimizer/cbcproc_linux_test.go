//go:build linux

package optimizer_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"jellybean/plan/optimizer"
)

// parentEnv, set to 1, makes TestCBCProcessDiesWithParent the parent: it starts a CBC process that would
// run for minutes, prints its PID and waits to be killed.
const parentEnv = "JELLYBEAN_TEST_CBC_PARENT"

// A CBC process dies with its parent: the parent (this test binary started again) is killed with SIGKILL
// while CBC searches 72 distinct hosts / 3 tiers / 56 with no limit of its own (minutes); within 3 s the
// CBC process must be gone (or a zombie). Without the parent-death signal it runs on, and this test then
// kills it itself.
func TestCBCProcessDiesWithParent(t *testing.T) {
	if os.Getenv(parentEnv) == "1" {
		cbcParent(t)
		return
	}
	needCBC(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	parent := exec.Command(exe, "-test.run=^TestCBCProcessDiesWithParent$")
	parent.Env = append(os.Environ(), parentEnv+"=1")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	parent.Stderr = os.Stderr
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = parent.Process.Kill(); _ = parent.Wait() }()
	child := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "cbc-child" {
			child, _ = strconv.Atoi(f[1])
			break
		}
	}
	if child == 0 {
		t.Fatal("the parent named no CBC process")
	}
	_ = parent.Process.Kill()
	_ = parent.Wait()
	deadline := time.Now().Add(3 * time.Second)
	for processAlive(child) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(child, syscall.SIGKILL) // ours (our child's child), named by its PID
			t.Fatalf("CBC process %d still running 3 s after its parent was killed", child)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cbcParent starts a long CBC solve, names its process on stdout once it runs, and waits (it is killed).
func cbcParent(t *testing.T) {
	in := loadMedium(t, true)
	p := distinctFleet(t, in.Problem, 8, 3, 1, 56)
	h, err := p.Heuristic(in.Config)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _, _ = optimizer.SolveCBCUnlimited(context.Background(), p, h) }()
	for range 600 {
		if pid := cbcChildOf(os.Getpid()); pid > 0 {
			fmt.Printf("cbc-child %d\n", pid)
			time.Sleep(time.Minute)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no CBC process started")
}

// cbcChildOf is the PID of a child of ppid running as a CBC process (0: none yet).
func cbcChildOf(ppid int) int {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || procPPID(pid) != ppid {
			continue
		}
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		for _, kv := range strings.Split(string(env), "\x00") {
			if kv == "JELLYBEAN_CBC_PROCESS=1" {
				return pid
			}
		}
	}
	return 0
}

// procStat is the state letter and parent PID of pid from /proc/pid/stat ("", 0 if it is gone).
func procStat(pid int) (string, int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // after the command name: state, ppid, …
	if len(f) < 2 {
		return "", 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return f[0], ppid
}

func procPPID(pid int) int { _, ppid := procStat(pid); return ppid }

// processAlive: pid exists and is not a zombie (a dead child nobody has reaped yet).
func processAlive(pid int) bool {
	state, _ := procStat(pid)
	return state != "" && state != "Z" && state != "X"
}
