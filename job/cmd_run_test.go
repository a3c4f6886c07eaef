package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"jellybean/job/pipeline"
)

// These tests run the real binary's `run` sub-command the way launch.sh, srun or mpirun start it.

const testSecret = "00112233445566778899aabbccddeeff"

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "jellybean-run-test-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "jellybean")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func root(t *testing.T) string {
	r, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runRankCmd runs `jellybean run args...` in the JellyBean root with a bounded time.
func runRankCmd(t *testing.T, env []string, args ...string) (stderr string, err error) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"run"}, args...)...)
	cmd.Dir = root(t)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stderr = &out
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("jellybean run %v hung; output:\n%s", args, out.String())
	}
	return out.String(), err
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func defaultPlanWith(t *testing.T, old, new string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root(t), "plan", "examples", "default.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("default plan has no %q", old)
	}
	return strings.Replace(string(data), old, new, 1)
}

func TestRunBadInputs(t *testing.T) {
	dir := t.TempDir()
	goodHF := filepath.Join(root(t), "hostfiles", "localhost")
	goodPlan := filepath.Join(root(t), "plan", "examples", "default.toml")
	env := []string{"JELLYBEAN_JOB_ID=badinput", "JELLYBEAN_JOB_SECRET=" + testSecret}
	runDir := filepath.Join(dir, "run")

	// A port that is already taken: the plan's base port on loopback, held by this test.
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	heldPort := held.Addr().(*net.TCPAddr).Port
	portHF := writeFile(t, dir, "hf-port", "127.0.0.1 slots=6\n")
	// The port check comes after plan validation, which needs a dataset that exists: a one-item manifest
	// over the workload's committed fixture files (a clean checkout has no generated data).
	fixtures := filepath.Join(root(t), "workloads", "vqa", "testdata", "fixtures")
	for _, f := range []string{"item0.png", "item0.wav"} {
		data, err := os.ReadFile(filepath.Join(fixtures, f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, f, string(data))
	}
	manifest := writeFile(t, dir, "manifest.jsonl",
		`{"id":0,"image":"item0.png","audio":"item0.wav","question":"what color is the circle","answer":"red","type":"color"}`+"\n")
	portPlanText := defaultPlanWith(t, "base_port = 29500", fmt.Sprintf("base_port = %d", heldPort))
	portPlanText = strings.Replace(portPlanText, `"workloads/vqa/data/test/manifest.jsonl"`, fmt.Sprintf("%q", manifest), 1)
	portPlan := writeFile(t, dir, "port.toml", strings.ReplaceAll(portPlanText, `"localhost"`, `"127.0.0.1"`))

	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"broken hostfile", env, []string{"-H", writeFile(t, dir, "hf-bad", "localhost slots=six\n"), "-p", goodPlan, "--rank", "0"},
			"hf-bad:1: slots must be a positive integer"},
		{"missing hostfile", env, []string{"-H", filepath.Join(dir, "nope"), "-p", goodPlan, "--rank", "0"}, "reading hostfile"},
		{"unknown plan key", env, []string{"-H", goodHF, "-p", writeFile(t, dir, "typo.toml", defaultPlanWith(t, "weight = 1.0", "wieght = 1.0")), "--rank", "0"},
			"typo.toml: unknown key(s): stage.worker.wieght"},
		{"unknown variant", env, []string{"-H", goodHF, "-p", writeFile(t, dir, "model.toml", defaultPlanWith(t, `variant = "ctc-large"`, `variant = "ctc-huge"`)), "--rank", "0"},
			`stage[3] "SpeechRecognition": variant = "ctc-huge": not a variant of workflow node "SpeechRecognition"`},
		{"host not in hostfile", env, []string{"-H", writeFile(t, dir, "hf-other", "node7 slots=6\n"), "-p", goodPlan, "--rank", "0"},
			`host = "localhost" is not in hostfile`},
		{"rank out of range", env, []string{"-H", goodHF, "-p", goodPlan, "--rank", "6"},
			"rank 6 (from --rank) out of range: hostfile " + goodHF + " has 6 slots (ranks 0..5)"},
		{"rank from environment out of range", append(env, "OMPI_COMM_WORLD_RANK=9"), []string{"-H", goodHF, "-p", goodPlan},
			"rank 9 (from OMPI_COMM_WORLD_RANK) out of range"},
		{"no rank", env, []string{"-H", goodHF, "-p", goodPlan}, "no rank: pass --rank or set one of"},
		{"world size disagrees", append(env, "SLURM_PROCID=1", "SLURM_NTASKS=4"), []string{"-H", goodHF, "-p", goodPlan},
			"SLURM_NTASKS=4 but hostfile"},
		{"no secret", []string{"JELLYBEAN_JOB_ID=x", "JELLYBEAN_JOB_SECRET="}, []string{"-H", goodHF, "-p", goodPlan, "--rank", "0"},
			"no job secret: set JELLYBEAN_JOB_SECRET"},
		{"port in use", env, []string{"-H", portHF, "-p", portPlan, "--rank", "0", "--run-dir", runDir},
			fmt.Sprintf("rank 0 (127.0.0.1): port %d: ", heldPort)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "port in use" && testing.Short() {
				t.Skip("a rank reaches its port after checking the models with ONNX Runtime")
			}
			out, err := runRankCmd(t, tc.env, tc.args...)
			if err == nil {
				t.Fatalf("exit status 0; output:\n%s", out)
			}
			if strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
				t.Fatalf("panicked:\n%s", out)
			}
			var errLines []string
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				if strings.HasPrefix(l, "jellybean run: ") {
					errLines = append(errLines, l)
				}
			}
			if len(errLines) != 1 || !strings.Contains(errLines[0], tc.want) {
				t.Fatalf("want one error line containing %q, got:\n%s", tc.want, out)
			}
		})
	}
}

// TestSecretStdinLifeline: a rank started with --secret-stdin (the ssh path) exits promptly once its
// stdin closes, even while it is waiting for peers that never come.
func TestSecretStdinLifeline(t *testing.T) {
	cmd := exec.Command(binary, "run", "-H", "hostfiles/localhost", "-p", "plan/examples/default.toml",
		"--rank", "2", "--run-dir", t.TempDir(), "--secret-stdin")
	cmd.Dir = root(t)
	cmd.Env = append(os.Environ(), "JELLYBEAN_JOB_ID=lifeline", "JELLYBEAN_JOB_SECRET=")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(stdin, testSecret)
	// Wait until the rank is up (it logs its role), then cut the lifeline.
	sc := bufio.NewScanner(stderr)
	var log strings.Builder
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "stage ImageFeatures") {
			break
		}
	}
	go func() {
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
		}
	}()
	start := time.Now()
	stdin.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("rank exited 0 after losing its launcher")
		}
		if el := time.Since(start); el > 10*time.Second {
			t.Fatalf("rank took %v to exit after stdin closed", el)
		}
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("rank still running 15 s after stdin closed:\n%s", log.String())
	}
}

// TestJobOfSixProcesses runs the default plan (limited to a few items) as six real processes, ranks
// from the environment as under mpirun, and checks the run directory.
func TestJobOfSixProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ONNX Runtime in six processes")
	}
	dir := t.TempDir()
	gen := exec.Command(binary, "gen-data", "--out", filepath.Join(dir, "data"), "--split", "test", "--n", "24")
	gen.Dir = root(t)
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("generating the test dataset (needs espeak-ng): %v\n%s", err, out)
	}
	manifest := filepath.Join(dir, "data", "test", "manifest.jsonl")
	base, err := pipeline.FreeBasePort(6, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	planText := defaultPlanWith(t, "base_port = 29500", fmt.Sprintf("base_port = %d", base))
	planText = strings.Replace(planText, "batch_size = 8", "batch_size = 4", 1)
	planText = strings.Replace(planText, `dataset = "workloads/vqa/data/test/manifest.jsonl"`, fmt.Sprintf("dataset = %q", manifest), 1)
	planPath := writeFile(t, dir, "plan.toml", planText)
	runDir := filepath.Join(dir, "run")
	var procs []*exec.Cmd
	var outs []*bytes.Buffer
	for r := 0; r < 6; r++ {
		cmd := exec.Command(binary, "run", "-H", "hostfiles/localhost", "-p", planPath, "--run-dir", runDir)
		cmd.Dir = root(t)
		cmd.Env = append(os.Environ(), "JELLYBEAN_JOB_ID=six", "JELLYBEAN_JOB_SECRET="+testSecret, fmt.Sprintf("OMPI_COMM_WORLD_RANK=%d", r), "OMPI_COMM_WORLD_SIZE=6")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs, outs = append(procs, cmd), append(outs, &out)
	}
	deadline := time.AfterFunc(90*time.Second, func() {
		for _, p := range procs {
			p.Process.Kill()
		}
	})
	defer deadline.Stop()
	for r, p := range procs {
		if err := p.Wait(); err != nil {
			t.Errorf("rank %d: %v\n%s", r, err, outs[r])
		}
	}
	if t.Failed() {
		return
	}
	results, err := os.ReadFile(filepath.Join(runDir, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(results), "\n"); n != 24 {
		t.Fatalf("%d results, want 24", n)
	}
	for _, f := range []string{"plan.toml", "hostfile", "summary.json", "timing/0.csv", "timing/5.csv"} {
		if _, err := os.Stat(filepath.Join(runDir, f)); err != nil {
			t.Errorf("run directory: %v", err)
		}
	}
	if !strings.Contains(outs[5].String(), `jellybean-progress {"done":24,"total":24}`) {
		t.Errorf("sink printed no final progress line:\n%s", outs[5])
	}
}

func TestJobIdentity(t *testing.T) {
	tests := []struct {
		env            map[string]string
		runDir         string
		wantID, wantRD string
		err            string
	}{
		{map[string]string{"JELLYBEAN_JOB_ID": "j1", "SLURM_JOB_ID": "9"}, "runs/x", "j1", "runs/x", ""},
		{map[string]string{"JELLYBEAN_JOB_ID": "j1"}, "", "j1", "runs/j1", ""},
		{map[string]string{"SLURM_JOB_ID": "77"}, "", "slurm-77", "runs/slurm-77", ""},
		{map[string]string{"PMIX_NAMESPACE": "prterun-node1-123@1"}, "", "mpi-prterun-node1-123-1", "runs/mpi-prterun-node1-123-1", ""},
		{nil, "runs/mine", "mine", "runs/mine", ""},
		{nil, "", "", "", "no job id"},
	}
	for _, tc := range tests {
		id, rd, err := jobIdentity(tc.runDir, func(k string) string { return tc.env[k] })
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: error %v, want %q", tc.env, err, tc.err)
			}
			continue
		}
		if err != nil || id != tc.wantID || rd != tc.wantRD {
			t.Errorf("%v %q: got %q %q %v, want %q %q", tc.env, tc.runDir, id, rd, err, tc.wantID, tc.wantRD)
		}
	}
}
