package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"golang.org/x/sync/errgroup"
	"jellybean/job/flow"
	"time"

	"jellybean/collective"
	"jellybean/job/exitcode"
)

// Queue depths between a rank's goroutines, in messages (each at most one micro-batch). With the
// collective's per-peer credit they bound a rank's memory whatever the dataset size.
const (
	inQueue  = 4
	outQueue = 4
)

// pipeline runs this rank's stage to completion: receive (or generate, for sources) -> compute -> send.
func (r *rank) pipeline(parent context.Context) error {
	// The first goroutine to fail cancels the others' context, and its error is the one returned.
	g, ctx := errgroup.WithContext(parent)
	in := make(chan []Item, inQueue)
	out := make(chan []Item, outQueue)
	upstream := r.layout.Upstream(r.cfg.Rank)

	// recvCtx stops a source's receiver (which only watches for aborts) once the source has sent all.
	recvCtx, stopRecv := context.WithCancel(ctx)
	defer stopRecv()
	if len(upstream) == 0 {
		g.Go(func() error { return r.generate(ctx, in) })
		g.Go(func() error {
			err := r.receive(recvCtx, nil, nil)
			if errors.Is(err, context.Canceled) && ctx.Err() == nil {
				return nil // stopped by stopRecv after our last send
			}
			return err
		})
	} else {
		g.Go(func() error { return r.receive(ctx, upstream, in) })
	}
	g.Go(func() error { return r.compute(ctx, in, out) })
	g.Go(func() error {
		err := r.send(ctx, out)
		if err == nil && len(upstream) == 0 {
			stopRecv()
		}
		return err
	})
	err := g.Wait()
	if err != nil && parent.Err() != nil && !isPeerFault(err) {
		return fmt.Errorf("rank %d stopped: %w", r.cfg.Rank, context.Cause(parent))
	}
	return err
}

// push sends v on ch unless ctx ends first.
func push(ctx context.Context, ch chan<- []Item, v []Item) error {
	select {
	case ch <- v:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// generate emits this source's shard: the job's items it owns that are not done, paced by input_rate.
// Channels are closed only on success: a closed channel means "all items sent", and a stage that
// failed must never let its downstream mistake the failure for the end of the stream.
func (r *rank) generate(ctx context.Context, in chan<- []Item) error {
	_, todo := jobItems(r.manifest, r.cfg.Plan.Limit, r.done)
	bs := r.cfg.Plan.BatchSizeOf(r.me.Stage)
	rate := r.cfg.Plan.InputRate
	p := pacer{start: time.Now(), rate: rate}
	var chunk []Item
	for k, id := range todo {
		if !r.layout.Owns(r.cfg.Rank, id) {
			continue
		}
		if err := p.wait(ctx, k); err != nil {
			return err
		}
		if r.window != nil {
			select {
			case r.window <- struct{}{}:
			default:
				// Window full: send what we have, then wait for the join to catch up.
				if len(chunk) > 0 {
					r.gauges.addIn(len(chunk))
					if err := push(ctx, in, chunk); err != nil {
						return err
					}
					chunk = nil
				}
				select {
				case r.window <- struct{}{}:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			inUse := len(r.window)
			r.gauges.note(func(w *Watermarks) { w.WindowMaxInUse = max(w.WindowMaxInUse, inUse) })
		}
		rec, _ := r.manifest.Record(id)
		chunk = append(chunk, Item{Item: flow.Item{ID: id, T0: time.Now().UnixNano(), Record: rec}})
		if rate > 0 || len(chunk) == bs {
			r.gauges.addIn(len(chunk))
			if err := push(ctx, in, chunk); err != nil {
				return err
			}
			chunk = nil
		}
	}
	if len(chunk) > 0 {
		r.gauges.addIn(len(chunk))
		if err := push(ctx, in, chunk); err != nil {
			return err
		}
	}
	close(in)
	return nil
}

// receive reads stream messages until every upstream rank sent its end-of-stream marker; items go to in
// (joined first when the stage has several inputs). Sources call it with no upstream to watch for aborts.
func (r *rank) receive(ctx context.Context, upstream []int, in chan<- []Item) error {
	proto := newInbound(upstream, time.Now(), probeInterval)
	inputs := r.cfg.Plan.InputIndexes(r.me.Stage)
	var join *joiner
	if len(inputs) > 1 {
		join = newJoiner(len(inputs))
	}
	branchOf := func(src int) int {
		for b, si := range inputs {
			if r.layout.Workers[src].Stage == si {
				return b
			}
		}
		return -1
	}
	for proto.open() || in == nil {
		m, err := r.recvOrProbe(ctx, proto)
		if err != nil {
			return err
		}
		src := r.layout.Workers[m.Src]
		ev, err := proto.step(m.Src, m.Edge, m.Payload)
		if err != nil {
			if m.Edge == edgeAbort {
				// Stopped because a peer failed: say whom this rank followed (exit status 3).
				return &exitcode.PeerFailure{Peer: m.Src, Err: err}
			}
			return fmt.Errorf("stage %q: %w (%s)", r.stage.Name, err, src.Host)
		}
		switch ev {
		case evNone:
			continue
		case evAck:
			if err := r.acked(m); err != nil {
				return err
			}
			continue
		}
		t := time.Now()
		b, err := collective.DecodeBatch(m.Payload)
		if err != nil {
			return fmt.Errorf("batch from rank %d (%s): %w", m.Src, src.Host, err)
		}
		items, err := Unpack(b)
		if err != nil {
			return fmt.Errorf("batch from rank %d (%s): %w", m.Src, src.Host, err)
		}
		per := len(m.Payload) / max(1, len(items))
		for i := range items {
			items[i].bytesIn = per
		}
		if join != nil {
			branch := branchOf(m.Src)
			ready := items[:0:0]
			for _, it := range items {
				merged, ok, err := join.add(branch, it)
				if err != nil {
					return fmt.Errorf("from rank %d (%s): %w", m.Src, src.Host, err)
				}
				if ok {
					ready = append(ready, merged)
				}
			}
			items = ready
			if len(join.pending) > r.stats.JoinMaxPending {
				r.statsMu.Lock()
				r.stats.JoinMaxPending = len(join.pending)
				r.statsMu.Unlock()
			}
			held := len(join.pending)
			r.gauges.note(func(w *Watermarks) { w.JoinPending = max(w.JoinPending, held) })
			if r.ackKind == joinWindow {
				if err := r.ack(ctx, items); err != nil {
					return err
				}
			}
		}
		r.addRunnerTime(time.Since(t))
		if len(items) > 0 {
			r.gauges.addIn(len(items))
			if err := push(ctx, in, items); err != nil {
				return err
			}
		}
	}
	if join != nil && len(join.pending) > 0 {
		return fmt.Errorf("end of stream with %d items missing an input, e.g. %v", len(join.pending), join.incomplete())
	}
	if in != nil {
		close(in)
	}
	return nil
}

// recvOrProbe receives the next message. Whenever the protocol's probe is due it checks that the ranks
// that still owe their end of stream are there, so that an upstream rank that left without it (it failed
// and its abort report was lost) stops this rank instead of leaving it waiting forever, even while other
// upstream ranks keep sending.
func (r *rank) recvOrProbe(ctx context.Context, proto *inbound) (collective.Message, error) {
	for {
		for _, u := range proto.probes(time.Now()) {
			pctx, cancel := context.WithTimeout(ctx, probeInterval)
			err := r.comm.Send(pctx, u, edgePing, nil)
			cancel()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return collective.Message{}, fmt.Errorf("rank %d (%s) left before the end of its stream: %w", u, r.layout.Workers[u].Host, err)
			}
		}
		rctx, cancel := context.WithDeadline(ctx, proto.deadline())
		m, err := r.comm.Recv(rctx)
		cancel()
		if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return m, err
		}
	}
}

// receive takes the next items from in, saying whether it had to wait for them (nothing was queued).
func receive(ctx context.Context, in <-chan []Item) (b []Item, ok, waited bool, err error) {
	select {
	case b, ok = <-in:
		return b, ok, false, nil
	default:
	}
	select {
	case b, ok = <-in:
		return b, ok, true, nil
	case <-ctx.Done():
		return nil, false, true, ctx.Err()
	}
}

// compute forms micro-batches of up to batch_size items from what has arrived (never waiting for a full
// batch: latency matters under pacing) and runs the stage's op on them. Results leave in chunks of at
// most batch_size items (see bounds.go); a node whose fan-out streams hands its sub-items on as it makes
// them.
func (r *rank) compute(ctx context.Context, in <-chan []Item, out chan<- []Item) error {
	bs := r.cfg.Plan.BatchSizeOf(r.me.Stage)
	var pending []Item
	take := func(b []Item) {
		pending = append(pending, b...)
		r.gauges.addIn(-len(b))
		n := len(pending)
		r.gauges.note(func(w *Watermarks) { w.PendingItems = max(w.PendingItems, n) })
	}
	emit := func(items []Item) error {
		for _, c := range chunks(items, bs, maxChunkBytes) {
			r.gauges.addOut(len(c))
			if err := push(ctx, out, c); err != nil {
				return err
			}
		}
		return nil
	}
	streams := false
	if so, ok := r.op.(streamOp); ok && r.sink == nil {
		streams = so.streams()
	}
	open := true
	for open || len(pending) > 0 {
		if len(pending) == 0 && !open {
			break
		}
		starved := false // the batch had to wait for its first items (see rankStats.StarvedBatches)
		if len(pending) == 0 {
			b, ok, waited, err := receive(ctx, in)
			if err != nil {
				return err
			}
			if !ok {
				open = false
				continue
			}
			starved = waited
			take(b)
		}
	topUp:
		for open && len(pending) < bs {
			select {
			case b, ok := <-in:
				if !ok {
					open = false
					break topUp
				}
				take(b)
			default:
				break topUp
			}
		}
		n := min(bs, len(pending))
		batch := append([]Item(nil), pending[:n]...)
		pending = append(pending[:0], pending[n:]...)
		start := time.Now()
		var res []Item
		var modelTime, blocked time.Duration
		var err error
		if streams {
			modelTime, err = r.op.(streamOp).stream(batch, bs, func(items []Item) error {
				now := time.Now()
				for i := range items {
					items[i].start, items[i].end, items[i].batch = start.UnixNano(), now.UnixNano(), n
				}
				r.gauges.note(func(w *Watermarks) { w.SubItemsEmitted += int64(len(items)) })
				err := emit(items)
				blocked += time.Since(now) // waiting for downstream is not this stage's compute time
				return err
			})
		} else {
			res, modelTime, err = r.op.process(batch)
		}
		end := time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("stage %q: %w", r.stage.Name, err)
		}
		r.statsMu.Lock()
		r.stats.Items += int64(n)
		r.stats.ItemsOut += int64(len(res))
		r.stats.Batches++
		if starved {
			r.stats.StarvedBatches++
		}
		r.stats.ModelSeconds += modelTime.Seconds()
		r.stats.ComputeSeconds += (end.Sub(start) - blocked).Seconds()
		r.statsMu.Unlock()
		if p, ok := r.op.(pendingOp); ok {
			fam, sub := p.pending()
			r.gauges.note(func(w *Watermarks) {
				w.FanInFamilies, w.FanInSubItems = max(w.FanInFamilies, fam), max(w.FanInSubItems, sub)
			})
		}
		if r.ackKind == fanInWindow {
			if err := r.ack(ctx, res); err != nil {
				return err
			}
		}
		if streams {
			continue
		}
		share := modelTime / time.Duration(n)
		for i := range res {
			res[i].start, res[i].end, res[i].model, res[i].batch = start.UnixNano(), end.UnixNano(), share, n
			if i < len(batch) {
				res[i].bytesIn = batch[i].bytesIn
			}
		}
		if r.sink != nil {
			for i := range batch {
				batch[i].start, batch[i].end, batch[i].batch = start.UnixNano(), end.UnixNano(), n
			}
			if err := r.timing.write(r.cfg.Rank, r.stage.Name, batch, 0, r.wireRatio()); err != nil {
				return err
			}
			continue
		}
		if err := emit(res); err != nil {
			return err
		}
	}
	if err := r.op.finish(); err != nil {
		return err
	}
	close(out)
	return nil
}

// send routes each result to the worker of every consuming stage that owns its id, one packed message
// per destination, then sends the end-of-stream marker to every worker of those stages.
func (r *rank) send(ctx context.Context, out <-chan []Item) error {
	next := r.layout.Downstream(r.cfg.Rank)
	var buf []byte
	var pk packer
	byDst := map[int][]Item{}
	for {
		var batch []Item
		select {
		case b, ok := <-out:
			if !ok {
				return r.endOfStream(ctx, next)
			}
			batch = b
			r.gauges.addOut(-len(b))
		case <-ctx.Done():
			return ctx.Err()
		}
		t := time.Now()
		for _, stage := range next {
			clear(byDst)
			for _, it := range batch {
				dst := r.layout.Route(stage, it.ID)
				byDst[dst] = append(byDst[dst], it)
			}
			for dst, all := range byDst {
				// Placeholders of empty fan-out families carry no tensors: they travel in a message of
				// their own, since a packed batch holds items of one shape.
				for _, items := range splitPlaceholders(all) {
					b, err := pk.pack(items)
					if err != nil {
						return err
					}
					buf = collective.AppendBatch(buf[:0], &b)
					r.gauges.note(func(w *Watermarks) {
						w.MessageItems, w.MessageBytes = max(w.MessageItems, len(items)), max(w.MessageBytes, len(buf))
					})
					r.addRunnerTime(time.Since(t))
					if err := r.comm.Send(ctx, dst, edgeData, buf); err != nil {
						return fmt.Errorf("sending to rank %d (%s): %w", dst, r.layout.Workers[dst].Host, err)
					}
					t = time.Now()
					per := len(buf) / len(items)
					if err := r.timing.write(r.cfg.Rank, r.stage.Name, items, per, r.wireRatio()); err != nil {
						return err
					}
				}
			}
		}
	}
}

// endOfStream tells every worker of the consuming stages that this rank has sent its last item.
func (r *rank) endOfStream(ctx context.Context, next []int) error {
	for _, stage := range next {
		for _, dst := range r.layout.StageRanks[stage] {
			if err := r.comm.Send(ctx, dst, edgeEOS, nil); err != nil {
				return fmt.Errorf("sending end-of-stream to rank %d (%s): %w", dst, r.layout.Workers[dst].Host, err)
			}
		}
	}
	return nil
}

// ack tells the sources of items this rank completed (joined, or regrouped by a fan-in) that those items
// left it, freeing their windows.
func (r *rank) ack(ctx context.Context, joined []Item) error {
	if len(joined) == 0 {
		return nil
	}
	counts := map[int]uint32{}
	for _, si := range r.ackTo {
		for _, it := range joined {
			counts[r.layout.Route(si, it.ID)]++
		}
	}
	for src, n := range counts {
		if err := r.comm.Send(ctx, src, edgeAck, binary.LittleEndian.AppendUint32(nil, n)); err != nil {
			return fmt.Errorf("acknowledging items to rank %d (%s): %w", src, r.layout.Workers[src].Host, err)
		}
	}
	return nil
}

// acked returns window tokens for a join's acknowledgement.
func (r *rank) acked(m collective.Message) error {
	if r.window == nil || len(m.Payload) != 4 {
		return fmt.Errorf("unexpected acknowledgement from rank %d", m.Src)
	}
	for n := binary.LittleEndian.Uint32(m.Payload); n > 0; n-- {
		select {
		case <-r.window:
		default:
			return fmt.Errorf("rank %d acknowledged more items than this source sent", m.Src)
		}
	}
	return nil
}

// reportWatermarks logs what the rank held at most at once and hands it to the configured observer.
func (r *rank) reportWatermarks() {
	w := r.gauges.snapshot()
	w.Rank, w.Stage = r.cfg.Rank, r.stage.Name
	r.statsMu.Lock()
	r.stats.HeldAtMost = &w
	r.statsMu.Unlock()
	r.logf("stage %s held at most: %d items queued in, %d pending, %d queued out; fan-in %d families (%d sub-items); join %d; largest message %d items, %d bytes; window %d of %d",
		w.Stage, w.InQueueItems, w.PendingItems, w.OutQueueItems, w.FanInFamilies, w.FanInSubItems, w.JoinPending,
		w.MessageItems, w.MessageBytes, w.WindowMaxInUse, w.WindowCapacity)
	if r.cfg.Watermarks != nil {
		r.cfg.Watermarks(w)
	}
}

func (r *rank) addRunnerTime(d time.Duration) {
	r.statsMu.Lock()
	r.stats.RunnerIOSeconds += d.Seconds()
	r.statsMu.Unlock()
}

// wireRatio is this rank's running wire/raw ratio of all bytes sent and received (1 without
// compression), used to estimate per-item wire bytes in the timing file.
func (r *rank) wireRatio() float64 {
	t := r.comm.Totals()
	raw := t.RawBytesSent + t.RawBytesRecv
	if raw == 0 {
		return 1
	}
	return float64(t.WireBytesSent+t.WireBytesRecv) / float64(raw)
}

// splitPlaceholders separates placeholder items from the others (either group may be empty and is then
// left out).
func splitPlaceholders(items []Item) [][]Item {
	var full, empty []Item
	for _, it := range items {
		if it.Placeholder() {
			empty = append(empty, it)
		} else {
			full = append(full, it)
		}
	}
	var out [][]Item
	for _, g := range [][]Item{full, empty} {
		if len(g) > 0 {
			out = append(out, g)
		}
	}
	return out
}
