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

// pacer spaces items at rate per second (0 = no pacing); it schedules against the start time, not the
// previous item, so that slow reads do not lower the rate.
type pacer struct {
	start time.Time
	rate  float64
	n     int
}

func (p *pacer) wait(ctx context.Context) error {
	if p.rate <= 0 {
		return ctx.Err()
	}
	due := p.start.Add(time.Duration(float64(p.n) / p.rate * float64(time.Second)))
	p.n++
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
