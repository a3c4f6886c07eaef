package vqa

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestParseManifest(t *testing.T) {
	data := `{"id":2,"image":"images/2.png","audio":"audio/2.wav","question":"is there a red circle","answer":"no","type":"exist"}

{"id":1,"image":"images/1.png","audio":"audio/1.wav","question":"how many circles are there","answer":"two","type":"count_shape","voice":"en-us+m5 -s 150 -p 40","objects":[{"shape":"circle","color":"red","x":1,"y":2,"size":5}]}
`
	m, err := ParseManifest("data/test/manifest.jsonl", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Items) != 2 || m.Items[0].ID != 1 || m.Items[1].ID != 2 {
		t.Fatalf("items not sorted by id: %+v", m.Items)
	}
	if m.Dir != "data/test" || m.ImagePath(m.Items[0]) != filepath.Join("data/test", "images/1.png") {
		t.Errorf("dir %q, image path %q", m.Dir, m.ImagePath(m.Items[0]))
	}
	if it, ok := m.ByID(2); !ok || it.Answer != "no" {
		t.Errorf("ByID(2) = %+v, %v", it, ok)
	}
	if _, ok := m.ByID(3); ok {
		t.Errorf("ByID(3) found an item")
	}
	if len(m.Items[0].Objects) != 1 || m.Items[0].Objects[0].Color != "red" {
		t.Errorf("objects not decoded: %+v", m.Items[0].Objects)
	}
}

func TestParseManifestErrors(t *testing.T) {
	ok := `{"id":1,"image":"i.png","audio":"a.wav","question":"q","answer":"a"}`
	for _, c := range []struct {
		name, data, want string
	}{
		{"empty", "", "m.jsonl: no items"},
		{"bad json on line 2", ok + "\n{\"id\":2,", "m.jsonl:2:"},
		{"unknown key", `{"id":1,"image":"i.png","audio":"a.wav","question":"q","answer":"a","anwser":"x"}`, `m.jsonl:1: json: unknown field "anwser"`},
		{"wrong type", `{"id":"one","image":"i.png","audio":"a.wav","question":"q","answer":"a"}`, "m.jsonl:1:"},
		{"duplicate id", ok + "\n\n" + ok, "m.jsonl:3: duplicate id 1 (first on line 1)"},
		{"missing audio", `{"id":1,"image":"i.png","question":"q","answer":"a"}`, `m.jsonl:1: key "audio": missing`},
		{"missing answer", `{"id":1,"image":"i.png","audio":"a.wav","question":"q"}`, `m.jsonl:1: key "answer": missing`},
		{"negative id", `{"id":-1,"image":"i.png","audio":"a.wav","question":"q","answer":"a"}`, `key "id"`},
		{"absolute image", `{"id":1,"image":"/etc/passwd","audio":"a.wav","question":"q","answer":"a"}`, `key "image"`},
		{"escaping audio", `{"id":1,"image":"i.png","audio":"../../a.wav","question":"q","answer":"a"}`, `key "audio"`},
	} {
		_, err := ParseManifest("m.jsonl", []byte(c.data))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestLoadManifestMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "none.jsonl")
	if _, err := LoadManifest(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("error %v does not name %s", err, p)
	}
}
