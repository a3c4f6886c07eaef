// Command fakerank is a test fixture of the launcher: a process that takes the command line and secret
// of a `jellybean run` rank and then behaves as fakerank.json (in its working directory) says, so that
// the launcher's supervision (failure, stop, escalation, lifeline, progress) can be tested without a
// real job. It is built by the launcher's tests only.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// behaviour of one rank; zero values mean "exit 0 at once".
type behaviour struct {
	Sleep      string `json:"sleep"`       // run this long before exiting
	Exit       int    `json:"exit"`        // exit status at the end
	Say        string `json:"say"`         // line printed to stderr before exiting
	IgnoreTerm bool   `json:"ignore_term"` // survive SIGTERM (tests the SIGKILL escalation)
	UntilFile  string `json:"until_file"`  // end the sleep early once this file exists (the test's cue)
	Progress   int    `json:"progress"`    // print this many progress lines while sleeping
}

func main() {
	if len(os.Args) < 2 || os.Args[1] != "run" {
		fmt.Fprintln(os.Stderr, "fakerank: want `run` as the first argument")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	hostfile := fs.String("H", "", "")
	planPath := fs.String("p", "", "")
	rank := fs.Int("rank", -1, "")
	runDir := fs.String("run-dir", "", "")
	resume := fs.Bool("resume", false, "")
	secretStdin := fs.Bool("secret-stdin", false, "")
	_ = fs.Parse(os.Args[2:])

	secret := os.Getenv("JELLYBEAN_JOB_SECRET")
	if *secretStdin {
		in := bufio.NewReader(os.Stdin)
		line, err := in.ReadString('\n')
		if err != nil {
			fmt.Fprintln(os.Stderr, "fakerank: no secret on stdin:", err)
			os.Exit(2)
		}
		secret = line[:len(line)-1]
		go func() { // lifeline: the launcher closed our stdin
			buf := make([]byte, 1)
			for {
				if _, err := in.Read(buf); err != nil {
					fmt.Fprintln(os.Stderr, "fakerank: lifeline closed")
					os.Exit(7)
				}
			}
		}()
	}
	for _, p := range []string{*hostfile, *planPath} {
		if _, err := os.Stat(p); err != nil {
			fmt.Fprintln(os.Stderr, "fakerank:", err)
			os.Exit(2)
		}
	}
	// Record what this rank was given, for the test to check.
	seen := map[string]any{"secret": secret, "job_id": os.Getenv("JELLYBEAN_JOB_ID"), "resume": *resume,
		"pid": os.Getpid(), "stdin": *secretStdin, "args": os.Args}
	data, _ := json.Marshal(seen)
	_ = os.MkdirAll(filepath.Join(*runDir, "fake"), 0o755)
	_ = os.WriteFile(filepath.Join(*runDir, "fake", strconv.Itoa(*rank)+".json"), data, 0o644)

	var all map[string]behaviour
	if data, err := os.ReadFile("fakerank.json"); err == nil {
		if err := json.Unmarshal(data, &all); err != nil {
			fmt.Fprintln(os.Stderr, "fakerank: fakerank.json:", err)
			os.Exit(2)
		}
	}
	b, ok := all[strconv.Itoa(*rank)]
	if !ok {
		b = all["*"]
	}
	if b.IgnoreTerm {
		signal.Ignore(syscall.SIGTERM)
	}
	fmt.Printf("fakerank %d started\n", *rank)
	d, _ := time.ParseDuration(b.Sleep)
	steps := max(b.Progress, 1)
	for i := 1; i <= steps; i++ {
		nap(d/time.Duration(steps), b.UntilFile)
		if b.Progress > 0 {
			fmt.Printf("jellybean-progress {\"done\":%d,\"total\":%d}\n", i, b.Progress)
		}
	}
	if b.Say != "" {
		fmt.Fprintln(os.Stderr, b.Say)
	}
	os.Exit(b.Exit)
}

// nap sleeps for d, or until the file cue exists.
func nap(d time.Duration, cue string) {
	if cue == "" {
		time.Sleep(d)
		return
	}
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(cue); err == nil {
			return
		}
	}
}
