package bench

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// Worker processes are this test binary re-executed with SpecEnv set.
func TestMain(m *testing.M) {
	if os.Getenv(SpecEnv) != "" {
		if err := Worker(context.Background()); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestRunSmall(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"alltoall", Options{Ranks: 3, Bytes: 64 << 10, Compress: "off", Data: "random", Mode: "alltoall", Rounds: 20, Repeat: 1, Baseline: true}},
		{"compressed", Options{Ranks: 2, Bytes: 256 << 10, Compress: "fastest", Data: "image", Mode: "alltoall", Rounds: 10, Repeat: 1}},
		{"stream", Options{Ranks: 2, Bytes: 1 << 20, Compress: "off", Data: "features", Mode: "stream", Rounds: 20, Repeat: 2, Baseline: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.Command = []string{os.Args[0], "-test.run=^$"}
			res, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if res.AggregateGBps <= 0 || len(res.Samples) != o.Repeat || res.Ranks != o.Ranks || res.Bytes != o.Bytes {
				t.Fatalf("result %+v", res)
			}
			if o.Baseline && (res.TCPGBps <= 0 || res.VsTCP <= 0) {
				t.Fatalf("baseline missing: %+v", res)
			}
			if res.CPUSecPerGB <= 0 || o.Baseline && (res.TCPCPUSecPerGB <= 0 || res.CPUVsTCP <= 0) {
				t.Fatalf("CPU cost per GB missing: %+v", res)
			}
			if o.Compress == "off" && res.Ratio != 1 {
				t.Fatalf("ratio %v without compression", res.Ratio)
			}
			if o.Compress == "fastest" && (res.Ratio < 3 || res.OffGBps <= 0) {
				t.Fatalf("image data with zstd: ratio %v, off %v", res.Ratio, res.OffGBps)
			}
		})
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	cmd := []string{os.Args[0]}
	for _, o := range []Options{
		{Ranks: 1, Mode: "alltoall", Data: "random", Command: cmd},
		{Ranks: 3, Mode: "stream", Data: "random", Command: cmd},
		{Ranks: 2, Mode: "alltoall", Data: "noise", Command: cmd},
		{Ranks: 2, Mode: "broadcast", Data: "random", Command: cmd},
		{Ranks: 4, Mode: "alltoall", Data: "random", Link: "100mbit", Command: cmd},
	} {
		if _, err := Run(context.Background(), o); err == nil {
			t.Errorf("Run accepted %+v", o)
		}
	}
	// A failing worker fails the run with its rank and message.
	o := Options{Ranks: 2, Bytes: 10, Mode: "alltoall", Data: "random", Compress: "lz4", Rounds: 1, Repeat: 1,
		Command: []string{os.Args[0], "-test.run=^$"}}
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "lz4") {
		t.Errorf("bad compression: %v", err)
	}
}

// TestDataKinds checks the synthetic payloads have the compressibility they stand for.
func TestDataKinds(t *testing.T) {
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	defer enc.Close()
	want := map[string][2]float64{"random": {0.99, 1.01}, "features": {1.5, 2.2}, "image": {4, 12}, "audio": {1.2, 2}}
	for _, k := range DataKinds {
		b, err := Generate(k, 1<<20, 7)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := Generate(k, 1<<20, 7)
		if string(b) != string(c) {
			t.Fatalf("%s: not deterministic", k)
		}
		r := float64(len(b)) / float64(len(enc.EncodeAll(b, nil)))
		if r < want[k][0] || r > want[k][1] {
			t.Errorf("%s: zstd ratio %.2f outside %v", k, r, want[k])
		}
	}
	if _, err := Generate("video", 10, 0); err == nil {
		t.Error("unknown kind accepted")
	}
}
