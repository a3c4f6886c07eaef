package flow

import (
	"log"
	"os"
	"strconv"

	"jellybean/job/onnx"
)

// EnvGPUShapeSessions is the most ONNX Runtime sessions one model step keeps on a GPU, one per recurring
// input shape (default DefaultGPUShapeSessions; 1 runs every shape on one session).
const EnvGPUShapeSessions = "JELLYBEAN_GPU_SHAPE_SESSIONS"

// DefaultGPUShapeSessions covers the OCR recogniser's width buckets (at most 10 up to 320 pixels) at one
// batch size, with room for the partial batches of a run without filling.
const DefaultGPUShapeSessions = 16

// seenLimit bounds how many once-seen shapes are remembered: a model fed a new shape every batch (padded
// audio lengths) would otherwise grow the set without end.
const seenLimit = 4096

// shapeSessions picks the session a micro-batch runs on. ONNX Runtime's CUDA provider prepares a session
// for the input shape of each run and keeps that preparation for the last shape only: measured on an H200
// (`jellybean bench shapes`, 2026-12-04), a PP-OCRv4 recogniser run whose shape differs from the run before
// costs ~0.7 s whether or not the shape was seen before (a new shape ~0.6 s), against ~8 ms for a prepared
// batch of 8; the detector ~0.09 s. A job alternating between width buckets paid it on almost every batch
// (16 pages with the recogniser on the GPU: over 120 s; with a session per shape 18 s).
//
// So on a GPU a shape that recurs gets a session of its own, which never sees another shape. The session
// opened when the step was built becomes the first shape's own (a model of one shape, as the detector at
// a fixed size with full batches, keeps one session). A later shape seen once (a padded batch of audio,
// whose length is new every time) runs on that first session, so models whose shapes never recur do not
// open sessions for nothing; a model that runs batches of one shape only (pad = false: the OCR
// recogniser's width buckets) recurs by design, so there every shape gets its session at once (eager).
// Past the limit, or once opening a session failed (GPU memory), the remaining shapes run on the first
// session too: they cost what they cost with one session. On the CPU the limit is 1.
type shapeSessions struct {
	open    func() (*onnx.Session, error)
	shared  *onnx.Session            // the session opened first: the first shape's own, and the fallback
	claimed bool                     // shared has become the first shape's own
	own     map[string]*onnx.Session // each shape's own session (shared among them once claimed)
	seen    map[string]bool          // shapes run once, on shared (not eager)
	max     int                      // the most sessions in all
	eager   bool                     // a shape gets its session the first time, not the second
	openErr error                    // why the last open failed; no more are tried
}

// gpuShapeSessions reads EnvGPUShapeSessions; a value that is not a positive integer gives the default.
func gpuShapeSessions() int {
	if n, err := strconv.Atoi(os.Getenv(EnvGPUShapeSessions)); err == nil && n >= 1 {
		return n
	}
	return DefaultGPUShapeSessions
}

// get returns the session for a run of input shape key (opened reports whether it opened one for it).
func (p *shapeSessions) get(key string) (s *onnx.Session, opened bool) {
	if s, ok := p.own[key]; ok {
		return s, false
	}
	if !p.claimed {
		p.claimed = true
		p.own[key] = p.shared
		return p.shared, false
	}
	if p.count() >= p.max || p.openErr != nil {
		return p.shared, false
	}
	if !p.eager && !p.seen[key] {
		if len(p.seen) >= seenLimit {
			clear(p.seen)
		}
		p.seen[key] = true
		return p.shared, false
	}
	s, err := p.open()
	if err != nil {
		// Most likely the GPU's memory: the job goes on with the sessions it has, and says so once.
		p.openErr = err
		log.Printf("jellybean: %v; model shapes without a session of their own now share one (%d open)", err, p.count())
		return p.shared, false
	}
	delete(p.seen, key)
	p.own[key] = s
	return s, true
}

// count is the number of sessions open.
func (p *shapeSessions) count() int {
	if !p.claimed {
		return 1
	}
	return len(p.own)
}

// reset closes every session but the first, which keeps serving (as the next first shape's own): the
// profiler times one model at several batch sizes, and a size's sessions are no use to the next.
func (p *shapeSessions) reset() error {
	err := p.closeOwn()
	p.claimed = false
	clear(p.seen)
	p.openErr = nil
	return err
}

func (p *shapeSessions) closeOwn() error {
	var err error
	for k, s := range p.own {
		if s != p.shared {
			if e := s.Close(); e != nil && err == nil {
				err = e
			}
		}
		delete(p.own, k)
	}
	return err
}

func (p *shapeSessions) close() error {
	err := p.closeOwn()
	if e := p.shared.Close(); e != nil && err == nil {
		err = e
	}
	return err
}
