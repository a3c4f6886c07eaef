//go:build linux

package optimizer

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill the CBC process when its parent dies (prctl PR_SET_PDEATHSIG), so
// no CBC process outlives a command that was itself killed (SIGKILL, the OOM killer, a crash), where our
// own deadline and kill never run. The signal follows the thread that started the child; Go's threads
// end only when a goroutine locked to one ends, which the solver never does.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
