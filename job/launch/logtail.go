package launch

import (
	"bytes"
	"io"
	"os"
	"strings"

	"jellybean/job/exitcode"
)

// tailBytes is how much of a rank's log is read to find its last meaningful line.
const tailBytes = 64 << 10

// LastMeaningfulLine returns the last line of text that explains how a rank ended: not blank, not a
// progress line, not a goroutine dump's noise. Go's panic output ends with stack frames, so for a panic
// the "panic: ..." line is returned instead.
func LastMeaningfulLine(text string) string {
	lines := strings.Split(text, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			return l
		}
	}
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, ProgressPrefix) || strings.HasPrefix(l, exitcode.FollowedPrefix) {
			continue
		}
		return l
	}
	return ""
}

// lastLogLine reads the end of a log file and returns its last meaningful line ("" if none or unreadable).
func lastLogLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > tailBytes {
		_, _ = f.Seek(st.Size()-tailBytes, io.SeekStart)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return ""
	}
	return LastMeaningfulLine(string(bytes.ToValidUTF8(data, []byte("?"))))
}
