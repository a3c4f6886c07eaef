// Command jellybean is the one program of a JellyBean job: every rank runs `jellybean run`, and the
// optimizer, launcher, evaluator and benchmarks are sub-commands of the same binary so that a single
// prebuilt file is all a host needs.
//
// This file only dispatches. Each sub-command lives in its own cmd_*.go file and registers itself in
// init(), so that independent features never edit the same lines.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"

	_ "jellybean/workloads/all" // the steps workflow files name
)

// command is one sub-command: run receives the arguments after the sub-command's name.
type command struct {
	summary string
	run     func(args []string) error
}

var commands = map[string]command{}

// register adds a sub-command; called from init() in the cmd_*.go files.
func register(name, summary string, run func(args []string) error) {
	if _, dup := commands[name]; dup {
		panic("jellybean: sub-command registered twice: " + name)
	}
	commands[name] = command{summary: summary, run: run}
}

// exitCoder lets a sub-command choose its exit status (e.g. the launcher propagating a rank's failure).
type exitCoder interface{ ExitCode() int }

func usage() {
	fmt.Fprintln(os.Stderr, "usage: jellybean <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, commands[n].summary)
	}
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "jellybean: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err := cmd.run(os.Args[2:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "jellybean %s: %v\n", os.Args[1], err)
		var ec exitCoder
		if errors.As(err, &ec) {
			os.Exit(ec.ExitCode())
		}
		os.Exit(1)
	}
}
