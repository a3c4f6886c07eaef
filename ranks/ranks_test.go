package ranks

import (
	"reflect"
	"strings"
	"testing"

	"jellybean/hostfiles"
	"jellybean/plan"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDiscover(t *testing.T) {
	tests := []struct {
		name     string
		flag     string
		env      map[string]string
		rank     int
		from     string
		errMatch string
	}{
		{"flag wins", "3", map[string]string{"JELLYBEAN_RANK": "1"}, 3, "--rank", ""},
		{"jellybean env", "", map[string]string{"JELLYBEAN_RANK": "1", "OMPI_COMM_WORLD_RANK": "2"}, 1, "JELLYBEAN_RANK", ""},
		{"open mpi", "", map[string]string{"OMPI_COMM_WORLD_RANK": "2", "PMIX_RANK": "5"}, 2, "OMPI_COMM_WORLD_RANK", ""},
		{"pmix", "", map[string]string{"PMIX_RANK": "5", "PMI_RANK": "6"}, 5, "PMIX_RANK", ""},
		{"pmi", "", map[string]string{"PMI_RANK": "6", "SLURM_PROCID": "7"}, 6, "PMI_RANK", ""},
		{"slurm", "", map[string]string{"SLURM_PROCID": "7", "RANK": "8"}, 7, "SLURM_PROCID", ""},
		{"torchrun", "", map[string]string{"RANK": "8"}, 8, "RANK", ""},
		{"none", "", nil, 0, "", "no rank: pass --rank or set one of JELLYBEAN_RANK"},
		{"bad flag", "x", nil, 0, "", `--rank="x" is not a rank`},
		{"negative env", "", map[string]string{"SLURM_PROCID": "-1"}, 0, "", `SLURM_PROCID="-1" is not a rank`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, from, err := Discover(tc.flag, env(tc.env))
			if tc.errMatch != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errMatch) {
					t.Fatalf("error %v, want %q", err, tc.errMatch)
				}
				return
			}
			if err != nil || r != tc.rank || from != tc.from {
				t.Fatalf("got %d from %s (%v), want %d from %s", r, from, err, tc.rank, tc.from)
			}
		})
	}
}

func TestCheckWorld(t *testing.T) {
	tests := []struct {
		rank     int
		env      map[string]string
		errMatch string
	}{
		{0, nil, ""},
		{5, nil, ""},
		{6, nil, "rank 6 (from --rank) out of range: hostfile hf has 6 slots (ranks 0..5)"},
		{1, map[string]string{"OMPI_COMM_WORLD_SIZE": "6"}, ""},
		{1, map[string]string{"SLURM_NTASKS": "4"}, "SLURM_NTASKS=4 but hostfile hf has 6 slots"},
		{1, map[string]string{"WORLD_SIZE": "x"}, `WORLD_SIZE="x" is not a world size`},
	}
	for _, tc := range tests {
		err := CheckWorld(tc.rank, "--rank", 6, "hf", env(tc.env))
		if (err == nil) != (tc.errMatch == "") || (err != nil && !strings.Contains(err.Error(), tc.errMatch)) {
			t.Errorf("CheckWorld(%d, %v) = %v, want %q", tc.rank, tc.env, err, tc.errMatch)
		}
	}
}

func TestScheduleProportions(t *testing.T) {
	tests := [][]float64{{1}, {1, 1}, {3, 1}, {0.37, 0.63}, {5, 1, 2.5}, {1, 1, 1, 1, 1, 1, 1}}
	for _, w := range tests {
		s := NewSchedule(w)
		if e := s.maxShareError(w, scheduleLen); e > 0.002 {
			t.Errorf("weights %v: share error %.4f over one period", w, e)
		}
		if e := s.maxShareError(w, 100); e > 0.03 {
			t.Errorf("weights %v: share error %.4f over a 100-item prefix", w, e)
		}
	}
	// Smooth: with equal weights, consecutive ids alternate.
	s := NewSchedule([]float64{1, 1})
	if got := []int{s.Worker(0), s.Worker(1), s.Worker(2), s.Worker(3)}; !reflect.DeepEqual(got, []int{0, 1, 0, 1}) {
		t.Fatalf("equal weights not interleaved: %v", got)
	}
	if s.Worker(-1) < 0 {
		t.Fatal("negative id")
	}
}

func defaultLayout(t *testing.T) *Layout {
	t.Helper()
	p, err := plan.Load("../plan/examples/default.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Bind(".."); err != nil {
		t.Fatal(err)
	}
	l, err := NewLayout(hostfiles.Default(), p, 12)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestDefaultLayout(t *testing.T) {
	l := defaultLayout(t)
	for r, w := range l.Workers {
		want := Worker{Rank: r, Host: "localhost", LocalIndex: r, Port: 29500 + r, Stage: r, Index: 0, Device: "cpu", Threads: 2, Weight: 1}
		if w != want {
			t.Errorf("rank %d: %+v, want %+v", r, w, want)
		}
	}
	if l.SinkRank() != 5 || len(l.Downstream(5)) != 0 || !reflect.DeepEqual(l.Downstream(2), []int{4}) {
		t.Fatal("sink/downstream")
	}
	if got := l.Upstream(4); !reflect.DeepEqual(got, []int{2, 3}) {
		t.Fatalf("upstream of VQA: %v", got)
	}
	if l.ListenAddr(0) != "localhost:29500" {
		t.Fatal(l.ListenAddr(0))
	}
}

const twoHosts = `
job = "t"
workflow = "ranks/testdata/workflow.toml"
dataset = "d.jsonl"
base_port = 50000
[[stage]]
name = "RI"
[[stage.worker]]
host = "127.0.0.2"
weight = 1
[[stage.worker]]
host = "127.0.0.3"
weight = 3
[[stage]]
name = "RS"
[[stage.worker]]
host = "127.0.0.3"
weight = 1
[[stage]]
name = "IF"
variant = "v"
[[stage.worker]]
host = "127.0.0.2"
weight = 1
threads = 3
device = "cuda:1"
[[stage]]
name = "SR"
variant = "v"
[[stage.worker]]
host = "127.0.0.3"
weight = 1
[[stage]]
name = "Q"
variant = "v"
[[stage.worker]]
host = "127.0.0.2"
weight = 2
[[stage.worker]]
host = "127.0.0.3"
weight = 1
[[stage]]
name = "S"
[[stage.worker]]
host = "127.0.0.2"
weight = 1
`

func TestTwoHostLayout(t *testing.T) {
	p, err := plan.Parse("two.toml", []byte(twoHosts))
	if err != nil {
		t.Fatal(err)
	}
	hf, err := hostfiles.Parse("hf", strings.NewReader("127.0.0.2 slots=4\n127.0.0.3:4\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Validate(p, "two.toml", plan.Options{Hostfile: hf, Root: ".."}); err != nil {
		t.Fatal(err)
	}
	l, err := NewLayout(hf, p, 8)
	if err != nil {
		t.Fatal(err)
	}
	// Host 127.0.0.2 (ranks 0-3) takes RI[0], IF[0], Q[0], S[0]; 127.0.0.3 (ranks 4-7) RI[1], RS[0], SR[0], Q[1].
	want := []struct{ stage, index, port int }{{0, 0, 50000}, {2, 0, 50001}, {4, 0, 50002}, {5, 0, 50003},
		{0, 1, 50000}, {1, 0, 50001}, {3, 0, 50002}, {4, 1, 50003}}
	for r, w := range want {
		got := l.Workers[r]
		if got.Stage != w.stage || got.Index != w.index || got.Port != w.port {
			t.Errorf("rank %d: %+v, want stage %d worker %d port %d", r, got, w.stage, w.index, w.port)
		}
	}
	if l.Workers[1].Threads != 3 || l.Workers[1].Device != "cuda:1" || l.Workers[2].Threads != 2 {
		t.Fatalf("threads/device: %+v %+v", l.Workers[1], l.Workers[2])
	}
	if !reflect.DeepEqual(l.StageRanks[4], []int{2, 7}) || !reflect.DeepEqual(l.Upstream(2), []int{1, 6}) {
		t.Fatalf("stage ranks %v upstream %v", l.StageRanks, l.Upstream(2))
	}
	// Source shards: weights 1:3, every id owned by exactly one source rank.
	counts := map[int]int{}
	for id := int64(0); id < 400; id++ {
		owners := 0
		for _, r := range []int{0, 4} {
			if l.Owns(r, id) {
				owners++
				counts[r]++
			}
		}
		if owners != 1 {
			t.Fatalf("id %d has %d owners", id, owners)
		}
		// A join stage's worker depends only on the id, whichever branch routes it.
		if q := l.Route(4, id); q != 2 && q != 7 {
			t.Fatalf("route %d", q)
		}
	}
	if counts[0] != 100 || counts[4] != 300 {
		t.Fatalf("shards %v, want 100/300", counts)
	}
	if l.ListenAddr(5) != "127.0.0.3:50001" {
		t.Fatal(l.ListenAddr(5))
	}
	eps := l.Endpoints()
	if eps[6] != (Endpoint{Rank: 6, Host: "127.0.0.3", Port: 50002}) {
		t.Fatalf("endpoint %+v", eps[6])
	}
}

func TestLayoutSlotMismatch(t *testing.T) {
	p, err := plan.Parse("two.toml", []byte(twoHosts))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ hf, want string }{
		{"127.0.0.2 slots=3\n127.0.0.3:4\n", `host "127.0.0.2" has 3 slots in hf, all taken by earlier workers`},
		{"127.0.0.2 slots=5\n127.0.0.3:4\n", `host "127.0.0.2" has 5 slots in hf but the plan places 4 workers`},
	} {
		hf, err := hostfiles.Parse("hf", strings.NewReader(tc.hf))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewLayout(hf, p, 8); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("hostfile %q: error %v, want %q", tc.hf, err, tc.want)
		}
	}
}

func TestNamedHostListensEverywhere(t *testing.T) {
	p, _ := plan.Parse("two.toml", []byte(strings.ReplaceAll(twoHosts, "127.0.0.3", "node3")))
	hf, _ := hostfiles.Parse("hf", strings.NewReader("127.0.0.2 slots=4\nnode3:4\n"))
	l, err := NewLayout(hf, p, 8)
	if err != nil {
		t.Fatal(err)
	}
	if l.ListenAddr(4) != ":50000" {
		t.Fatal(l.ListenAddr(4))
	}
}

func TestResolveDevice(t *testing.T) {
	p, err := plan.Parse("two.toml", []byte(twoHosts))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Bind(".."); err != nil {
		t.Fatal(err)
	}
	// Every model worker asks for "cuda" without an ordinal, except IF (cuda:1 in the plan).
	for si := range p.Stages {
		for wi := range p.Stages[si].Workers {
			if p.IsModel(si) && p.Stages[si].Workers[wi].Device == "" {
				p.Stages[si].Workers[wi].Device = "cuda"
			}
		}
	}
	hf, _ := hostfiles.Parse("hf", strings.NewReader("127.0.0.2 slots=4\n127.0.0.3:4\n"))
	l, err := NewLayout(hf, p, 8)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rank, gpus int
		want       string
	}{
		{0, 2, "cpu"},    // ReadImage
		{1, 2, "cuda:1"}, // IF, explicit
		{2, 2, "cuda:0"}, // Q[0]: first "cuda" worker on 127.0.0.2
		{6, 2, "cuda:0"}, // SR[0]: first "cuda" worker on 127.0.0.3 (slot 2)
		{7, 2, "cuda:1"}, // Q[1]: second on 127.0.0.3
		{7, 1, "cuda:0"}, // one GPU: shared
		{7, 0, "cuda:0"}, // none: left for the start-up check to report
	}
	for _, tc := range tests {
		if got := l.ResolveDevice(tc.rank, tc.gpus); got != tc.want {
			t.Errorf("ResolveDevice(%d, %d gpus) = %s, want %s", tc.rank, tc.gpus, got, tc.want)
		}
	}
}
