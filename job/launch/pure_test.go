package launch

import (
	"strings"
	"testing"
	"time"
)

func TestIsLocalHost(t *testing.T) {
	cases := []struct {
		host, hostname string
		want           bool
	}{
		{"localhost", "n1", true},
		{"LOCALHOST", "n1", true},
		{"127.0.0.1", "n1", true},
		{"::1", "n1", true},
		{"127.0.0.2", "n1", false}, // other loopback addresses are "remote": the multi-host tests rely on it
		{"n1", "n1", true},
		{"n1", "n1.cluster.example", true},
		{"n1.cluster.example", "n1.cluster.example", true},
		{"n2", "n1", false},
		{"n1x", "n1", false},
		{"n1", "", false},
	}
	for _, c := range cases {
		if got := IsLocalHost(c.host, c.hostname); got != c.want {
			t.Errorf("IsLocalHost(%q, %q) = %v, want %v", c.host, c.hostname, got, c.want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	cases := map[string]string{
		"bin/jellybean":  "bin/jellybean",
		"":               "''",
		"a b":            "'a b'",
		"it's":           `'it'\''s'`,
		"$(rm -rf /)":    "'$(rm -rf /)'",
		"runs/2026-x_1.": "runs/2026-x_1.",
	}
	for in, want := range cases {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

var testJob = Job{
	Root: "/srv/jb", Binary: "/srv/jb/bin/jellybean", Hostfile: "runs/r1/hostfile", Plan: "runs/r1/plan.toml",
	RunDir: "runs/r1", JobID: "jb-r1", Secret: "c0ffee", Rendezvous: "n1:29731",
}

func TestLocalInvocation(t *testing.T) {
	j := testJob
	j.Resume = true
	inv := LocalInvocation(j, 3, "localhost")
	want := "run -H runs/r1/hostfile -p runs/r1/plan.toml --rank 3 --run-dir runs/r1 --resume"
	if got := strings.Join(inv.Args, " "); got != want {
		t.Errorf("args = %q, want %q", got, want)
	}
	if inv.Path != j.Binary || inv.Dir != j.Root || inv.Remote {
		t.Errorf("invocation = %+v", inv)
	}
	if strings.Join(inv.Env, " ") != "JELLYBEAN_JOB_ID=jb-r1 JELLYBEAN_JOB_SECRET=c0ffee JELLYBEAN_RENDEZVOUS=n1:29731" {
		t.Errorf("env = %q", inv.Env)
	}
	j.Rendezvous = "" // fixed ports
	if env := strings.Join(LocalInvocation(j, 3, "localhost").Env, " "); !strings.HasSuffix(env, " JELLYBEAN_FIXED_PORTS=1") {
		t.Errorf("fixed-port env = %q", env)
	}
}

func TestRendezvousAddr(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string // "" = fixed ports; "error" = an error
	}{
		{nil, "node0:29500"},
		{map[string]string{"JELLYBEAN_RENDEZVOUS": "31000"}, "node0:31000"},
		{map[string]string{"JELLYBEAN_RENDEZVOUS": "10.0.0.5:31000", "MASTER_PORT": "1"}, "10.0.0.5:31000"},
		{map[string]string{"MASTER_ADDR": "head", "MASTER_PORT": "29400"}, "head:29400"},
		{map[string]string{"MASTER_PORT": "29400"}, "node0:29400"},
		{map[string]string{"JELLYBEAN_FIXED_PORTS": "1", "JELLYBEAN_RENDEZVOUS": "31000"}, ""},
		{map[string]string{"JELLYBEAN_FIXED_PORTS": "0"}, "node0:29500"},
		{map[string]string{"JELLYBEAN_RENDEZVOUS": "node0:99999"}, "error"},
		{map[string]string{"MASTER_PORT": "x"}, "error"},
	}
	for _, c := range cases {
		got, err := RendezvousAddr(func(k string) string { return c.env[k] }, "node0", 29500)
		if err != nil {
			got = "error"
			if !strings.Contains(err.Error(), "PORT") {
				t.Errorf("%v: error does not say what is wrong: %v", c.env, err)
			}
		}
		if got != c.want {
			t.Errorf("%v: got %q, want %q", c.env, got, c.want)
		}
	}
}

func TestSSHInvocation(t *testing.T) {
	const killReport = `; s=$?; [ $s -gt 128 ] && echo "jellybean launch: rank 1 killed by signal $((s-128)) on $(hostname)" >&2; exit $s`
	cases := []struct {
		name string
		opts SSHOptions
		want string
	}{
		{"defaults", SSHOptions{},
			"ssh -o BatchMode=yes -o ConnectTimeout=10 -- n2 cd /srv/jb && env JELLYBEAN_JOB_ID=jb-r1 JELLYBEAN_RENDEZVOUS=n1:29731 bin/jellybean " +
				"run -H runs/r1/hostfile -p runs/r1/plan.toml --rank 1 --run-dir runs/r1 --secret-stdin" + killReport},
		{"everything", SSHOptions{Client: "/usr/bin/ssh", Port: 2222, Identity: "/k/id", Extra: []string{"-F", "none"},
			ConnectTimeout: 3, RemoteRoot: "/home/u/jelly bean", RemoteBinary: "/opt/jb", RemoteORTLib: "/opt/ort.so"},
			"/usr/bin/ssh -o BatchMode=yes -o ConnectTimeout=3 -p 2222 -i /k/id -F none -- n2 " +
				"cd '/home/u/jelly bean' && env JELLYBEAN_JOB_ID=jb-r1 JELLYBEAN_RENDEZVOUS=n1:29731 JELLYBEAN_ORT_LIB=/opt/ort.so /opt/jb " +
				"run -H runs/r1/hostfile -p runs/r1/plan.toml --rank 1 --run-dir runs/r1 --secret-stdin" + killReport},
	}
	for _, c := range cases {
		inv := SSHInvocation(testJob, 1, "n2", c.opts)
		got := inv.Path + " " + strings.Join(inv.Args, " ")
		if got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
		if !inv.Remote || len(inv.Env) != 0 {
			t.Errorf("%s: remote=%v env=%q; want remote, no env", c.name, inv.Remote, inv.Env)
		}
		if strings.Contains(got, testJob.Secret) {
			t.Errorf("%s: the secret is on the ssh command line: %q", c.name, got)
		}
	}
}

func TestSSHOptionsFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	o, err := SSHOptionsFromEnv(env(map[string]string{
		"JELLYBEAN_SSH_PORT": "2200", "JELLYBEAN_SSH_OPTS": " -F none  -o LogLevel=ERROR ",
		"JELLYBEAN_REMOTE_ROOT": "/r", "JELLYBEAN_SSH_CONNECT_TIMEOUT": "4",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if o.Port != 2200 || o.ConnectTimeout != 4 || o.RemoteRoot != "/r" || strings.Join(o.Extra, "|") != "-F|none|-o|LogLevel=ERROR" {
		t.Errorf("options = %+v", o)
	}
	for _, bad := range []map[string]string{
		{"JELLYBEAN_SSH_PORT": "ssh"},
		{"JELLYBEAN_SSH_PORT": "70000"},
		{"JELLYBEAN_SSH_CONNECT_TIMEOUT": "0"},
	} {
		if _, err := SSHOptionsFromEnv(env(bad)); err == nil {
			t.Errorf("%v: no error", bad)
		} else {
			for k := range bad {
				if !strings.Contains(err.Error(), k) {
					t.Errorf("%v: error %q does not name %s", bad, err, k)
				}
			}
		}
	}
}

func TestParseProgress(t *testing.T) {
	cases := []struct {
		line string
		want ProgressReport
		ok   bool
	}{
		{`jellybean-progress {"done":3,"total":10}`, ProgressReport{3, 10}, true},
		{"jellybean-progress {\"done\":3,\"total\":10}\n", ProgressReport{3, 10}, true},
		{`jellybean-progress {"done":-1,"total":10}`, ProgressReport{}, false},
		{`jellybean-progress {"done":`, ProgressReport{}, false},
		{`rank 3: jellybean-progress {"done":3,"total":10}`, ProgressReport{}, false},
		{`hello`, ProgressReport{}, false},
	}
	for _, c := range cases {
		got, ok := ParseProgress(c.line)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseProgress(%q) = %v, %v; want %v, %v", c.line, got, ok, c.want, c.ok)
		}
	}
}

func TestProgressLine(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var p Progress
	if got := p.Line(t0); got != "starting ranks..." {
		t.Errorf("before any report: %q", got)
	}
	p.Update(ProgressReport{Done: 100, Total: 500}, t0) // e.g. a resumed run: 100 were done before
	if got := p.Line(t0); got != "100/500 items (20%)" {
		t.Errorf("first report: %q", got)
	}
	p.Update(ProgressReport{Done: 200, Total: 500}, t0.Add(10*time.Second))
	if got, want := p.Line(t0.Add(10*time.Second)), "200/500 items (40%), 10.0 items/s, ETA 30s"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	p.Update(ProgressReport{Done: 150, Total: 500}, t0.Add(11*time.Second)) // stale line: ignored
	p.Update(ProgressReport{Done: 500, Total: 500}, t0.Add(40*time.Second))
	if got, want := p.Line(t0.Add(40*time.Second)), "500/500 items (100%), 10.0 items/s"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFormatETA(t *testing.T) {
	for s, want := range map[float64]string{0.2: "1s", 59: "59s", 61: "1m01s", 3599: "59m59s", 7260: "2h01m", 1e9: "?"} {
		if got := formatETA(s); got != want {
			t.Errorf("formatETA(%v) = %q, want %q", s, got, want)
		}
	}
}

func TestLastMeaningfulLine(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"plain", "starting\nlisten tcp 127.0.0.1:29500: bind: address already in use\n", "listen tcp 127.0.0.1:29500: bind: address already in use"},
		{"trailing progress and blanks", "boom\njellybean-progress {\"done\":1,\"total\":2}\n\n  \n", "boom"},
		{"panic", "ok\npanic: runtime error: index out of range\n\ngoroutine 1 [running]:\nmain.main()\n\t/x.go:3 +0x1\nexit status 2\n", "panic: runtime error: index out of range"},
		{"empty", "", ""},
		{"no newline", "last words", "last words"},
	}
	for _, c := range cases {
		if got := LastMeaningfulLine(c.text); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestRunIDs(t *testing.T) {
	id := NewRunID(time.Date(2026, 11, 28, 4, 50, 12, 0, time.UTC))
	if !strings.HasPrefix(id, "20261128-045012-") || len(id) != len("20261128-045012-abcd") || !ValidRunID(id) {
		t.Errorf("NewRunID = %q", id)
	}
	for id, want := range map[string]bool{"r1": true, "2026-x.y_z": true, "": false, "..": false, "a/b": false,
		"-x": false, "a b": false, ".hidden": false, strings.Repeat("a", 129): false} {
		if got := ValidRunID(id); got != want {
			t.Errorf("ValidRunID(%q) = %v, want %v", id, got, want)
		}
	}
	if s := NewSecret(); len(s) != 64 || s == NewSecret() {
		t.Errorf("NewSecret = %q: want 64 fresh hex digits", s)
	}
}

func TestFormatHeadline(t *testing.T) {
	var h Headline
	h.Items, h.Completed, h.Wall, h.Throughput = 500, 500, 12.5, 40
	h.Latency.P50, h.Latency.P99 = 120, 300
	h.Predicted.Throughput = 42
	h.BytesRaw, h.BytesWire = 3<<20, 1<<20
	want := "500/500 items in 12.5 s, 40.00 items/s (plan predicted 42.00), latency p50 120 ms p99 300 ms, 1.0 MiB sent (3.0 MiB before compression)"
	if got := FormatHeadline(h); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	h.ThisRun, h.Predicted.Throughput, h.BytesRaw = 120, 0, 0
	want = "500/500 items (120 in this run) in 12.5 s, 40.00 items/s, latency p50 120 ms p99 300 ms"
	if got := FormatHeadline(h); got != want {
		t.Errorf("resumed: got  %q\nwant %q", got, want)
	}
}

// Rank output is arbitrary text: parsing it must never panic, and accepted reports are sane.
func FuzzRankOutput(f *testing.F) {
	f.Add(`jellybean-progress {"done":3,"total":10}`)
	f.Add("jellybean-progress {\"done\":1e400}")
	f.Add("panic: x\n\ngoroutine 1")
	f.Fuzz(func(t *testing.T, line string) {
		if p, ok := ParseProgress(line); ok && (p.Done < 0 || p.Total < 0) {
			t.Errorf("accepted negative progress %+v from %q", p, line)
		}
		if l := LastMeaningfulLine(line); strings.Contains(l, "\n") {
			t.Errorf("last line %q spans lines", l)
		}
	})
}

// TestCommandInvocation: a launch of another sub-command (Config.Command) gives every rank that command
// with the hostfile, rank and run directory, locally and through ssh, and never a plan.
func TestCommandInvocation(t *testing.T) {
	j := testJob
	j.Plan, j.Command = "", []string{"profile", "--batch", "1,8", "-o", "prof"}
	if got, want := strings.Join(LocalInvocation(j, 2, "localhost").Args, " "), "profile --batch 1,8 -o prof -H runs/r1/hostfile --rank 2 --run-dir runs/r1"; got != want {
		t.Errorf("local args = %q, want %q", got, want)
	}
	inv := SSHInvocation(j, 1, "n2", SSHOptions{})
	if got, want := inv.Args[len(inv.Args)-1], "bin/jellybean profile --batch 1,8 -o prof -H runs/r1/hostfile --rank 1 --run-dir runs/r1 --secret-stdin;"; !strings.Contains(got, want) {
		t.Errorf("remote command %q lacks %q", got, want)
	}
	if LocalInvocation(j, 0, "localhost"); len(j.Command) != 5 {
		t.Errorf("rankArgs changed the job's command: %q", j.Command)
	}
}
