package profile

import (
	"bytes"
	"context"
	"fmt"
	"jellybean/workloads/transforms"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"jellybean/job/launch/sshtest"
	"jellybean/workloads/vqa"
)

func TestTurns(t *testing.T) {
	tests := []struct {
		keys  []string
		turn  []int
		turns int
	}{
		{[]string{"a"}, []int{0}, 1},
		{[]string{"a", "a", "a"}, []int{0, 1, 2}, 3},
		{[]string{"a", "b", "c"}, []int{0, 0, 0}, 1},
		{[]string{"a", "b", "a", "b", "a"}, []int{0, 0, 1, 1, 2}, 3},
	}
	for _, tc := range tests {
		keys := make([][]byte, len(tc.keys))
		for i, k := range tc.keys {
			keys[i] = []byte(k)
		}
		turn, n := Turns(keys)
		if fmt.Sprint(turn) != fmt.Sprint(tc.turn) || n != tc.turns {
			t.Errorf("Turns(%v) = %v, %d; want %v, %d", tc.keys, turn, n, tc.turn, tc.turns)
		}
	}
}

func TestLinePrefixer(t *testing.T) {
	var b bytes.Buffer
	w := LinePrefixer(&b, "> ")
	fmt.Fprintf(w, "one\ntwo\n")
	fmt.Fprintf(w, "three")
	if got, want := b.String(), "> one\n> two\n> three\n"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}

// TestFilesSeveralRanks: two ranks on one host give one row per model in the original's layout (the
// median of theirs), one row per rank in latency.csv, and a native fragment the TOML reader accepts.
func TestFilesSeveralRanks(t *testing.T) {
	lat := func(rank int, ms float64) Latency {
		return Latency{Host: "h", Rank: rank, Device: "cpu", Threads: 2, Stage: "S", Variant: "v", Batch: 2,
			Stats: Stats{Runs: 3, Median: ms, P50: ms, P75: ms, P90: ms}}
	}
	r := Merge([]*Result{
		{Latencies: []Latency{lat(0, 4), {Host: "h", Stage: "S", Variant: "v", Batch: 8, Stats: Stats{Runs: 1, Median: 99}}}, Messages: []Message{{From: "A", To: "S", FromVariant: "default", RawKB: 1.5, ZstdKB: 0.5}}},
		{Latencies: []Latency{lat(1, 8)}},
		{Latencies: []Latency{lat(2, 20)}},
	})
	dir := t.TempDir()
	if _, err := r.Files(dir); err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, filepath.Join(dir, "execution_profile.csv"))
	if len(rows) != 1 || strings.Join(rows[0], ",") != "S,h,v,4.0000" { // median of 2, 4, 10 ms per item
		t.Fatalf("execution_profile.csv: %v", rows)
	}
	if rows := readCSV(t, filepath.Join(dir, "latency.csv")); len(rows) != 5 || rows[2][10] != "0" || rows[3][10] != "1" || rows[3][11] != "cpu" || rows[3][12] != "2" {
		t.Fatalf("latency.csv: %v", rows)
	}
	var native struct {
		Latency []struct {
			Stage, Worker, Variant string
			Ms                     float64
		}
		Message []struct {
			From, To string
			KB       float64
		}
	}
	if _, err := toml.DecodeFile(filepath.Join(dir, NativeFile), &native); err != nil {
		t.Fatal(err)
	}
	if len(native.Latency) != 1 || native.Latency[0].Worker != "h" || native.Latency[0].Ms != 4 || len(native.Message) != 1 || native.Message[0].KB != 1.5 {
		t.Fatalf("%s: %+v", NativeFile, native)
	}
}

var (
	buildOnce sync.Once
	jbBinary  string
	buildErr  error
)

// jellybeanBinary builds bin/jellybean once for the tests that run whole profiling jobs.
func jellybeanBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "jb-profile-test")
		if err != nil {
			buildErr = err
			return
		}
		jbBinary = filepath.Join(dir, "jellybean")
		if out, err := exec.Command("go", "build", "-o", jbBinary, "jellybean/job").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return jbBinary
}

// fixtureData writes a three-item split of the workload's fixture items under dir and returns its manifest.
func fixtureData(t *testing.T, dir string) string {
	t.Helper()
	var manifest strings.Builder
	for i := range 3 {
		for _, ext := range []string{"png", "wav"} {
			data, err := os.ReadFile(fmt.Sprintf("../../workloads/vqa/testdata/fixtures/item%d.%s", i, ext))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("item%d.%s", i, ext)), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Fprintf(&manifest, `{"id":%d,"image":"item%d.png","audio":"item%d.wav","question":"q","answer":"a"}`+"\n", i, i, i)
	}
	path := filepath.Join(dir, "manifest.jsonl")
	if err := os.WriteFile(path, []byte(manifest.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// freeBasePort returns a port p such that p … p+n-1 are free on 127.0.0.1 now.
func freeBasePort(t *testing.T, n int) int {
	t.Helper()
	for p := 31000 + int(time.Now().UnixNano()%2000)*4; ; p += n {
		ok := true
		for i := range n {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+i))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return p
		}
	}
}

type profileJob struct {
	root, hostfile, out string
	env                 []string
	extra               []string
}

// run runs `jellybean profile -H` as a user would, from root, and returns its combined output.
func (j profileJob) run(t *testing.T, data, workflowFile string) (string, error) {
	t.Helper()
	args := append([]string{"profile", "-H", j.hostfile, "--data", data, "--workflow", workflowFile, "--items", "3", "--repeats", "2",
		"--batch", "1,2", "--threads", "1", "--port", strconv.Itoa(freeBasePort(t, 4)), "--runs", filepath.Join(t.TempDir(), "runs"), "-o", j.out}, j.extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, jellybeanBinary(t), args...)
	cmd.Dir, cmd.Env = j.root, append(os.Environ(), j.env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// checkProfile checks the merged files: every rank's rows, sane latencies, a larger image variant slower
// than the smallest, and message sizes equal to the tensors' sizes.
func checkProfile(t *testing.T, dir string, wantHosts []string) {
	t.Helper()
	models, err := vqa.LoadModels("../../workloads/vqa/models")
	if err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, filepath.Join(dir, "latency.csv"))
	perRank := map[string]int{}
	// Variant -> fastest ms per item over ranks and batch sizes (p50 of 2 runs = the faster run): other
	// processes only ever add time, so the minimum compares the models, not the machine's load.
	image := map[string]float64{}
	for _, r := range rows[1:] {
		rank, _ := strconv.Atoi(r[10])
		if r[1] != wantHosts[rank] || r[11] != "cpu" || r[12] != "1" {
			t.Errorf("row of rank %d: %v (want host %s, cpu, 1 thread)", rank, r, wantHosts[rank])
		}
		perRank[r[10]]++
		// 15: cold_ms_per_item, a starved worker's op and runner (the profile job has its peer process).
		for _, col := range []int{5, 6, 7, 8, 9, 15} {
			if v, err := strconv.ParseFloat(r[col], 64); err != nil || !(v > 0) {
				t.Errorf("latency.csv row %v: column %s = %q", r, rows[0][col], r[col])
			}
		}
		if r[0] == "ImageFeatures" {
			p50, _ := strconv.ParseFloat(r[6], 64)
			b, _ := strconv.ParseFloat(r[3], 64)
			if cur, ok := image[r[2]]; !ok || p50/b < cur {
				image[r[2]] = p50 / b
			}
		}
	}
	for rank := range wantHosts {
		if n := perRank[strconv.Itoa(rank)]; n != 2*len(models) {
			t.Errorf("rank %d: %d latency rows, want %d (every model at 2 batch sizes)", rank, n, 2*len(models))
		}
	}
	if small, large := image["res16"], image["res64"]; !(large > small) {
		t.Errorf("ImageFeatures res64 %.4f ms per item not slower than res16 %.4f ms (fastest over ranks and batches)", large, small)
	}
	if rows := readCSV(t, filepath.Join(dir, "execution_profile_p90.csv")); len(rows) != len(models)*len(uniq(wantHosts)) {
		t.Errorf("execution_profile_p90.csv: %d rows, want one per model and host", len(rows))
	}
	in := map[string]float64{"ReadImage": 4 * 3 * 64 * 64, "ImageFeatures": 4 * 128}
	var audio float64
	for i := range 3 {
		wav, err := transforms.LoadWAV(fmt.Sprintf("../../workloads/vqa/testdata/fixtures/item%d.wav", i))
		if err != nil {
			t.Fatal(err)
		}
		audio += float64(4*len(wav)) / 3
	}
	in["ReadSpeech"] = audio
	msgs := readCSV(t, filepath.Join(dir, "message_sizes.csv"))
	if len(msgs) < 4 {
		t.Fatalf("message_sizes.csv: %v", msgs)
	}
	for _, m := range msgs {
		kb, err := strconv.ParseFloat(m[4], 64)
		if m[0] == "SpeechRecognition" { // the recognised question, as text: one byte per character
			if err != nil || !(kb*1024 >= 1 && kb*1024 <= 64+FramingKB*1024) {
				t.Errorf("message %v: %s KB, want a short question's length and its framing", m, m[4])
			}
			continue
		}
		if want := in[m[0]] / 1024; err != nil || kb < want || kb > want+FramingKB {
			t.Errorf("message %v: %s KB, want %.4f (the tensor's size) plus at most %.2f KB of framing", m, m[4], want, FramingKB)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, NativeFile)); err != nil {
		t.Error(err)
	}
}

// checkTurns checks turns.csv: ranks (all on this machine) measured one after another, in rank order.
func checkTurns(t *testing.T, dir string, ranks int) {
	t.Helper()
	rows := readCSV(t, filepath.Join(dir, "turns.csv"))
	if len(rows) != ranks+1 {
		t.Fatalf("turns.csv: %v", rows)
	}
	var prevEnd int64
	for i, r := range rows[1:] {
		start, _ := strconv.ParseInt(r[3], 10, 64)
		end, _ := strconv.ParseInt(r[4], 10, 64)
		if r[0] != strconv.Itoa(i) || r[2] != strconv.Itoa(i) || start < prevEnd || end < start {
			t.Errorf("turns.csv row %v: want rank %d in turn %d, starting after the previous turn ended (%d)", r, i, i, prevEnd)
		}
		prevEnd = end
	}
}

func uniq(s []string) map[string]bool {
	m := map[string]bool{}
	for _, v := range s {
		m[v] = true
	}
	return m
}

// TestProfileJobLocalhost runs `jellybean profile -H` with three ranks on localhost: they take turns,
// rank 0 gathers and writes every rank's rows, and the launcher shows which rank measures which model.
func TestProfileJobLocalhost(t *testing.T) {
	if testing.Short() {
		t.Skip("needs ONNX Runtime and a jellybean build")
	}
	tmp := t.TempDir()
	data := fixtureData(t, tmp)
	hf := filepath.Join(tmp, "hostfile")
	if err := os.WriteFile(hf, []byte("localhost slots=3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	flow, _ := filepath.Abs("../../workloads/vqa/workflow.toml")
	root, _ := filepath.Abs("../..")
	job := profileJob{root: root, hostfile: hf, out: filepath.Join(tmp, "prof")}
	out, err := job.run(t, data, flow)
	if err != nil {
		t.Fatalf("profile: %v\n%s", err, out)
	}
	for _, want := range []string{"rank 0 (localhost): measuring (turn 1 of 3", "rank 2 (localhost): measuring (turn 3 of 3", "rank 1 (localhost): profile: ImageFeatures res64 batch 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	checkTurns(t, job.out, 3)
	checkProfile(t, job.out, []string{"localhost", "localhost", "localhost"})
}

// TestProfileJobSSH runs a rank over a real sshd on loopback (127.0.0.2 counts as another host), then
// the same job with that host's root lacking the models: the job fails naming rank 1 and its host.
func TestProfileJobSSH(t *testing.T) {
	if testing.Short() {
		t.Skip("needs ONNX Runtime and a jellybean build")
	}
	srv := sshtest.Start(t)
	tmp := t.TempDir()
	data := fixtureData(t, tmp)
	root := filepath.Join(tmp, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	vqaDir, _ := filepath.Abs("../../workloads/vqa") // the workflow file, its vocabulary and its models
	if err := os.Symlink(vqaDir, filepath.Join(root, "vqa")); err != nil {
		t.Fatal(err)
	}
	lib, _ := filepath.Abs("../../.cache/onnxruntime/1.29.0/libonnxruntime.so.1")
	if v := os.Getenv("JELLYBEAN_ORT_LIB"); v != "" {
		lib = v
	}
	hf := filepath.Join(tmp, "hostfile")
	if err := os.WriteFile(hf, []byte("localhost slots=1\n"+sshtest.Hosts[0]+" slots=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(srv.Env(), "JELLYBEAN_REMOTE_BIN="+jellybeanBinary(t), "JELLYBEAN_REMOTE_ORT_LIB="+lib, "JELLYBEAN_ORT_LIB="+lib)
	job := profileJob{root: root, hostfile: hf, out: filepath.Join(tmp, "prof"), env: env}
	out, err := job.run(t, data, "vqa/workflow.toml")
	if err != nil {
		t.Fatalf("profile: %v\n%s\nsshd log:\n%s", err, out, srv.Log())
	}
	checkProfile(t, job.out, []string{"localhost", sshtest.Hosts[0]})
	checkTurns(t, job.out, 2) // two host names, one machine (same boot id): the ranks still take turns

	bare := filepath.Join(tmp, "bare") // a host whose checkout has the workflow but no models directory
	if err := os.MkdirAll(filepath.Join(bare, "vqa"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"workflow.toml", "vocab.json"} {
		data, err := os.ReadFile(filepath.Join(vqaDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bare, "vqa", f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	job.env = append(job.env, "JELLYBEAN_REMOTE_ROOT="+bare)
	job.out = filepath.Join(tmp, "prof2")
	out, err = job.run(t, data, "vqa/workflow.toml")
	if err == nil {
		t.Fatalf("profile succeeded with rank 1's models missing:\n%s", out)
	}
	for _, want := range []string{"rank 1 (host " + sshtest.Hosts[0] + ") failed", "models"} {
		if !strings.Contains(out, want) {
			t.Errorf("error output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(job.out, "latency.csv")); err == nil {
		t.Errorf("a failed profile wrote %s", filepath.Join(job.out, "latency.csv"))
	}
}
