package launch

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestDisplayOnTerminalRedrawsOneLine(t *testing.T) {
	var out bytes.Buffer
	d := newDisplay(Config{Err: &out, ErrIsTerminal: true, ProgressInterval: time.Hour})
	d.refresh(false) // nothing yet: nothing printed
	d.line(`jellybean-progress {"done":1,"total":4}` + "\n")
	d.refresh(false)
	d.refresh(false) // unchanged: not redrawn
	d.line(`jellybean-progress {"done":2,"total":4}` + "\n")
	d.line("an ordinary log line\n")
	d.refresh(false)
	d.message("jellybean launch: something happened")
	d.finish()
	want := "\r\033[Kprogress: 1/4 items (25%)" +
		"\r\033[Kprogress: 2/4 items (50%)"
	got := out.String()
	if !strings.HasPrefix(got, want) {
		t.Fatalf("got %q, want prefix %q", got, want)
	}
	// A message first ends the progress line, so that it is not overwritten.
	if rest := got[len(want):]; !strings.HasPrefix(rest, ", ") && !strings.HasPrefix(rest, "\n") {
		t.Errorf("message does not start on a new line: %q", rest)
	}
	if !strings.HasSuffix(got, "\njellybean launch: something happened\n") {
		t.Errorf("got %q", got)
	}
}

func TestDisplayOffTerminalPrintsPeriodicLines(t *testing.T) {
	var out bytes.Buffer
	d := newDisplay(Config{Err: &out, ProgressInterval: time.Hour})
	d.line(`jellybean-progress {"done":1,"total":4}`)
	d.refresh(false) // interval not over: quiet
	if out.Len() != 0 {
		t.Fatalf("printed before the interval: %q", out.String())
	}
	d.line(`jellybean-progress {"done":4,"total":4}`)
	d.refresh(true) // the end of the job always shows the final figures
	if got := out.String(); !strings.HasPrefix(got, "jellybean launch: progress: 4/4 items (100%)") || strings.Count(got, "\n") != 1 {
		t.Errorf("got %q", got)
	}
}

// TestDisplayShowsSayLines: a rank's `jellybean-say` lines are shown as they are (without the prefix);
// its other lines stay in its log only.
func TestDisplayShowsSayLines(t *testing.T) {
	var out bytes.Buffer
	d := newDisplay(Config{Err: &out, ProgressInterval: time.Hour})
	d.line(SayPrefix + "rank 1 (n2): measuring\n")
	d.line("rank 1 log detail\n")
	d.line("jellybean-sayrank 1: no space, not a say line\n")
	if got, want := out.String(), "rank 1 (n2): measuring\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
