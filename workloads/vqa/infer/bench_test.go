package infer

import (
	"fmt"
	"jellybean/workloads/transforms"
	"os"
	"path/filepath"
	"testing"

	"jellybean/workloads/vqa"
)

// BenchmarkModels measures every shipped model at batch 1 and 8 on the fixture items (one intra-op
// thread): go test -run xxx -bench Models ./workloads/vqa/infer/
// ns/op is per call; the item/s metric is what a single-threaded rank could sustain.
// VQA_BENCH_MODELS=DIR measures the models of another folder instead (a re-train's $OUT, candidates).
func BenchmarkModels(b *testing.B) {
	if err := initORTBench(); err != nil {
		b.Fatal(err)
	}
	dir := modelsDir
	if d := os.Getenv("VQA_BENCH_MODELS"); d != "" {
		dir = d
	}
	models, err := vqa.LoadModels(dir)
	if err != nil {
		b.Fatal(err)
	}
	img, _, err := vqa.LoadImage(filepath.Join(vqaDir, "testdata", "fixtures", "item0.png"))
	if err != nil {
		b.Fatal(err)
	}
	wav, err := transforms.LoadWAV(filepath.Join(vqaDir, "testdata", "fixtures", "item0.wav"))
	if err != nil {
		b.Fatal(err)
	}
	q := vqa.Tokenize("what color is the circle")
	for _, info := range models {
		m, err := Open(dir, info, 1)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range []int{1, 8} {
			images, audio, feats, qs := make([][]float32, n), make([][]float32, n), make([][]float32, n), make([][]int64, n)
			for i := range n {
				images[i], audio[i], feats[i], qs[i] = img, wav, make([]float32, 128), q
			}
			b.Run(fmt.Sprintf("%s/%s/batch%d", info.Kind, info.Variant, n), func(b *testing.B) {
				for b.Loop() {
					switch info.Kind {
					case vqa.KindImage:
						_, err = m.Features(images, 64, 64)
					case vqa.KindASR:
						_, err = m.Recognize(audio)
					case vqa.KindVQA:
						_, err = m.Answer(feats, qs)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "items/s")
			})
		}
		m.Close()
	}
}
