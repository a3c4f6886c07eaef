package collective

import (
	"bytes"
	"testing"
	"time"
)

// feed drives an autoPolicy with a steady link rate and a steady compression speed and ratio, the way
// the writer does, and returns the decision after it settles.
func feed(a *autoPolicy, linkBps, compBps, ratio float64, msgs int) autoDecision {
	const n = 1 << 20
	var d autoDecision
	for range msgs {
		a.observeLinkRate(linkBps)
		d = a.decide()
		switch d {
		case autoProbe:
			a.observeCompression(probeBytes, int(probeBytes/ratio), time.Duration(float64(probeBytes)/compBps*1e9))
		case autoCompress:
			a.observeCompression(n, int(n/ratio), time.Duration(n/compBps*1e9))
		}
	}
	return d
}

func TestAutoPolicy(t *testing.T) {
	const mbit = 1e6 / 8
	cases := []struct {
		name                string
		link, speed, ratio  float64
		want                autoDecision
		thenLink, thenSpeed float64 // second phase (0 = none)
		thenRatio           float64
		thenWant            autoDecision
	}{
		// Figures from the issue: loopback ~1.7 GB/s; ReLU features ratio 1.74 at ~100 MB/s; images 6.5 at 190 MB/s.
		{name: "loopback features", link: 1.7e9, speed: 100e6, ratio: 1.74, want: autoRaw},
		{name: "loopback images", link: 1.7e9, speed: 190e6, ratio: 6.5, want: autoRaw},
		{name: "100mbit features", link: 100 * mbit, speed: 100e6, ratio: 1.74, want: autoCompress},
		{name: "100mbit images", link: 100 * mbit, speed: 190e6, ratio: 6.5, want: autoCompress},
		{name: "100mbit random", link: 100 * mbit, speed: 2.9e9, ratio: 1.0, want: autoRaw},
		{name: "1gbit audio (break-even)", link: 1000 * mbit, speed: 150e6, ratio: 1.55, want: autoRaw},
		{name: "link speeds up", link: 100 * mbit, speed: 190e6, ratio: 6.5, want: autoCompress,
			thenLink: 5e9, thenSpeed: 190e6, thenRatio: 6.5, thenWant: autoRaw},
		{name: "data turns random", link: 100 * mbit, speed: 100e6, ratio: 1.74, want: autoCompress,
			thenLink: 100 * mbit, thenSpeed: 2.9e9, thenRatio: 1.0, thenWant: autoRaw},
		{name: "link slows down", link: 2e9, speed: 150e6, ratio: 2, want: autoRaw,
			thenLink: 50 * mbit, thenSpeed: 150e6, thenRatio: 2, thenWant: autoCompress},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var a autoPolicy
			if got := feed(&a, tc.link, tc.speed, tc.ratio, 60); got != tc.want && !(tc.want == autoRaw && got == autoProbe) {
				t.Fatalf("decision %d, want %d (gain %.2f)", got, tc.want, a.gain())
			}
			if tc.thenLink == 0 {
				return
			}
			// Enough messages for the longest probe interval plus EWMA convergence.
			got := feed(&a, tc.thenLink, tc.thenSpeed, tc.thenRatio, 2000)
			if got != tc.thenWant && !(tc.thenWant == autoRaw && got == autoProbe) {
				t.Fatalf("after the change: decision %d, want %d (gain %.2f)", got, tc.thenWant, a.gain())
			}
		})
	}
}

func TestRateEWMAIgnoresOutliers(t *testing.T) {
	var r rateEWMA
	for range 50 {
		r.add(1<<20, 80*time.Millisecond) // ~13 MB/s link
	}
	r.add(1<<20, 10*time.Microsecond) // one write absorbed by the socket buffer
	if got := r.rate(); got > 20e6 {
		t.Fatalf("rate %.0f B/s: one fast sample dominated", got)
	}
}

func TestEncoderRoundTrip(t *testing.T) {
	img := bytes.Repeat([]byte{10, 20, 30, 40, 50, 60, 70, 80}, 10000)
	for _, mode := range []compression{compressOff, compressFastest, compressDefault} {
		e := encoder{mode: mode}
		d := decoder{maxFrame: 1 << 20}
		wire, z := e.compress(img)
		if mode == compressOff {
			if z || len(wire) != len(img) {
				t.Fatalf("off compressed")
			}
			continue
		}
		if !z || len(wire) >= len(img)/10 {
			t.Fatalf("%v: compressed=%v to %d bytes", mode, z, len(wire))
		}
		got, err := d.decompress(wire, len(img))
		if err != nil || !bytes.Equal(got, img) {
			t.Fatalf("%v: round trip: %v", mode, err)
		}
		// Incompressible data is sent raw (wire never exceeds raw).
		rnd := pattern(make([]byte, 100000), 1, 2, 3)
		if wire, z := e.compress(rnd); z || len(wire) != len(rnd) {
			t.Fatalf("%v: random data compressed=%v (%d bytes)", mode, z, len(wire))
		}
		e.close()
		d.close()
	}
}
