package pipeline

import (
	"context"
	"time"

	"jellybean/job/flow"
)

// jobItems returns the ids the job processes: the manifest's items in id order, at most limit (0 = all),
// minus those already done (resume).
func jobItems(m *flow.Manifest, limit int, done map[int64]bool) (all []int64, todo []int64) {
	for _, id := range m.IDs {
		if limit > 0 && len(all) == limit {
			break
		}
		all = append(all, id)
		if !done[id] {
			todo = append(todo, id)
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
