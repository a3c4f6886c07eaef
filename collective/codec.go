package collective

import (
	"fmt"
	"time"

	"github.com/klauspost/compress/zstd"
)

// compression is the per-rank compression setting (Config.Compression).
type compression uint8

const (
	compressOff compression = iota
	compressFastest
	compressDefault
	compressAuto
)

func parseCompression(s string) (compression, error) {
	switch s {
	case "", "off", "none":
		return compressOff, nil
	case "fastest":
		return compressFastest, nil
	case "default":
		return compressDefault, nil
	case "auto":
		return compressAuto, nil
	}
	return 0, fmt.Errorf("compression %q: want off, fastest, default or auto", s)
}

func (c compression) String() string {
	return [...]string{"off", "fastest", "default", "auto"}[c]
}

// minCompressBytes: smaller payloads are never compressed (header and call overhead dominate).
const minCompressBytes = 1024

// encoder is the sending half of one connection's codec. It is used only under the connection's write
// lock, so the zstd encoder and its output buffer are reused without synchronisation.
type encoder struct {
	mode compression
	enc  *zstd.Encoder
	out  []byte
	auto autoPolicy
}

// wants decides whether the message src is to be compressed. For auto it consults (and advances) the
// policy once per message; a probe compresses a sample here to measure speed and ratio, and the
// message itself then goes out raw.
func (e *encoder) wants(src []byte) bool {
	if e.mode == compressOff || len(src) < minCompressBytes {
		return false
	}
	if e.mode != compressAuto {
		return true
	}
	switch e.auto.decide() {
	case autoCompress:
		return true
	case autoProbe:
		e.timedEncode(src[:min(len(src), probeBytes)])
	}
	return false
}

// compressPart compresses src (a whole message or one part of it) and returns the bytes to put on the
// wire and whether they are zstd. The result aliases an internal buffer valid until the next call.
// Output that is not smaller than src is discarded, so wire bytes never exceed raw bytes.
func (e *encoder) compressPart(src []byte) ([]byte, bool) {
	if e.mode == compressAuto {
		e.timedEncode(src)
	} else {
		e.out = e.zstd().EncodeAll(src, e.out[:0])
	}
	if len(e.out) >= len(src) {
		return src, false
	}
	return e.out, true
}

// compress is wants followed by compressPart.
func (e *encoder) compress(src []byte) ([]byte, bool) {
	if !e.wants(src) {
		return src, false
	}
	return e.compressPart(src)
}

// timedEncode compresses src into e.out and feeds the measured speed and ratio to the auto policy.
func (e *encoder) timedEncode(src []byte) []byte {
	z := e.zstd()
	t0 := time.Now()
	e.out = z.EncodeAll(src, e.out[:0])
	e.auto.observeCompression(len(src), len(e.out), time.Since(t0))
	return e.out
}

func (e *encoder) zstd() *zstd.Encoder {
	if e.enc == nil {
		level := zstd.SpeedFastest
		if e.mode == compressDefault {
			level = zstd.SpeedDefault
		}
		// Errors are impossible with these constant options.
		e.enc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderCRC(false), zstd.WithLowerEncoderMem(true))
		// Warm up (tables, output buffer) so the first measured compression is not a cold outlier that
		// would mislead the auto policy.
		warm := make([]byte, partBytes)
		e.out = e.enc.EncodeAll(warm, make([]byte, 0, partBytes+partBytes/8))
	}
	return e.enc
}

func (e *encoder) close() {
	if e.enc != nil {
		e.enc.Close()
		e.enc = nil
	}
}

// decoder is the receiving half; used only by the connection's reader goroutine.
type decoder struct {
	dec      *zstd.Decoder
	maxFrame int
}

// decompress decodes wire into a pooled buffer of exactly rawLen bytes.
func (d *decoder) decompress(wire []byte, rawLen int) ([]byte, error) {
	if d.dec == nil {
		var err error
		d.dec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(d.maxFrame)),
			zstd.WithDecoderMaxWindow(uint64(max(d.maxFrame, zstd.MinWindowSize))), zstd.WithDecodeAllCapLimit(true))
		if err != nil {
			return nil, err
		}
	}
	out := pool.get(rawLen)
	got, err := d.dec.DecodeAll(wire, out[:0])
	if err != nil {
		pool.put(out)
		return nil, frameErrorf("zstd: %v", err)
	}
	if len(got) != rawLen {
		pool.put(got)
		return nil, frameErrorf("zstd payload decoded to %d bytes, header says %d", len(got), rawLen)
	}
	return got, nil
}

func (d *decoder) close() {
	if d.dec != nil {
		d.dec.Close()
		d.dec = nil
	}
}

// autoPolicy decides, per connection, whether compressing pays: sending n raw bytes costs n/link seconds,
// compressing costs n/speed + n/(ratio*link). Compression wins iff speed*(1-1/ratio) > link. Both sides are
// measured: the link from the kernel's TCP delivery-rate estimate (or, for other streams, from how long
// large writes block), speed and ratio from compressions (real ones while compressing, small samples
// while not). It is pure bookkeeping; the caller feeds it observations.
type autoPolicy struct {
	link      rateEWMA // wire bytes per second the link delivers
	compBps   float64  // input bytes per second of compression: a decaying peak (see observeCompression)
	raw, wire float64  // EWMA of compressed input and output sizes (ratio = raw/wire)
	on        bool     // currently compressing
	onFor     int      // messages compressed since the last link re-check
	recheck   int      // raw messages left in the current link re-check
	untilNext int      // messages until the next probe while off
	interval  int      // current probe interval (grows while the decision is stable)
}

// rateEWMA averages a rate as (EWMA of amounts) / (EWMA of durations), so that one very fast sample
// (a write absorbed by the socket buffer) cannot dominate the way it would in an average of rates.
type rateEWMA struct{ amount, secs float64 }

func (r *rateEWMA) add(amount float64, d time.Duration) { r.addWeighted(amount, d, ewmaWeight) }

func (r *rateEWMA) addWeighted(amount float64, d time.Duration, w float64) {
	secs := max(d.Seconds(), 1e-7)
	if r.secs == 0 {
		r.amount, r.secs = amount, secs
		return
	}
	r.amount += w * (amount - r.amount)
	r.secs += w * (secs - r.secs)
}

func (r *rateEWMA) rate() float64 {
	if r.secs == 0 {
		return 0
	}
	return r.amount / r.secs
}

type autoDecision uint8

const (
	autoRaw autoDecision = iota
	autoProbe
	autoCompress
)

const (
	probeBytes       = 128 << 10
	minProbeInterval = 4
	maxProbeInterval = 64
	ewmaWeight       = 0.2
	linkWeight       = 0.5      // the kernel's delivery rate is already a recent-window estimate
	compDecay        = 0.95     // per-observation decay of the compression-speed peak
	recheckEvery     = 256      // while compressing, send raw every so many messages ...
	recheckLen       = 6        // ... for this many messages, to re-measure the link
	minLinkSample    = 64 << 10 // writes smaller than this say little about the link
	autoHysteresis   = 1.15     // compression must win by this factor to switch on (and lose by it to switch off)
)

// observeCompression records one compression. Its speed feeds a decaying peak rather than an average:
// a measurement can only be slowed down by things unrelated to the data (the thread being descheduled
// on a busy host), so the fastest recent sample is the best estimate of what the codec can do.
func (a *autoPolicy) observeCompression(raw, wire int, d time.Duration) {
	a.compBps = max(float64(raw)/max(d.Seconds(), 1e-7), a.compBps*compDecay)
	if a.raw == 0 {
		a.raw, a.wire = float64(raw), float64(max(wire, 1))
		return
	}
	a.raw += ewmaWeight * (float64(raw) - a.raw)
	a.wire += ewmaWeight * (float64(max(wire, 1)) - a.wire)
}

// observeWrite records a socket write of n wire bytes that took d (used when no kernel estimate exists).
func (a *autoPolicy) observeWrite(n int, d time.Duration) {
	if n >= minLinkSample {
		a.link.add(float64(n), d)
	}
}

// observeLinkRate records the kernel's delivery-rate estimate in bytes per second. Samples taken while
// compressing are ignored: the link is then no longer the bottleneck, and short compressed bursts pass
// shapers and switch buffers at line rate, so the estimate would say the link is much faster than it
// is. The link is re-measured in periodic raw re-checks instead (see decide).
func (a *autoPolicy) observeLinkRate(bps float64) {
	if bps > 0 && !a.on {
		a.link.addWeighted(bps*0.01, 10*time.Millisecond, linkWeight)
	}
}

func (a *autoPolicy) ratio() float64 {
	if a.wire == 0 {
		return 0
	}
	return a.raw / a.wire
}

// gain is how many times faster compressing is than sending raw (>1: compression pays).
func (a *autoPolicy) gain() float64 {
	link, speed, ratio := a.link.rate(), a.compBps, a.ratio()
	if link == 0 || speed == 0 || ratio <= 1 {
		return 0
	}
	return speed * (1 - 1/ratio) / link
}

func (a *autoPolicy) decide() autoDecision {
	if a.link.rate() == 0 {
		return autoRaw // measure the link first
	}
	if a.recheck > 0 {
		a.recheck--
		return autoRaw
	}
	g := a.gain()
	if a.on {
		a.onFor++
		if g < 1/autoHysteresis || a.onFor >= recheckEvery {
			a.on, a.onFor = false, 0
			a.interval, a.untilNext = minProbeInterval, minProbeInterval
			if g >= 1/autoHysteresis {
				a.recheck = recheckLen - 1 // still paying, but make sure the link has not become faster
			}
			return autoRaw
		}
		return autoCompress
	}
	if a.compBps == 0 {
		return autoProbe
	}
	if g > autoHysteresis {
		a.on = true
		return autoCompress
	}
	if a.untilNext > 0 {
		a.untilNext--
		return autoRaw
	}
	if a.interval < minProbeInterval {
		a.interval = minProbeInterval
	} else if a.interval < maxProbeInterval {
		a.interval *= 2
	}
	a.untilNext = a.interval
	return autoProbe
}
