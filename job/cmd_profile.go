package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"jellybean/job/onnx"
	"jellybean/job/profile"
	"jellybean/job/sweep"
	"jellybean/workloads/vqa"
)

func init() {
	register("profile", "measure every model variant's latency and every edge's message size on this host; write optimizer CSVs", cmdProfile)
}

func cmdProfile(args []string) error {
	fs := flag.NewFlagSet("profile", flag.ContinueOnError)
	data := fs.String("data", "workloads/vqa/data/val/manifest.jsonl", "dataset split whose items are profiled")
	items := fs.Int("items", 16, "items taken from the split")
	models := fs.String("models", vqa.DefaultModelsDir, "models directory (models.json)")
	batches := fs.String("batch", "1,8", "batch sizes")
	repeats := fs.Int("repeats", 10, "timed runs per model and batch size")
	threads := fs.Int("threads", 1, "intra-op threads per session")
	host := fs.String("host", "", "worker (type) name in the CSVs (default: this host's name)")
	out := fs.String("o", "", "output directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("profile: -o DIR is required")
	}
	bs, err := sweep.ParseSizes(*batches)
	if err != nil {
		return fmt.Errorf("profile: --batch: %w", err)
	}
	if *host == "" {
		if *host, err = os.Hostname(); err != nil {
			return err
		}
	}
	man, err := vqa.LoadManifest(*data)
	if err != nil {
		return fmt.Errorf("profile: %w (generate the data with `jellybean gen-data`)", err)
	}
	var in profile.Inputs
	for i, it := range man.Items {
		if i == *items {
			break
		}
		img, shape, err := vqa.LoadImage(man.ImagePath(it))
		if err != nil {
			return err
		}
		if in.H == 0 {
			in.H, in.W = int(shape[1]), int(shape[2])
		} else if int(shape[1]) != in.H || int(shape[2]) != in.W {
			return fmt.Errorf("%s: image is %dx%d, earlier ones %dx%d", man.ImagePath(it), shape[1], shape[2], in.H, in.W)
		}
		wav, err := vqa.LoadWAV(man.AudioPath(it))
		if err != nil {
			return err
		}
		in.Images, in.Audio = append(in.Images, img), append(in.Audio, wav)
	}
	if _, err := onnx.Init(); err != nil {
		return err
	}
	res, err := profile.Measure(*models, in, profile.Options{Host: *host, Batches: bs, Repeats: *repeats, Threads: *threads, Progress: os.Stderr})
	if err != nil {
		return err
	}
	files, err := res.Files(*out)
	if err != nil {
		return err
	}
	fmt.Println("profile:", files)
	return nil
}
