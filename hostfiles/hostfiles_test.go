package hostfiles

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		input string
		hosts []Host
	}{
		{"open mpi", "a slots=2\nb slots=1 max_slots=4\n", []Host{{"a", 2, 0, 1}, {"b", 1, 4, 2}}},
		{"mpich", "a:3\nb:1\n", []Host{{"a", 3, 0, 1}, {"b", 1, 0, 2}}},
		{"bare host is one slot", "a\n", []Host{{"a", 1, 0, 1}}},
		{"comments and blanks", "# top\n\n  a slots=2   # two\n\t\n#b slots=9\n", []Host{{"a", 2, 0, 3}}},
		{"duplicates merge", "a slots=2\nb\na:3\n", []Host{{"a", 5, 0, 1}, {"b", 1, 0, 2}}},
		{"duplicate max slots add", "a slots=1 max_slots=2\na slots=2\n", []Host{{"a", 3, 4, 1}}},
		{"max-slots spelling", "a slots=2 max-slots=2\n", []Host{{"a", 2, 2, 1}}},
		{"ip addresses", "127.0.0.2 slots=2\n127.0.0.3:1\n", []Host{{"127.0.0.2", 2, 0, 1}, {"127.0.0.3", 1, 0, 2}}},
		{"no trailing newline", "a slots=2", []Host{{"a", 2, 0, 1}}},
		{"ipv6", "::1 slots=2\n[fd00::2]:3\n[fd00::3]\n", []Host{{"::1", 2, 0, 1}, {"fd00::2", 3, 0, 2}, {"fd00::3", 1, 0, 3}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := Parse("hf", strings.NewReader(tc.input))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(h.Hosts, tc.hosts) {
				t.Fatalf("got %+v, want %+v", h.Hosts, tc.hosts)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, input, want string
	}{
		{"empty", "", "hf: no hosts"},
		{"only comments", "# x\n\n", "hf: no hosts"},
		{"zero slots", "a\nb slots=0\n", "hf:2: slots must be a positive integer"},
		{"negative slots", "a slots=-1\n", "hf:1: slots must be a positive integer"},
		{"not a number", "a slots=two\n", "hf:1: slots must be a positive integer, got \"two\""},
		{"mpich not a number", "a:x\n", "hf:1: slot count after ':' must be a positive integer"},
		{"mpich empty name", ":2\n", "hf:1: empty host name"},
		{"unknown key", "a slots=1 cpus=4\n", "hf:1: unknown key \"cpus\""},
		{"missing equals", "a slots 2\n", "hf:1: expected key=value after host \"a\", found \"slots\""},
		{"slots above max", "a slots=4 max_slots=2\n", "hf:1: host \"a\": slots=4 exceeds max_slots=2"},
		{"repeated key", "a slots=1 slots=2\n", "hf:1: slots given twice"},
		{"mpich trailing", "a:2 slots=1\n", "hf:1: unexpected \"slots=1\""},
		{"huge", "a slots=100000\n", "hf:1: slots=100000 exceeds the limit"},
		{"huge by merging", "a slots=4000\n\na slots=4000\n", "hf:3: host \"a\" has 8000 slots in total"},
		{"bad name", "a=b\n", "hf:1: invalid host name"},
		{"binary name", "\xff\xfe slots=2\n", `hf:1: invalid host name "\xff\xfe"`},
		{"bracketed count", "[::1]:x\n", "hf:1: slot count after ':' must be a positive integer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("hf", strings.NewReader(tc.input))
			if err == nil {
				t.Fatalf("no error for %q", tc.input)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestRanksExpandSlotBySlot(t *testing.T) {
	h, err := Parse("hf", strings.NewReader("a slots=2\nb:1\na slots=1\nc\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Slot{{0, "a", 0}, {1, "a", 1}, {2, "a", 2}, {3, "b", 0}, {4, "c", 0}}
	if got := h.Ranks(); !reflect.DeepEqual(got, want) {
		t.Fatalf("ranks %+v, want %+v", got, want)
	}
	if h.WorldSize() != 5 {
		t.Fatalf("world size %d", h.WorldSize())
	}
	s, err := h.Slot(3)
	if err != nil || s != want[3] {
		t.Fatalf("Slot(3) = %+v, %v", s, err)
	}
	for _, bad := range []int{-1, 5} {
		if _, err := h.Slot(bad); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Fatalf("Slot(%d) error %v", bad, err)
		}
	}
	if h.Host("b") == nil || h.Host("z") != nil {
		t.Fatal("Host lookup")
	}
	if got := strings.Join(h.HostNames(), ","); got != "a,b,c" {
		t.Fatalf("HostNames %s", got)
	}
}

func TestStringRoundTrip(t *testing.T) {
	h, err := Parse("hf", strings.NewReader("a slots=2 max_slots=3\nb:1\n"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse("again", strings.NewReader(h.String()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(h.Hosts, again.Hosts) {
		t.Fatalf("round trip %+v != %+v", again.Hosts, h.Hosts)
	}
}

func TestShippedHostfiles(t *testing.T) {
	d := Default()
	if d.WorldSize() != 6 || d.Hosts[0].Name != "localhost" {
		t.Fatalf("default hostfile: %+v", d.Hosts)
	}
	files, err := filepath.Glob("*")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".go") {
			continue
		}
		if _, err := Load(f); err != nil {
			t.Errorf("shipped hostfile: %v", err)
		}
		checked++
	}
	if checked < 2 {
		t.Fatalf("expected the default and an example hostfile, found %d files", checked)
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope"))
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("error %v", err)
	}
	if _, statErr := os.Stat("nope"); statErr == nil {
		t.Fatal("unexpected file")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("a slots=2\nb:3 # c\n")
	f.Add("a slots=1 max_slots=2\na\n")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := Parse("fuzz", strings.NewReader(s))
		if err != nil {
			return
		}
		if len(h.Ranks()) != h.WorldSize() || h.WorldSize() < 1 {
			t.Fatalf("inconsistent %+v", h.Hosts)
		}
	})
}
