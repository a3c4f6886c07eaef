package dataset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerateWritesPagesAndManifest(t *testing.T) {
	dir := t.TempDir()
	if err := Generate(dir, 3, TestSeed); err != nil {
		t.Fatal(err)
	}
	pages := readManifest(t, filepath.Join(dir, ManifestName))
	if len(pages) != 3 {
		t.Fatalf("%d manifest lines, want 3", len(pages))
	}
	kinds := map[string]bool{}
	for i, p := range pages {
		if p.ID != int64(i) {
			t.Errorf("line %d has id %d", i, p.ID)
		}
		kinds[p.Kind] = true
		if _, err := os.Stat(filepath.Join(dir, p.Image)); err != nil {
			t.Errorf("page %d: %v", i, err)
		}
		if len(p.Lines) < 5 {
			t.Errorf("page %d (%s) has only %d lines", i, p.Kind, len(p.Lines))
		}
		for _, l := range p.Lines {
			b := l.Box
			if strings.TrimSpace(l.Text) != l.Text || l.Text == "" {
				t.Errorf("page %d: line text %q has outer spaces or is empty", i, l.Text)
			}
			if b[0] < 0 || b[1] < 0 || b[2] > p.Width || b[3] > p.Height || b[2] <= b[0] || b[3] <= b[1] {
				t.Errorf("page %d: line %q box %v outside the %dx%d page", i, l.Text, b, p.Width, p.Height)
			}
			// a box holds a line of text: wider than tall, and about as tall as the font size
			if h := float64(b[3] - b[1]); h > 2.2*l.Size+0.03*float64(b[2]-b[0]) {
				t.Errorf("page %d: line %q box %v too tall for %.1f px text", i, l.Text, b, l.Size)
			}
		}
	}
	if len(kinds) != 3 {
		t.Errorf("kinds %v, want receipt, form and paragraphs", kinds)
	}
}

func TestGenerateIsDeterministicBySeed(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	for _, d := range []struct {
		dir  string
		seed int64
	}{{a, 5}, {b, 5}, {c, 6}} {
		if err := Generate(d.dir, 1, d.seed); err != nil {
			t.Fatal(err)
		}
	}
	same := func(x, y string) bool {
		bx, _ := os.ReadFile(x)
		by, _ := os.ReadFile(y)
		return len(bx) > 0 && bytes.Equal(bx, by)
	}
	for _, f := range []string{ManifestName, "pages/000000.png"} {
		if !same(filepath.Join(a, f), filepath.Join(b, f)) {
			t.Errorf("%s differs between two runs with seed 5", f)
		}
		if same(filepath.Join(a, f), filepath.Join(c, f)) {
			t.Errorf("%s is the same for seeds 5 and 6", f)
		}
	}
}

func TestGenerateBoundsN(t *testing.T) {
	for _, n := range []int{0, -1, MaxPages + 1} {
		if err := Generate(t.TempDir(), n, 1); err == nil {
			t.Errorf("n=%d accepted", n)
		}
	}
}

func readManifest(t *testing.T, path string) []Page {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pages []Page
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var p Page
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		pages = append(pages, p)
	}
	return pages
}

// Dense pages hold many times a normal page's lines, each a full row of small print inside the page.
func TestGenerateDense(t *testing.T) {
	dir := t.TempDir()
	if err := GenerateDense(dir, 2, TestSeed); err != nil {
		t.Fatal(err)
	}
	pages := readManifest(t, filepath.Join(dir, ManifestName))
	if len(pages) != 2 {
		t.Fatalf("%d manifest lines, want 2", len(pages))
	}
	for i, p := range pages {
		if p.Kind != "dense" || len(p.Lines) < 50 {
			t.Errorf("page %d: kind %q with %d lines, want dense with >= 50", i, p.Kind, len(p.Lines))
		}
		for _, l := range p.Lines {
			if b := l.Box; b[0] < 0 || b[1] < 0 || b[2] > p.Width || b[3] > p.Height || b[2]-b[0] < p.Width/2 {
				t.Errorf("page %d: line %q box %v: want a row of at least half the %d-pixel page", i, l.Text, b, p.Width)
			}
		}
	}
	// Normal pages are unchanged by the dense kind's existence: page 0 of the test seed is still a receipt.
	if p, _, err := MakePage(TestSeed, 0); err != nil || p.Kind != "receipt" {
		t.Fatalf("page 0: %q, %v", p.Kind, err)
	}
}
