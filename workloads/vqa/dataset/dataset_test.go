package dataset

import (
	"bytes"
	"image/png"
	"jellybean/workloads/transforms"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"jellybean/workloads/vqa"
)

// answerFromObjects recomputes a question's answer from the scene's objects, independently of Ask.
func answerFromObjects(t *testing.T, q Question, objs []vqa.Object) string {
	t.Helper()
	w := strings.Fields(q.Text)
	count := func(match func(o vqa.Object) bool) int {
		n := 0
		for _, o := range objs {
			if match(o) {
				n++
			}
		}
		return n
	}
	num := vqa.TheVocab().Numbers
	switch q.Type {
	case "color": // what color is the SHAPE
		if count(func(o vqa.Object) bool { return o.Shape == w[4] }) != 1 {
			t.Fatalf("%q asked but there is not exactly one %s", q.Text, w[4])
		}
		for _, o := range objs {
			if o.Shape == w[4] {
				return o.Color
			}
		}
	case "shape": // what shape is the COLOR object
		if count(func(o vqa.Object) bool { return o.Color == w[4] }) != 1 {
			t.Fatalf("%q asked but there is not exactly one %s object", q.Text, w[4])
		}
		for _, o := range objs {
			if o.Color == w[4] {
				return o.Shape
			}
		}
	case "count_shape": // how many SHAPEs are there
		return num[count(func(o vqa.Object) bool { return o.Shape+"s" == w[2] })]
	case "count_color": // how many COLOR objects are there
		return num[count(func(o vqa.Object) bool { return o.Color == w[2] })]
	case "exist": // is there a COLOR SHAPE
		if count(func(o vqa.Object) bool { return o.Color == w[3] && o.Shape == w[4] }) > 0 {
			return "yes"
		}
		return "no"
	}
	t.Fatalf("unknown question type %q", q.Type)
	return ""
}

func TestQuestionsAreAnsweredCorrectly(t *testing.T) {
	types := map[string]int{}
	answers := map[string]int{}
	for i := 0; i < 3000; i++ {
		rng := rand.New(rand.NewPCG(42, uint64(i)))
		s := RandomScene(rng)
		if len(s.Objects) < minObjects || len(s.Objects) > maxObjects {
			t.Fatalf("scene %d has %d objects", i, len(s.Objects))
		}
		q := Ask(s, rng)
		if got := answerFromObjects(t, q, s.Objects); got != q.Answer {
			t.Fatalf("scene %d: %q answered %q, objects say %q (%+v)", i, q.Text, q.Answer, got, s.Objects)
		}
		if !vqa.IsAnswer(q.Answer) {
			t.Fatalf("answer %q not in the vocabulary", q.Answer)
		}
		for _, tok := range vqa.Tokenize(q.Text) {
			if tok == vqa.UnknownToken {
				t.Fatalf("question %q has a word outside the question vocabulary", q.Text)
			}
		}
		types[q.Type]++
		answers[q.Answer]++
	}
	for _, typ := range vqa.QuestionTypes {
		if types[typ] < 300 {
			t.Errorf("question type %s drawn %d times of 3000; templates are not balanced: %v", typ, types[typ], types)
		}
	}
	if answers["yes"] < 200 || answers["no"] < 200 {
		t.Errorf("existence answers unbalanced: yes %d, no %d", answers["yes"], answers["no"])
	}
}

func TestObjectsDoNotHideEachOther(t *testing.T) {
	for i := 0; i < 500; i++ {
		s := RandomScene(rand.New(rand.NewPCG(7, uint64(i))))
		for a := range s.Objects {
			for b := a + 1; b < len(s.Objects); b++ {
				if !fits(s.Objects[a], []vqa.Object{s.Objects[b]}) {
					t.Fatalf("scene %d: objects %d and %d overlap too much", i, a, b)
				}
			}
			o := s.Objects[a]
			if o.X-o.Size < 0 || o.Y-o.Size < 0 || o.X+o.Size > ImageSize || o.Y+o.Size > ImageSize {
				t.Fatalf("scene %d: object %+v leaves the picture", i, o)
			}
		}
	}
}

func TestRenderPaintsObjectColours(t *testing.T) {
	s := Scene{Background: [3]float64{60, 60, 60}, Objects: []vqa.Object{
		{Shape: "circle", Color: "red", X: 16, Y: 16, Size: 8},
		{Shape: "square", Color: "blue", X: 48, Y: 48, Size: 8},
		{Shape: "triangle", Color: "yellow", X: 16, Y: 48, Size: 9},
	}, Tints: make([][3]float64, 3)}
	img := Render(s, rand.New(rand.NewPCG(1, 1)))
	for _, c := range []struct {
		x, y  int
		color string
	}{{16, 16, "red"}, {48, 48, "blue"}, {16, 49, "yellow"}, {40, 10, ""}} {
		want := [3]float64{60, 60, 60}
		if c.color != "" {
			want = colorRGB[c.color]
		}
		px := img.RGBAAt(c.x, c.y)
		got := [3]float64{float64(px.R), float64(px.G), float64(px.B)}
		for k := 0; k < 3; k++ {
			if d := got[k] - want[k]; d > 1 || d < -1 {
				t.Errorf("pixel (%d,%d) = %v, want %v (%s)", c.x, c.y, got, want, c.color)
				break
			}
		}
	}
	// the square's corner is inside, the circle's bounding-box corner is not
	if px := img.RGBAAt(48+5, 48+5); px.B < 200 {
		t.Errorf("square corner not painted: %v", px)
	}
	if px := img.RGBAAt(16+7, 16+7); px.R > 100 {
		t.Errorf("circle painted its bounding-box corner: %v", px)
	}
}

func TestMakeItemDeterministic(t *testing.T) {
	a, _, va, _ := MakeItem("test", 1, 17)
	b, _, vb, _ := MakeItem("test", 1, 17)
	if !reflect.DeepEqual(a, b) || va != vb {
		t.Fatalf("same seed, different items: %+v / %+v", a, b)
	}
	c, _, _, _ := MakeItem("test", 2, 17)
	d, _, _, _ := MakeItem("val", 1, 17)
	if reflect.DeepEqual(a.Objects, c.Objects) || reflect.DeepEqual(a.Objects, d.Objects) {
		t.Errorf("another seed or split gave the same scene")
	}
	for i := 0; i < 200; i++ {
		_, _, v, _ := MakeItem("test", 1, i)
		for _, tv := range trainVariants {
			if strings.HasSuffix(v.Name, "+"+tv) {
				t.Fatalf("test item %d speaks with training voice %s", i, v.Name)
			}
		}
	}
}

// TestSpeakDeterministic: the same text, voice and seed give the same WAV bytes (espeak-ng and sox
// are real; sox's dither must be seeded).
func TestSpeakDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("speaks with espeak-ng and sox")
	}
	it, _, v, _ := MakeItem("test", 1, 3)
	text := it.Question
	a, err := Speak(text, v, rand.New(rand.NewPCG(5, 6)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Speak(text, v, rand.New(rand.NewPCG(5, 6)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("two syntheses of %q with voice %s and the same seed differ", text, v.Name)
	}
}

// TestGenerate runs the real generator (espeak-ng and sox) on a few items.
func TestGenerate(t *testing.T) {
	if testing.Short() {
		t.Skip("speaks with espeak-ng and sox")
	}
	for _, tool := range []string{"espeak-ng", "sox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is required (apt-get install -y espeak-ng sox): %v", tool, err)
		}
	}
	out := t.TempDir()
	spec := Spec{Out: out, Split: "test", N: 6, Seed: 3}
	if Complete(spec) {
		t.Fatal("empty directory reported complete")
	}
	if err := Generate(spec, nil); err != nil {
		t.Fatal(err)
	}
	if !Complete(spec) {
		t.Fatal("generated split not reported complete")
	}
	m, err := vqa.LoadManifest(spec.ManifestPath())
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Items) != 6 {
		t.Fatalf("%d items, want 6", len(m.Items))
	}
	first, err := os.ReadFile(m.ImagePath(m.Items[0]))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(first))
	if err != nil || img.Bounds().Dx() != ImageSize || img.Bounds().Dy() != ImageSize {
		t.Fatalf("image: %v, bounds %v", err, img.Bounds())
	}
	for _, it := range m.Items {
		wav, err := transforms.LoadWAV(m.AudioPath(it))
		if err != nil {
			t.Fatal(err)
		}
		secs := float64(len(wav)) / vqa.SampleRate
		if secs < 0.5 || secs > 6 {
			t.Errorf("item %d: %q spoken in %.2f s", it.ID, it.Question, secs)
		}
		peak := float32(0)
		for _, s := range wav {
			peak = max(peak, s, -s)
		}
		if peak < 0.05 {
			t.Errorf("item %d: silent audio (peak %v)", it.ID, peak)
		}
	}
	// Another size or seed is not "complete"; regenerating with the same spec gives identical images.
	if Complete(Spec{Out: out, Split: "test", N: 7, Seed: 3}) || Complete(Spec{Out: out, Split: "test", N: 6, Seed: 4}) {
		t.Error("a split with other parameters reported complete")
	}
	out2 := t.TempDir()
	if err := Generate(Spec{Out: out2, Split: "test", N: 2, Seed: 3}, nil); err != nil {
		t.Fatal(err)
	}
	again, err := os.ReadFile(filepath.Join(out2, "test", m.Items[0].Image))
	if err != nil || !bytes.Equal(again, first) {
		t.Errorf("regenerated image differs (err %v)", err)
	}
	// A removed file makes the split incomplete.
	os.Remove(m.AudioPath(m.Items[3]))
	if Complete(spec) {
		t.Error("split with a missing WAV reported complete")
	}
	if err := Generate(Spec{Out: out, Split: "bogus", N: 1}, nil); err == nil {
		t.Error("unknown split accepted")
	}
}
