package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"

	"jellybean/hostfiles"
	"jellybean/job/launch"
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
	hostfile := fs.String("H", "", "hostfile: profile every distinct host in turn (through ssh, JELLYBEAN_SSH_* settings, for remote ones)")
	asJSON := fs.Bool("json", false, "print the profile as JSON instead of writing CSVs (what -H runs on remote hosts)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" && !*asJSON {
		return errors.New("profile: -o DIR is required")
	}
	if *hostfile != "" {
		// Everything but -H and -o is passed on to each host's profiler.
		var pass []string
		fs.Visit(func(f *flag.Flag) {
			if f.Name != "H" && f.Name != "o" && f.Name != "json" && f.Name != "host" {
				pass = append(pass, "--"+f.Name, f.Value.String())
			}
		})
		return profileHosts(*hostfile, pass, *out)
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
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	files, err := res.Files(*out)
	if err != nil {
		return err
	}
	fmt.Println("profile:", files)
	return nil
}

// profileHosts runs the profiler on every distinct host of the hostfile, one after another, and merges
// the results into one set of CSVs.
func profileHosts(path string, pass []string, out string) error {
	hf, err := hostfiles.Load(path)
	if err != nil {
		return err
	}
	opts, err := launch.SSHOptionsFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	hostname, _ := os.Hostname()
	var results []*profile.Result
	for _, host := range hf.HostNames() {
		fmt.Fprintf(os.Stderr, "profile: host %s\n", host)
		var r *profile.Result
		if launch.IsLocalHost(host, hostname) {
			r, err = runLocalProfile(self, host, pass)
		} else {
			r, err = profile.RunRemote(opts, root, host, pass)
		}
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	files, err := profile.Merge(results).Files(out)
	if err != nil {
		return err
	}
	fmt.Println("profile:", files)
	return nil
}

// runLocalProfile runs this program's profiler as a child, exactly as a remote host would.
func runLocalProfile(self, host string, pass []string) (*profile.Result, error) {
	cmd := exec.Command(self, append(append([]string{"profile"}, pass...), "--host", host, "--json")...)
	cmd.Stderr = os.Stderr
	data, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("profile on %s: %w", host, err)
	}
	var r profile.Result
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("profile on %s: %w", host, err)
	}
	return &r, nil
}
