//go:build cgo && linux

package coin

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sigintChildEnv makes the test binary a child of TestCLPLeavesCtrlCToGo: it solves an LP (quietly, or
// with CLP's own Ctrl-C handling when the value is "loud"), then interrupts itself and must receive it.
const sigintChildEnv = "JELLYBEAN_TEST_CLP_SIGINT"

// A Go program keeps its Ctrl-C after an in-process CLP solve: InitialSolveQuiet leaves the SIGINT handler
// alone. Plain InitialSolve (CLP's own handling) puts Go's handler back without the flags Go needs, and
// the next Ctrl-C crashes the program — the child run that way must fail, or this test could not.
func TestCLPLeavesCtrlCToGo(t *testing.T) {
	if mode := os.Getenv(sigintChildEnv); mode != "" {
		sigintChild(t, mode == "loud")
		return
	}
	needLibrary(t)
	for _, mode := range []string{"quiet", "loud"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCLPLeavesCtrlCToGo$", "-test.v")
		cmd.Env = append(os.Environ(), sigintChildEnv+"="+mode)
		out, err := cmd.CombinedOutput()
		got := strings.Contains(string(out), "child: got SIGINT") && err == nil
		if want := mode == "quiet"; got != want {
			t.Errorf("%s: child received its Ctrl-C: %v, want %v (err %v)\n%s", mode, got, want, err, out)
		}
	}
}

func sigintChild(t *testing.T, loud bool) {
	if err := Load(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt)
	lp, err := NewLP(knapsack())
	if err != nil {
		t.Fatal(err)
	}
	lp.SetLogLevel(0)
	if loud {
		lp.InitialSolve()
	} else {
		lp.InitialSolveQuiet()
	}
	lp.Close()
	// To this very thread, running Go code on a goroutine's stack: where a handler without SA_ONSTACK
	// runs on that stack, which Go's runtime refuses (a signal sent to the process may land on an idle
	// thread instead and pass).
	runtime.LockOSThread()
	if err := syscall.Tgkill(os.Getpid(), syscall.Gettid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	runtime.UnlockOSThread()
	select {
	case <-ch:
		fmt.Println("child: got SIGINT")
	case <-time.After(5 * time.Second):
		t.Fatal("no SIGINT within 5 s")
	}
}
