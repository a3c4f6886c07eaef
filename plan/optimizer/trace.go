package optimizer

import (
	"fmt"
	"os"
	"time"
)

// tracef reports a phase of a solve on stderr when JELLYBEAN_OPT_TRACE is set (to anything): which
// combinations the LPs kept, what each CBC process returned and when, whether it crashed and was retried.
// The phases of one solve overlap (a race runs two CBC processes), so every line carries the time since
// the program started. Off, it costs a branch.
var tracef = func(string, ...any) {}

func init() {
	if os.Getenv("JELLYBEAN_OPT_TRACE") == "" {
		return
	}
	began := time.Now()
	tracef = func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "optimizer %7.3fs: %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, a...))
	}
}
