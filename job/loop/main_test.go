package loop

import (
	"flag"
	"os"
	"testing"

	"jellybean/plan/optimizer"
)

// TestMain keeps the short tier to Go alone: under -short the optimizer runs without CBC, CLP and HiGHS
// even on a machine that has them, so its results do not depend on the machine.
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Setenv(optimizer.EnvCBC, "0")
		os.Setenv(optimizer.EnvHiGHS, "0")
	}
	os.Exit(m.Run())
}
