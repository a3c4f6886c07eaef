package sweep

import (
	"encoding/csv"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"jellybean/plan/optimizer/inputs"
)

func TestParse(t *testing.T) {
	if got, err := ParseSizes("9, 18,36"); err != nil || !reflect.DeepEqual(got, []int{9, 18, 36}) {
		t.Fatalf("ParseSizes: %v %v", got, err)
	}
	for _, bad := range []string{"", "9,,18", "0", "-3", "x"} {
		if _, err := ParseSizes(bad); err == nil || !strings.Contains(err.Error(), "--sizes") {
			t.Errorf("ParseSizes(%q): %v", bad, err)
		}
	}
	if got, _ := ParseSolvers("both"); !reflect.DeepEqual(got, []string{"heuristic", "exact"}) {
		t.Errorf("both: %v", got)
	}
	if _, err := ParseSolvers("greedy"); err == nil {
		t.Error("unknown solver accepted")
	}
}

func TestCopiesFor(t *testing.T) {
	for _, tc := range []struct{ hosts, base, want int }{{9, 9, 1}, {10, 9, 2}, {18, 9, 2}, {1, 9, 1}, {1000, 9, 112}} {
		if got := CopiesFor(tc.hosts, tc.base); got != tc.want {
			t.Errorf("CopiesFor(%d, %d) = %d, want %d", tc.hosts, tc.base, got, tc.want)
		}
	}
}

func TestFillGaps(t *testing.T) {
	rows := []Row{{Cost: 10, Gap: -1}, {Cost: 8, Gap: -1}, {Err: "infeasible", Gap: -1}}
	fillGaps(rows, 8)
	if rows[0].Gap != 0.2 || rows[1].Gap != 0 || rows[2].Gap != -1 || rows[2].Bound != 8 {
		t.Fatalf("%+v", rows)
	}
	rows = []Row{{Cost: 10, Gap: -1}}
	if fillGaps(rows, 0); rows[0].Gap != -1 {
		t.Fatalf("no bound must leave the gap unknown: %+v", rows)
	}
}

// TestSweepMedium sweeps the medium example at 9 and 18 hosts with both solvers and checks the figures
// and the files: the exact solver is never worse than the heuristic, and every plot is a decodable PNG.
func TestSweepMedium(t *testing.T) {
	base := "../../plan/optimizer/testdata/medium"
	in, err := inputs.ReadDir(base, filepath.Join(base, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := Run(in.Problem, in.Config, Options{Sizes: []int{9, 18}, Solvers: []string{"heuristic", "exact"}, TimeLimit: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4", len(rows))
	}
	for i := 0; i < 4; i += 2 {
		h, x := rows[i], rows[i+1]
		if h.Err != "" || x.Err != "" || h.Hosts != 9*(i/2+1) || x.Hosts != h.Hosts {
			t.Fatalf("rows %+v %+v", h, x)
		}
		if x.Cost > h.Cost+1e-9 || x.Bound <= 0 || x.Bound > x.Cost+1e-9 || h.Gap < x.Gap || x.Gap < 0 || x.Gap >= 1 {
			t.Errorf("%d hosts: heuristic %+v, exact %+v (want exact ≤ heuristic, 0 ≤ gap < 1, bound ≤ cost)", h.Hosts, h, x)
		}
	}
	dir := t.TempDir()
	path, err := WriteCSVFile(dir, rows)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(recs) != 5 || recs[0][7] != "optimality_gap" || recs[2][2] != "exact" {
		t.Fatalf("csv: %v %v", recs, err)
	}
	pngs, err := WritePlots(dir, rows)
	if err != nil || len(pngs) != 3 {
		t.Fatalf("plots %v: %v", pngs, err)
	}
	for _, p := range pngs {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() < 300 {
			t.Errorf("%s: %v", p, err)
		}
	}
}
