package profile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"jellybean/job/launch"
)

// Over a hostfile, the profiler runs once per distinct host, one host after another (hosts emulated on
// one machine, or sharing a switch, must not perturb each other's measurements): in this process for
// the local host, through ssh (the launcher's JELLYBEAN_SSH_* settings) elsewhere. Each remote profiler
// prints its Result as JSON; the results are merged into one set of CSVs.

// SSHCommand is the ssh client and arguments that run `jellybean profile --json` on host. Pure.
func SSHCommand(o launch.SSHOptions, root, host string, profileArgs []string) (string, []string) {
	client := o.Client
	if client == "" {
		client = "ssh"
	}
	if o.RemoteRoot != "" {
		root = o.RemoteRoot
	}
	bin := o.RemoteBinary
	if bin == "" {
		bin = "bin/jellybean"
	}
	var remote strings.Builder
	fmt.Fprintf(&remote, "cd %s &&", shellQuote(root))
	if o.RemoteORTLib != "" {
		fmt.Fprintf(&remote, " JELLYBEAN_ORT_LIB=%s", shellQuote(o.RemoteORTLib))
	}
	fmt.Fprintf(&remote, " %s profile", shellQuote(bin))
	for _, a := range append(append([]string(nil), profileArgs...), "--host", host, "--json") {
		fmt.Fprintf(&remote, " %s", shellQuote(a))
	}
	timeout := o.ConnectTimeout
	if timeout <= 0 {
		timeout = 10
	}
	args := []string{"-o", "BatchMode=yes", "-o", "ConnectTimeout=" + strconv.Itoa(timeout)}
	if o.Port != 0 {
		args = append(args, "-p", strconv.Itoa(o.Port))
	}
	if o.Identity != "" {
		args = append(args, "-i", o.Identity)
	}
	args = append(args, o.Extra...)
	return client, append(args, "--", host, remote.String())
}

// RunRemote runs the profiler on host through ssh and decodes its Result.
func RunRemote(o launch.SSHOptions, root, host string, profileArgs []string) (*Result, error) {
	client, args := SSHCommand(o, root, host, profileArgs)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(client, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("profile on host %s: %v: %s", host, err, strings.TrimSpace(stderr.String()))
	}
	var r Result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return nil, fmt.Errorf("profile on host %s: its output is not a profile: %v", host, err)
	}
	return &r, nil
}

// Merge combines per-host results: every latency keeps its host; message sizes (a property of the
// models and data, not of the host) come from the first result.
func Merge(results []*Result) *Result {
	out := &Result{}
	for i, r := range results {
		for _, l := range r.Latencies {
			if l.Host == "" {
				l.Host = r.Host
			}
			out.Latencies = append(out.Latencies, l)
		}
		if i == 0 {
			out.Host, out.Messages = r.Host, r.Messages
		}
	}
	return out
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
