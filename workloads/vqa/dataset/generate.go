package dataset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"jellybean/workloads/vqa"
)

// Version changes whenever generation changes what a seed produces; a split made by another version is
// regenerated.
const Version = 1

// Splits and their default sizes. The default job evaluates the test split.
var (
	Splits      = []string{"train", "val", "test"}
	DefaultSize = map[string]int{"train": 8000, "val": 500, "test": 400}
	splitSalt   = map[string]uint64{"train": 1, "val": 2, "test": 3}
)

// MaxItems bounds a split: item files are numbered with six digits, and a million items already take
// about 75 GB and hours to synthesise.
const MaxItems = 1_000_000

// Spec says which split to generate.
type Spec struct {
	Out   string // parent directory; the split goes to Out/<split>/
	Split string
	N     int
	Seed  uint64
}

// Params is written next to the manifest (dataset.json) to recognise a complete, matching split.
type Params struct {
	Version int    `json:"version"`
	Split   string `json:"split"`
	N       int    `json:"n"`
	Seed    uint64 `json:"seed"`
}

// ManifestPath is where spec's manifest is written.
func (s Spec) ManifestPath() string { return filepath.Join(s.Out, s.Split, "manifest.jsonl") }

// Complete reports whether spec's split already exists with the same parameters and all its items.
func Complete(s Spec) bool {
	dir := filepath.Join(s.Out, s.Split)
	b, err := os.ReadFile(filepath.Join(dir, "dataset.json"))
	if err != nil {
		return false
	}
	var p Params
	if json.Unmarshal(b, &p) != nil || p != s.params() {
		return false
	}
	m, err := vqa.LoadManifest(s.ManifestPath())
	if err != nil || len(m.Items) != s.N {
		return false
	}
	for _, it := range m.Items {
		if _, err := os.Stat(m.ImagePath(it)); err != nil {
			return false
		}
		if _, err := os.Stat(m.AudioPath(it)); err != nil {
			return false
		}
	}
	return true
}

func (s Spec) params() Params { return Params{Version, s.Split, s.N, s.Seed} }

// MakeItem builds item i of a split (picture, question, voice) from its own random stream, so items are
// independent of each other and of the split size.
func MakeItem(split string, seed uint64, i int) (vqa.Item, Scene, Voice, *rand.Rand) {
	rng := rand.New(rand.NewPCG(seed*16+splitSalt[split], uint64(i)))
	scene := RandomScene(rng)
	q := Ask(scene, rng)
	voice := RandomVoice(rng, split != "train")
	it := vqa.Item{
		ID:       int64(i),
		Image:    fmt.Sprintf("images/%06d.png", i),
		Audio:    fmt.Sprintf("audio/%06d.wav", i),
		Question: q.Text,
		Answer:   q.Answer,
		Type:     q.Type,
		Voice:    fmt.Sprintf("%s -s %d -p %d", voice.Name, voice.Speed, voice.Pitch),
		Objects:  scene.Objects,
	}
	return it, scene, voice, rng
}

// Generate writes spec's split: images/, audio/, manifest.jsonl and dataset.json under Out/<split>/.
// The manifest is renamed into place last, so an interrupted run never leaves a complete-looking split.
// Progress goes to progress (may be nil).
func Generate(spec Spec, progress io.Writer) error {
	if _, ok := splitSalt[spec.Split]; !ok {
		return fmt.Errorf("unknown split %q (want train, val or test)", spec.Split)
	}
	if spec.N <= 0 || spec.N > MaxItems {
		return fmt.Errorf("split %s: -n %d: want 1 to %d items", spec.Split, spec.N, MaxItems)
	}
	if err := EnsureTools(); err != nil {
		return err
	}
	dir := filepath.Join(spec.Out, spec.Split)
	for _, sub := range []string{"images", "audio"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
	}
	os.Remove(filepath.Join(dir, "dataset.json"))

	tmp := spec.ManifestPath() + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := generateItems(dir, spec, f, progress); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("split %s: %w", spec.Split, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, spec.ManifestPath()); err != nil {
		return err
	}
	pb, _ := json.MarshalIndent(spec.params(), "", "  ")
	return os.WriteFile(filepath.Join(dir, "dataset.json"), append(pb, '\n'), 0o644)
}

// generateItems writes the split's items with one worker per CPU and their manifest lines, in id order,
// to manifest. Memory stays bounded whatever the split's size: at most a window of items is in flight,
// and a finished item waits only for the earlier ones of that window before its line is written.
func generateItems(dir string, spec Spec, manifest io.Writer, progress io.Writer) error {
	workers := runtime.NumCPU()
	window := 4 * workers
	type made struct {
		i   int
		it  vqa.Item
		err error
	}
	jobs := make(chan int)
	results := make(chan made, window) // never full: at most window jobs are handed out
	tokens := make(chan struct{}, window)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				it, err := writeItem(dir, spec, i)
				results <- made{i, it, err}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i := 0; i < spec.N; i++ {
			select {
			case tokens <- struct{}{}:
			case <-stop:
				return
			}
			select {
			case jobs <- i:
			case <-stop:
				return
			}
		}
	}()
	finish := func(err error) error {
		close(stop)
		wg.Wait()
		return err
	}

	out := bufio.NewWriterSize(manifest, 1<<20)
	enc := json.NewEncoder(out)
	pending := map[int]vqa.Item{}
	start := time.Now()
	for next := 0; next < spec.N; {
		r := <-results
		if r.err != nil {
			return finish(r.err)
		}
		pending[r.i] = r.it
		for it, ok := pending[next]; ok; it, ok = pending[next] {
			if err := enc.Encode(it); err != nil {
				return finish(err)
			}
			delete(pending, next)
			next++
			<-tokens
			if progress != nil && (next%200 == 0 || next == spec.N) {
				fmt.Fprintf(progress, "gen-data: %s %d/%d items (%.0fs)\n", spec.Split, next, spec.N, time.Since(start).Seconds())
			}
		}
	}
	if err := out.Flush(); err != nil {
		return finish(err)
	}
	return finish(nil)
}

func writeItem(dir string, spec Spec, i int) (vqa.Item, error) {
	it, scene, voice, rng := MakeItem(spec.Split, spec.Seed, i)
	var img bytes.Buffer
	if err := png.Encode(&img, Render(scene, rng)); err != nil {
		return it, err
	}
	if err := os.WriteFile(filepath.Join(dir, it.Image), img.Bytes(), 0o644); err != nil {
		return it, err
	}
	wav, err := Speak(it.Question, voice, rng)
	if err != nil {
		return it, fmt.Errorf("item %d: %w", i, err)
	}
	return it, os.WriteFile(filepath.Join(dir, it.Audio), wav, 0o644)
}
