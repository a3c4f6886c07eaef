package flow

import (
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
// So on a GPU a shape that recurs gets a session of its own, which never sees another shape. A shape seen
// once (a padded batch of audio, whose length is new every time) runs on the shared session, so models
// whose shapes never recur do not open sessions for nothing; a model that runs batches of one shape only
// (pad = false: the OCR recogniser's width buckets) recurs by design, so there every shape gets its
// session at once (eager). Past the limit the remaining shapes share too: they cost what they cost
// before. On the CPU the limit is 1.
type shapeSessions struct {
	open   func() (*onnx.Session, error)
	shared *onnx.Session            // runs every shape without a session of its own
	own    map[string]*onnx.Session // recurring shapes' own sessions
	seen   map[string]bool          // shapes run once, on shared
	max    int                      // the most sessions in all, shared included
	eager  bool                     // a shape gets its session the first time, not the second
}

// gpuShapeSessions reads EnvGPUShapeSessions; a value that is not a positive integer gives the default.
func gpuShapeSessions() int {
	if n, err := strconv.Atoi(os.Getenv(EnvGPUShapeSessions)); err == nil && n >= 1 {
		return n
	}
	return DefaultGPUShapeSessions
}

// get returns the session for a run of input shape key (opened reports whether it opened one for it).
func (p *shapeSessions) get(key string) (s *onnx.Session, opened bool, err error) {
	if s, ok := p.own[key]; ok {
		return s, false, nil
	}
	if p.max <= 1 || 1+len(p.own) >= p.max {
		return p.shared, false, nil
	}
	if !p.eager && !p.seen[key] {
		if len(p.seen) >= seenLimit {
			clear(p.seen)
		}
		p.seen[key] = true
		return p.shared, false, nil
	}
	if s, err = p.open(); err != nil {
		return nil, false, err
	}
	delete(p.seen, key)
	p.own[key] = s
	return s, true, nil
}

// count is the number of sessions open.
func (p *shapeSessions) count() int { return 1 + len(p.own) }

func (p *shapeSessions) close() error {
	err := p.shared.Close()
	for k, s := range p.own {
		if e := s.Close(); e != nil && err == nil {
			err = e
		}
		delete(p.own, k)
	}
	return err
}
