package launch

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Job is what every rank of one launch shares: where the files are and how ranks identify the job.
type Job struct {
	Root     string // JellyBean root on this machine: working directory of local ranks
	Binary   string // jellybean executable for local ranks
	Hostfile string // hostfile copy in the run directory, relative to Root (or absolute)
	Plan     string // plan copy in the run directory, relative to Root (or absolute)
	RunDir   string // runs/<id>, relative to Root (or absolute)
	JobID    string
	Secret   string // hex; never placed on a command line
	// Rendezvous is rank 0's HOST:PORT, where the other ranks register the ports they bind ("" = fixed
	// ports: every rank at base_port + slot).
	Rendezvous string
	Resume     bool
	Command    []string // sub-command and flags ranks run instead of `run -p PLAN` (Config.Command)
}

// Invocation is how to start one rank: a pure description, so that the command lines can be tested
// without starting anything.
type Invocation struct {
	Rank   int
	Host   string
	Remote bool     // started through ssh: the secret goes to stdin, stdin stays open as a lifeline
	Path   string   // program to exec
	Args   []string // argv[1:]
	Env    []string // added to the launcher's environment (local ranks only)
	Dir    string   // working directory
}

// rankArgs are the `jellybean run` flags every rank gets, local or remote (or, for another sub-command,
// its own flags followed by the hostfile, rank and run directory).
func rankArgs(j Job, rank int) []string {
	if j.Command != nil {
		return append(append([]string(nil), j.Command...), "-H", j.Hostfile, "--rank", strconv.Itoa(rank), "--run-dir", j.RunDir)
	}
	args := []string{"run", "-H", j.Hostfile, "-p", j.Plan, "--rank", strconv.Itoa(rank), "--run-dir", j.RunDir}
	if j.Resume {
		args = append(args, "--resume")
	}
	return args
}

// LocalInvocation starts a rank on this machine: exec directly, secret in the environment.
func LocalInvocation(j Job, rank int, host string) Invocation {
	return Invocation{
		Rank: rank, Host: host,
		Path: j.Binary,
		Args: rankArgs(j, rank),
		Env:  append([]string{"JELLYBEAN_JOB_ID=" + j.JobID, "JELLYBEAN_JOB_SECRET=" + j.Secret}, rendezvousEnv(j)...),
		Dir:  j.Root,
	}
}

// rendezvousEnv tells a rank where the rendezvous is (or that the job uses fixed ports).
func rendezvousEnv(j Job) []string {
	if j.Rendezvous == "" {
		return []string{EnvFixedPorts + "=1"}
	}
	return []string{EnvRendezvous + "=" + j.Rendezvous}
}

// SSHInvocation starts a rank on another host through the ssh client. The remote command only carries
// public values (job id, paths); the secret is written as the first line of ssh's stdin by the launcher.
func SSHInvocation(j Job, rank int, host string, o SSHOptions) Invocation {
	root := o.RemoteRoot
	if root == "" {
		root = j.Root
	}
	bin := o.RemoteBinary
	if bin == "" {
		bin = path.Join("bin", "jellybean")
	}
	// No `exec`: the remote shell stays to turn a rank killed by a signal into a message and status
	// 128+signal (ssh itself would only say 255, the same as for its own failures).
	var remote strings.Builder
	fmt.Fprintf(&remote, "cd %s && env JELLYBEAN_JOB_ID=%s", shellQuote(root), shellQuote(j.JobID))
	for _, kv := range rendezvousEnv(j) {
		fmt.Fprintf(&remote, " %s", shellQuote(kv))
	}
	if o.RemoteORTLib != "" {
		fmt.Fprintf(&remote, " JELLYBEAN_ORT_LIB=%s", shellQuote(o.RemoteORTLib))
	}
	fmt.Fprintf(&remote, " %s", shellQuote(bin))
	for _, a := range rankArgs(j, rank) {
		fmt.Fprintf(&remote, " %s", shellQuote(a))
	}
	remote.WriteString(" --secret-stdin")
	fmt.Fprintf(&remote, `; s=$?; [ $s -gt 128 ] && echo "jellybean launch: rank %d killed by signal $((s-128)) on $(hostname)" >&2; exit $s`, rank)

	args := []string{"-o", "BatchMode=yes", "-o", "ConnectTimeout=" + strconv.Itoa(o.connectTimeout())}
	if o.Port != 0 {
		args = append(args, "-p", strconv.Itoa(o.Port))
	}
	if o.Identity != "" {
		args = append(args, "-i", o.Identity)
	}
	args = append(args, o.Extra...)
	// "--" ends ssh's options, so a host name cannot be taken for one.
	args = append(args, "--", host, remote.String())
	return Invocation{
		Rank: rank, Host: host, Remote: true,
		Path: o.client(),
		Args: args,
		Dir:  j.Root,
	}
}

// shellQuote quotes s for a POSIX shell (the remote login shell runs the ssh command line).
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
