package pipeline

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
)

// timingHeader is the first line of timing/<rank>.csv: one row per item this rank handled. Wire bytes
// are estimated from the rank's running wire/raw ratio (exact per-link totals are in summary.json).
const timingHeader = "rank,stage,item,batch,start_unix_ns,end_unix_ns,model_ms,bytes_in_raw,bytes_in_wire,bytes_out_raw,bytes_out_wire\n"

type timingWriter struct {
	f   *os.File
	w   *bufio.Writer
	buf []byte
}

func openTiming(path string) (*timingWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating timing file: %w", err)
	}
	w := bufio.NewWriterSize(f, 64<<10)
	if _, err := w.WriteString(timingHeader); err != nil {
		f.Close()
		return nil, err
	}
	return &timingWriter{f: f, w: w}, nil
}

// write appends one row per item; bytesOut is the raw bytes sent per item.
func (t *timingWriter) write(rank int, stage string, items []Item, bytesOut int, ratio float64) error {
	for _, it := range items {
		b := t.buf[:0]
		b = strconv.AppendInt(b, int64(rank), 10)
		b = append(b, ',')
		b = append(b, stage...)
		b = append(b, ',')
		b = strconv.AppendInt(b, it.ID, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(it.batch), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, it.start, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, it.end, 10)
		b = append(b, ',')
		b = strconv.AppendFloat(b, float64(it.model.Microseconds())/1000, 'f', 3, 64)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(it.bytesIn), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(float64(it.bytesIn)*ratio+0.5), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(bytesOut), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(float64(bytesOut)*ratio+0.5), 10)
		b = append(b, '\n')
		t.buf = b
		if _, err := t.w.Write(b); err != nil {
			return fmt.Errorf("writing %s: %w", t.f.Name(), err)
		}
	}
	return nil
}

// close flushes and closes the file; safe to call twice.
func (t *timingWriter) close() error {
	if t == nil || t.f == nil {
		return nil
	}
	err := t.w.Flush()
	if cerr := t.f.Close(); err == nil {
		err = cerr
	}
	t.f = nil
	return err
}
