package main

import (
	"errors"
	"flag"
	"fmt"
	"path/filepath"

	"jellybean/job/report"
)

func init() {
	register("report", "HTML report of a run: predicted vs measured throughput, bytes, latency, accuracy", cmdReport)
}

func cmdReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	run := fs.String("run", "", "run directory (runs/ID)")
	out := fs.String("o", "", "output directory (default RUN/report)")
	prof := fs.String("profile", "", "a `jellybean profile` output directory: compare its message sizes with the bytes measured per edge")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *run == "" {
		return errors.New("report: --run runs/ID is required")
	}
	if *out == "" {
		*out = filepath.Join(*run, "report")
	}
	path, err := report.Write(*run, *prof, *out)
	if err != nil {
		return err
	}
	fmt.Println("report:", path)
	return nil
}
