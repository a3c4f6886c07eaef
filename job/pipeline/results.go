package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// resultID is what resuming reads of a line of results.jsonl: its item id. A line also holds the sink's
// fields and the variants of the model stages (flow.ResultLine).
type resultID struct {
	ID *int64 `json:"id"`
}

// ReadResults reads results.jsonl for resuming: it truncates a trailing partial line (the write a kill
// interrupted) and returns the ids already done. A malformed complete line is an error naming the line.
// A missing file means nothing is done.
func ReadResults(path string) (map[int64]bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[int64]bool{}, nil
	}
	if err != nil {
		return nil, err
	}
	complete := bytes.LastIndexByte(data, '\n') + 1
	if complete < len(data) {
		if err := os.Truncate(path, int64(complete)); err != nil {
			return nil, fmt.Errorf("truncating the partial last line of %s: %w", path, err)
		}
		data = data[:complete]
	}
	done := map[int64]bool{}
	for line, rest := 1, data; len(rest) > 0; line++ {
		i := bytes.IndexByte(rest, '\n')
		var r resultID
		if err := json.Unmarshal(rest[:i], &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, line, err)
		}
		if r.ID == nil {
			return nil, fmt.Errorf("%s:%d: no \"id\"", path, line)
		}
		if done[*r.ID] {
			return nil, fmt.Errorf("%s:%d: item %d appears twice", path, line, *r.ID)
		}
		done[*r.ID] = true
		rest = rest[i+1:]
	}
	return done, nil
}

// resultsWriter appends result lines durably: each group of lines goes out in one write followed by
// fsync, so a killed job leaves complete lines (and at most one partial line, which resume truncates).
type resultsWriter struct {
	f    *os.File
	buf  []byte
	seen map[int64]bool
}

func openResults(path string, done map[int64]bool) (*resultsWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	seen := make(map[int64]bool, len(done))
	for id := range done {
		seen[id] = true
	}
	return &resultsWriter{f: f, seen: seen}, nil
}

func (w *resultsWriter) write(ids []int64, lines [][]byte) error {
	w.buf = w.buf[:0]
	for i, id := range ids {
		if w.seen[id] {
			return fmt.Errorf("item %d reached the sink twice", id)
		}
		w.seen[id] = true
		w.buf = append(append(w.buf, lines[i]...), '\n')
	}
	if _, err := w.f.Write(w.buf); err != nil {
		return fmt.Errorf("writing %s: %w", w.f.Name(), err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", w.f.Name(), err)
	}
	return nil
}

func (w *resultsWriter) count() int { return len(w.seen) }

func (w *resultsWriter) close() error {
	if w == nil {
		return nil
	}
	return w.f.Close()
}
