package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"jellybean/job/pipeline"
	"jellybean/workloads/ocr/dataset"
)

func init() {
	registerBench("ocr-memory", "peak memory of the OCR job on pages dense with lines against normal pages, in this process on loopback", benchOCRMemory)
}

// benchOCRMemory generates (once, into --data) a set of normal pages and a set of dense ones, then runs
// the OCR plan over each in turn and prints every run's peak Go heap and resident set.
func benchOCRMemory(args []string) error {
	fs := flag.NewFlagSet("bench ocr-memory", flag.ContinueOnError)
	o := pipeline.MemoryBenchOptions{}
	fs.StringVar(&o.Hostfile, "H", "hostfiles/localhost-ocr", "hostfile")
	fs.StringVar(&o.Plan, "p", "plan/examples/ocr.toml", "plan")
	pages := fs.Int("pages", 8, "pages per dataset")
	data := fs.String("data", "workloads/ocr/data/bench-memory", "where the generated pages are kept")
	fs.IntVar(&o.Rounds, "rounds", 1, "runs of each dataset, alternating")
	if err := fs.Parse(args); err != nil {
		return err
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	o.Root = root
	o.Logf = func(f string, a ...any) { fmt.Fprintf(os.Stderr, "bench ocr-memory: "+f+"\n", a...) }
	for _, ds := range []struct {
		name string
		gen  func(string, int, int64) error
	}{{"normal", dataset.Generate}, {"dense", dataset.GenerateDense}} {
		dir := filepath.Join(*data, fmt.Sprintf("%s-%d", ds.name, *pages))
		manifest := filepath.Join(dir, dataset.ManifestName)
		if _, err := os.Stat(manifest); err != nil {
			o.Logf("generating %d %s pages into %s", *pages, ds.name, dir)
			if err := ds.gen(dir, *pages, dataset.TestSeed); err != nil {
				return err
			}
		}
		o.Datasets = append(o.Datasets, pipeline.NamedDataset{Name: ds.name, Manifest: manifest})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	runs, err := pipeline.BenchMemory(ctx, o)
	if err != nil {
		return err
	}
	out, _ := json.MarshalIndent(runs, "", "  ")
	fmt.Println(string(out))
	return nil
}
