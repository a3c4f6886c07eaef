package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"jellybean/collective/bench"
)

func init() {
	registerBench("collective", "AllToAllV / streaming over loopback with N real rank processes, vs plain TCP (and Open MPI)", benchCollective)
}

func benchCollective(args []string) error {
	fs := flag.NewFlagSet("bench collective", flag.ContinueOnError)
	o := bench.Options{}
	fs.IntVar(&o.Ranks, "ranks", 4, "number of rank processes")
	fs.IntVar(&o.Bytes, "bytes", 1<<20, "bytes per destination per AllToAllV (or per message with --mode stream)")
	fs.StringVar(&o.Compress, "compress", "off", "off|fastest|default|auto")
	fs.StringVar(&o.Data, "data", "random", "random|features|image|audio")
	fs.StringVar(&o.Mode, "mode", "alltoall", "alltoall|stream (stream: rank 1 sends to rank 0; needs --ranks 2)")
	fs.IntVar(&o.Rounds, "rounds", 0, "operations per sample (0: about 768 MiB sent per rank)")
	fs.IntVar(&o.Repeat, "repeat", 3, "samples per variant, interleaved; medians are reported")
	fs.BoolVar(&o.Baseline, "baseline", true, "also measure plain TCP with the same pattern in the same run")
	fs.StringVar(&o.Link, "link", "", "shape the link (e.g. 100mbit; needs --ranks 2, root, iproute2): ranks run in their own network namespaces")
	mpi := fs.Bool("mpi", false, "also measure Open MPI's MPI_Alltoallv over its TCP transport (needs mpicc, mpirun)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	o.Command = []string{exe, "collective-worker"}
	if *mpi {
		dir, err := os.MkdirTemp("", "jellybean-mpi-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if o.MPI, err = bench.BuildMPI(dir); err != nil {
			return err
		}
	}
	res, err := bench.Run(context.Background(), o)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}
