package benchopt

import (
	"strings"
	"testing"
)

// Each target counts the instances it applies to and names those that miss it, with what they reached.
func TestTargets(t *testing.T) {
	rows := []Row{
		{Hosts: 36, Tiers: 2, Threshold: 55, Distinct: true, Exact: 22.05, Gap: 0, ExactSeconds: 2.4, HasBaseline: true, Baseline: 22.06},
		{Hosts: 36, Tiers: 3, Threshold: 57, Distinct: true, Exact: 95.33, Gap: 0, ExactSeconds: 5.2, HasBaseline: true, Baseline: 95.33},
		{Hosts: 72, Tiers: 3, Threshold: 55, Distinct: true, Exact: 117.44, Gap: 0.0136, ExactSeconds: 10.01, HasBaseline: true, Baseline: 118.47},
		{Hosts: 144, Tiers: 2, Threshold: 56, Distinct: true, Exact: 85.01, Gap: 0.0009, ExactSeconds: 10.0, HasBaseline: true, Baseline: 85.13},
		{Hosts: 297, Tiers: 3, Threshold: 55, Distinct: true, Exact: 467.54, Gap: 0.0066, ExactSeconds: 11.2, HasBaseline: true, Baseline: 466.91},
		{Hosts: 999, Tiers: 2, Threshold: 55, Distinct: true, Exact: 0, ExactSeconds: 60.5, HasBaseline: true, Baseline: 600},
	}
	got := map[string]Target{}
	for _, tg := range Targets(rows, true, 10) {
		got[tg.Name] = tg
	}
	want := map[string]struct {
		met, of int
		missed  string
	}{
		"36 distinct hosts proven optimal in < 5 s":   {1, 2, "36 / 3 / 57 (gap 0.000 %, 5.20 s)"},
		"72–300 distinct hosts within 0.2 % (proven)": {1, 3, "72 / 3 / 55 (1.360 %), 297 / 3 / 55 (0.660 %)"},
		"never more expensive than the baseline":      {4, 6, "297 / 3 / 55 (0.13 % dearer), 999 / 2 / 55 (no plan)"},
		"returns within the limit + 1 s (11 s)":       {4, 6, "297 / 3 / 55 (11.20 s), 999 / 2 / 55 (60.50 s)"},
	}
	if len(got) != len(want) {
		t.Errorf("targets %v, want %d", got, len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("no target %q", name)
			continue
		}
		if g.Met != w.met || g.Of != w.of || strings.Join(g.Missed, ", ") != w.missed {
			t.Errorf("%s: %d of %d, missed %q; want %d of %d, missed %q", name, g.Met, g.Of, strings.Join(g.Missed, ", "), w.met, w.of, w.missed)
		}
	}
	// Identical replicas and no baseline: only the time limit applies.
	ts := Targets([]Row{{Hosts: 36, Tiers: 2, Threshold: 55, Exact: 22, ExactSeconds: 1}}, false, 10)
	if len(ts) != 1 || ts[0].Met != 1 {
		t.Errorf("identical fleet, no baseline: %+v", ts)
	}
}

func TestMarkdown(t *testing.T) {
	rows := []Row{
		{Hosts: 72, Tiers: 3, Threshold: 55, Distinct: true, Heuristic: 117.8806, Exact: 117.4417, Gap: 0.01363, ExactSeconds: 10.01,
			HasBaseline: true, Baseline: 118.4662, BaselineGap: 0.02837, BaselineSeconds: 8.91, GapToBestBound: 0.01363},
		{Hosts: 9, Tiers: 2, Threshold: 99, Distinct: true, ExactSeconds: 0.01, HasBaseline: true, BaselineSeconds: 0.01},
	}
	md := Markdown(rows, "cbc", 10)
	for _, want := range []string{
		"| hosts | tiers | thr | heuristic $/h | exact $/h | exact gap % | exact s | cbc $/h | cbc gap % | cbc s | exact ÷ cbc | gap to best bound % |",
		"| 72 | 3 | 55 | 117.8806 | 117.4417 | 1.363 | 10.01 | 118.4662 | 2.837 | 8.91 | 0.9914 | 1.363 |",
		"| 9 | 2 | 99 | no plan | no plan | – | 0.01 | no plan | – | 0.01 | – | – |",
		"| 72–300 distinct hosts within 0.2 % (proven) | 0 of 1 | 72 / 3 / 55 (1.363 %) |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(Markdown(rows, "", 10), "cbc") {
		t.Error("a run without a baseline shows baseline columns")
	}
}
