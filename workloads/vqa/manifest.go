package vqa

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Object is one shape drawn in a scene; recorded in the manifest so training can use auxiliary targets.
type Object struct {
	Shape string  `json:"shape"`
	Color string  `json:"color"`
	X     float64 `json:"x"` // centre, pixels
	Y     float64 `json:"y"`
	Size  float64 `json:"size"` // radius of the circumscribed circle, pixels
}

// Item is one spoken question about one image, with its ground truth.
type Item struct {
	ID       int64    `json:"id"`
	Image    string   `json:"image"` // path relative to the manifest's directory
	Audio    string   `json:"audio"` // path relative to the manifest's directory
	Question string   `json:"question"`
	Answer   string   `json:"answer"`
	Type     string   `json:"type"`            // question template, e.g. "color", "count_shape"
	Voice    string   `json:"voice,omitempty"` // espeak-ng voice that spoke the question
	Objects  []Object `json:"objects,omitempty"`
}

// Manifest is a dataset split: a JSON Lines file with one Item per line.
type Manifest struct {
	Path  string // the manifest file as given to LoadManifest
	Dir   string // directory that item paths are relative to
	Items []Item // sorted by ID; IDs unique
}

// QuestionTypes lists the question templates in a fixed order (for reports).
var QuestionTypes = []string{"color", "shape", "count_shape", "count_color", "exist"}

// LoadManifest reads and validates a manifest. Errors name the file and line.
func LoadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseManifest(path, data)
}

// ParseManifest is LoadManifest on bytes; name is used for paths and error messages.
func ParseManifest(name string, data []byte) (*Manifest, error) {
	m := &Manifest{Path: name, Dir: filepath.Dir(name)}
	seen := map[int64]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		var it Item
		if err := dec.Decode(&it); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		if err := checkItem(it); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		if prev, dup := seen[it.ID]; dup {
			return nil, fmt.Errorf("%s:%d: duplicate id %d (first on line %d)", name, line, it.ID, prev)
		}
		seen[it.ID] = line
		m.Items = append(m.Items, it)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if len(m.Items) == 0 {
		return nil, fmt.Errorf("%s: no items", name)
	}
	sort.Slice(m.Items, func(i, j int) bool { return m.Items[i].ID < m.Items[j].ID })
	return m, nil
}

func checkItem(it Item) error {
	switch {
	case it.ID < 0:
		return fmt.Errorf("key \"id\": %d is negative", it.ID)
	case it.Image == "":
		return fmt.Errorf("key \"image\": missing")
	case it.Audio == "":
		return fmt.Errorf("key \"audio\": missing")
	case it.Question == "":
		return fmt.Errorf("key \"question\": missing")
	case it.Answer == "":
		return fmt.Errorf("key \"answer\": missing")
	case filepath.IsAbs(it.Image) || strings.HasPrefix(filepath.Clean(it.Image), ".."):
		return fmt.Errorf("key \"image\": %q must be relative and inside the manifest's directory", it.Image)
	case filepath.IsAbs(it.Audio) || strings.HasPrefix(filepath.Clean(it.Audio), ".."):
		return fmt.Errorf("key \"audio\": %q must be relative and inside the manifest's directory", it.Audio)
	}
	return nil
}

// ImagePath is the file of it.Image.
func (m *Manifest) ImagePath(it Item) string { return filepath.Join(m.Dir, it.Image) }

// AudioPath is the file of it.Audio.
func (m *Manifest) AudioPath(it Item) string { return filepath.Join(m.Dir, it.Audio) }

// ByID returns the item with the given id.
func (m *Manifest) ByID(id int64) (Item, bool) {
	i := sort.Search(len(m.Items), func(i int) bool { return m.Items[i].ID >= id })
	if i < len(m.Items) && m.Items[i].ID == id {
		return m.Items[i], true
	}
	return Item{}, false
}
