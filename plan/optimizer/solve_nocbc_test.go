//go:build !cbc

package optimizer_test

import (
	"strings"
	"testing"
	"time"

	"jellybean/plan/optimizer"
)

// A build without the cbc tag says how to get the CBC baseline instead of failing obscurely.
func TestCBCNeedsTag(t *testing.T) {
	in := loadMedium(t, true)
	_, err := optimizer.Solve(in.Problem, in.Config, "cbc", time.Second)
	if err == nil || !strings.Contains(err.Error(), "-tags cbc") {
		t.Fatalf("err = %v, want a hint at -tags cbc", err)
	}
}
