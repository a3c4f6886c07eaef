package bench

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
)

// DataKinds are the payload kinds the benchmark can send. They are synthetic stand-ins with the
// compressibility of the workflow's real traffic: random float32 (incompressible), ReLU feature maps
// (about half zeros), smooth RGB images and voice-like 16-bit PCM.
var DataKinds = []string{"random", "features", "image", "audio"}

// Generate returns n bytes of the given kind, deterministic in seed.
func Generate(kind string, n int, seed uint64) ([]byte, error) {
	r := rand.New(rand.NewPCG(seed, 0x6a656c6c79))
	b := make([]byte, n)
	switch kind {
	case "random":
		for i := 0; i+8 <= n; i += 8 {
			binary.LittleEndian.PutUint64(b[i:], r.Uint64())
		}
		for i := n &^ 7; i < n; i++ {
			b[i] = byte(r.Uint32())
		}
	case "features":
		// ReLU(N(0,1)) float32 activations.
		for i := 0; i+4 <= n; i += 4 {
			v := float32(max(0, r.NormFloat64()))
			binary.LittleEndian.PutUint32(b[i:], math.Float32bits(v))
		}
	case "image":
		// 224-wide RGB rows: smooth shading over flat regions (as in decoded photos of uniform surfaces)
		// with sparse sensor noise.
		const w = 224
		fx, fy := 0.01+r.Float64()*0.03, 0.01+r.Float64()*0.03
		for i := 0; i < n; i++ {
			px := i / 3
			x, y, ch := float64(px%w), float64(px/w), i%3
			region := float64((px%w)/32*7+(px/w)/32*13) * 9
			v := 60 + math.Mod(region, 120) + 20*math.Sin(x*fx*0.3+float64(ch)) + 15*math.Cos(y*fy*0.3)
			if r.IntN(64) == 0 {
				v += float64(r.IntN(3)) - 1
			}
			b[i] = byte(min(255, max(0, v)))
		}
	case "audio":
		// 16 kHz PCM: a few formant-like partials with a syllable envelope and background noise.
		f0 := 100 + r.Float64()*120
		for i := 0; i+2 <= n; i += 2 {
			t := float64(i/2) / 16000
			env := math.Pow(max(0, math.Sin(2*math.Pi*3*t)), 2) // syllables separated by pauses
			s := env * (0.5*math.Sin(2*math.Pi*f0*t) + 0.3*math.Sin(2*math.Pi*2.7*f0*t) + 0.15*math.Sin(2*math.Pi*5.1*f0*t))
			s += 0.0005 * r.NormFloat64()
			binary.LittleEndian.PutUint16(b[i:], uint16(int16(max(-32767, min(32767, s*12000)))))
		}
	default:
		return nil, fmt.Errorf("data kind %q: want one of %v", kind, DataKinds)
	}
	return b, nil
}
