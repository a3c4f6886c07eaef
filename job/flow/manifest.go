package flow

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Manifest is a dataset: a JSON Lines file with one object per item, each with a unique integer "id"
// and whatever fields the workflow's sources read (file names relative to the manifest's directory).
type Manifest struct {
	Path    string
	IDs     []int64 // sorted
	records map[int64]*Record
}

// LoadManifest reads a manifest; errors name the file and line.
func LoadManifest(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := &Manifest{Path: path, records: map[int64]*Record{}}
	dir := filepath.Dir(path)
	lines := map[int64]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(text, &fields); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, line, err)
		}
		var id int64
		raw, ok := fields["id"]
		if !ok {
			return nil, fmt.Errorf("%s:%d: no \"id\"", path, line)
		}
		if err := json.Unmarshal(raw, &id); err != nil {
			return nil, fmt.Errorf("%s:%d: id: want an integer: %v", path, line, err)
		}
		if prev, dup := lines[id]; dup {
			return nil, fmt.Errorf("%s:%d: duplicate id %d (first on line %d)", path, line, id, prev)
		}
		lines[id] = line
		m.records[id] = &Record{Dir: dir, Fields: fields}
		m.IDs = append(m.IDs, id)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sort.Slice(m.IDs, func(a, b int) bool { return m.IDs[a] < m.IDs[b] })
	return m, nil
}

// Record returns the item's manifest line.
func (m *Manifest) Record(id int64) (*Record, bool) {
	r, ok := m.records[id]
	return r, ok
}

// CheckFields reports the first item that lacks one of the fields (the fields a source reads).
func (m *Manifest) CheckFields(fields []string) error {
	for _, id := range m.IDs {
		for _, f := range fields {
			if _, ok := m.records[id].Fields[f]; !ok {
				return fmt.Errorf("%s: item %d has no field %q", m.Path, id, f)
			}
		}
	}
	return nil
}
