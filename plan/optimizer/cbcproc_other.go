//go:build !linux

package optimizer

import "os/exec"

// dieWithParent: only Linux can tie a child's life to its parent's; elsewhere a CBC process left behind
// by a killed command ends at its own time limit.
func dieWithParent(*exec.Cmd) {}
