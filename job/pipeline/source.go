package pipeline

import (
	"context"
	"fmt"
	"time"

	"jellybean/collective"
	"jellybean/workloads/vqa"
)

// readImageOp loads the images of a micro-batch of ids (the source of the image branch).
type readImageOp struct{ m *vqa.Manifest }

func (o readImageOp) process(items []Item) ([]Item, time.Duration, error) {
	for i := range items {
		it, ok := o.m.ByID(items[i].ID)
		if !ok {
			return nil, 0, fmt.Errorf("item %d is not in %s", items[i].ID, o.m.Path)
		}
		v, shape, err := vqa.LoadImage(o.m.ImagePath(it))
		if err != nil {
			return nil, 0, fmt.Errorf("item %d: %w", it.ID, err)
		}
		items[i].Tensors = []collective.Tensor{collective.FromFloat32s("image", shape, v)}
	}
	return items, 0, nil
}

func (readImageOp) close() {}

// readSpeechOp loads the spoken questions (16 kHz mono) of a micro-batch of ids.
type readSpeechOp struct{ m *vqa.Manifest }

func (o readSpeechOp) process(items []Item) ([]Item, time.Duration, error) {
	for i := range items {
		it, ok := o.m.ByID(items[i].ID)
		if !ok {
			return nil, 0, fmt.Errorf("item %d is not in %s", items[i].ID, o.m.Path)
		}
		v, err := vqa.LoadWAV(o.m.AudioPath(it))
		if err != nil {
			return nil, 0, fmt.Errorf("item %d: %w", it.ID, err)
		}
		items[i].Tensors = []collective.Tensor{collective.FromFloat32s("audio", []int64{int64(len(v))}, v)}
	}
	return items, 0, nil
}

func (readSpeechOp) close() {}

// jobItems returns the ids the job processes: the manifest's items in id order, at most limit (0 = all),
// minus those already done (resume).
func jobItems(m *vqa.Manifest, limit int, done map[int64]bool) (all []int64, todo []int64) {
	for _, it := range m.Items {
		if limit > 0 && len(all) == limit {
			break
		}
		all = append(all, it.ID)
		if !done[it.ID] {
			todo = append(todo, it.ID)
		}
	}
	return all, todo
}

// pacer releases the k-th item of the job's stream at start + k/rate (rate 0 = no pacing). All workers of
// a source stage share one schedule, each waiting only for the items it owns, so input_rate is the rate
// at which the whole job receives items, however many workers read them; and scheduling against the
// start, not the previous item, keeps slow reads from lowering the rate.
type pacer struct {
	start time.Time
	rate  float64
}

func (p *pacer) wait(ctx context.Context, k int) error {
	if p.rate <= 0 {
		return ctx.Err()
	}
	due := p.start.Add(time.Duration(float64(k) / p.rate * float64(time.Second)))
	d := time.Until(due)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
