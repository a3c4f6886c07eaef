package optimizer_test

import (
	"flag"
	"os"
	"testing"

	"jellybean/plan/optimizer"
)

// TestMain keeps the short tier to Go alone: under -short no test reaches CBC or HiGHS, even on a
// machine that has them (tests that need them skip there), so its results do not depend on the machine.
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Setenv(optimizer.EnvCBC, "0")
		os.Setenv(optimizer.EnvHiGHS, "0")
	}
	os.Exit(m.Run())
}

// needCBC skips under -short; outside it CBC's library must load, as .ci/run installs it.
func needCBC(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs COIN-OR CBC")
	}
	if err := optimizer.CBCAvailable(); err != nil {
		t.Fatal(err)
	}
}

// withEachMILP runs f once per set of MILP solvers the exact solver may find installed: none (our
// search alone, what a machine with Go alone runs), HiGHS alone, and CBC with HiGHS (the full suite
// only). Each run sees only its own solvers (JELLYBEAN_CBC / JELLYBEAN_HIGHS).
func withEachMILP(t *testing.T, f func(t *testing.T)) {
	t.Run("search", func(t *testing.T) {
		t.Setenv(optimizer.EnvCBC, "0")
		t.Setenv(optimizer.EnvHiGHS, "0")
		f(t)
	})
	t.Run("highs", func(t *testing.T) {
		needHiGHS(t)
		t.Setenv(optimizer.EnvCBC, "0")
		f(t)
	})
	t.Run("cbc+highs", func(t *testing.T) {
		needCBC(t)
		needHiGHS(t)
		f(t)
	})
}
