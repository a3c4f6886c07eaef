package optimizer

import (
	"fmt"
	"math/rand/v2"
)

// ScaleSpec describes a generated instance built from a base problem (normally the medium example):
// every worker replicated Copies times (named name_i, type-major like workers_numbers.csv), every source
// rate multiplied by Copies, and optionally re-tiered and extended to five stages.
type ScaleSpec struct {
	Copies int
	// Tiers: 0 keeps the base partition and links. 3 re-tiers the workers by price band (tier 0: the base
	// tier-0 workers, tier 1: the cheapest half of the rest, tier 2: the others) with link costs of
	// (tj−ti)·scale forward, 10·scale backward, and source→worker costs of tier·scale.
	Tiers     int
	LinkScale float64
	// FiveStages adds "DetectObjects" (the image source → DetectObjects → the sink stage, profiled like
	// resnet50 feature extraction) and "Postprocess" (after the sink stage, half its latency): 5 non-source
	// stages on the medium example.
	FiveStages bool
	// Jitter makes the hosts distinct, as measured fleets are: every host's latencies are multiplied by
	// its own factor drawn uniformly from [1−Jitter, 1+Jitter] (seeded by Seed). 0 keeps exact replicas.
	Jitter float64
	Seed   uint64
}

// Scale builds the generated instance; it is pure and deterministic.
func Scale(base *Problem, spec ScaleSpec) (*Problem, error) {
	k := spec.Copies
	if k < 1 {
		return nil, fmt.Errorf("scale: copies must be ≥ 1")
	}
	if spec.Jitter < 0 || spec.Jitter >= 1 {
		return nil, fmt.Errorf("scale: jitter %g must be in [0, 1)", spec.Jitter)
	}
	p := &Problem{Accuracy: base.Accuracy, Sink: base.Sink, Threshold: base.Threshold, NumTiers: base.NumTiers, msg: map[msgKey]float64{}}
	p.Nodes = append([]string(nil), base.Nodes...)
	p.IsSource = append([]bool(nil), base.IsSource...)
	p.Edges = append([]Edge(nil), base.Edges...)
	for k2, s := range base.msg {
		p.msg[k2] = s
	}
	nb := len(base.Workers)
	for _, w := range base.Workers {
		for i := range k {
			p.Workers = append(p.Workers, Worker{Name: fmt.Sprintf("%s_%d", w.Name, i), Price: w.Price, Tier: w.Tier})
		}
	}
	n := len(p.Workers)
	baseOf := func(w int) int { return w / k }
	p.Cap = make([]map[string][]float64, len(p.Nodes))
	p.Variants = append([][]string(nil), base.Variants...)
	for v := range base.Nodes {
		p.Cap[v] = map[string][]float64{}
		for vr, caps := range base.Cap[v] {
			c := make([]float64, n)
			for w := range c {
				c[w] = caps[baseOf(w)]
			}
			p.Cap[v][vr] = c
		}
	}
	if spec.Tiers == 3 {
		var rest []int
		for w := range nb {
			if base.Workers[w].Tier > 0 {
				rest = append(rest, w)
			}
		}
		tierOf := make([]int, nb)
		for i, w := range rest {
			tierOf[w] = 1
			if i >= len(rest)/2 {
				tierOf[w] = 2
			}
		}
		for w := range p.Workers {
			p.Workers[w].Tier = tierOf[baseOf(w)]
		}
		p.NumTiers = 3
	}
	p.Link = make([][]float64, n)
	for a := range n {
		p.Link[a] = make([]float64, n)
		for b := range n {
			if spec.Tiers == 3 {
				ta, tb := p.Workers[a].Tier, p.Workers[b].Tier
				switch {
				case tb > ta:
					p.Link[a][b] = float64(tb-ta) * spec.LinkScale
				case tb < ta:
					p.Link[a][b] = 10 * spec.LinkScale
				}
			} else {
				p.Link[a][b] = base.Link[baseOf(a)][baseOf(b)]
			}
		}
	}
	p.SrcLink = make([][]float64, len(p.Nodes))
	rates := map[string]float64{}
	for v := range base.Nodes {
		if !base.IsSource[v] {
			continue
		}
		rates[base.Nodes[v]] = base.Rate[v] * float64(k)
		p.SrcLink[v] = make([]float64, n)
		for w := range n {
			if spec.Tiers == 3 {
				p.SrcLink[v][w] = float64(p.Workers[w].Tier) * spec.LinkScale
			} else {
				p.SrcLink[v][w] = base.SrcLink[v][baseOf(w)]
			}
		}
	}
	if spec.FiveStages {
		if err := addStages(base, p); err != nil {
			return nil, err
		}
	}
	if spec.Jitter > 0 {
		jitter(p, spec.Jitter, spec.Seed)
	}
	p.Inputs = make([][]int, len(p.Nodes))
	for _, e := range p.Edges {
		p.Inputs[e.To] = append(p.Inputs[e.To], e.From)
	}
	if err := p.Finish(rates, nil); err != nil {
		return nil, err
	}
	return p, p.Check()
}

func addStages(base, p *Problem) error {
	// The base's sink stage joins the branches; the branch whose stage has a resnet50 variant is the
	// image one, and its source feeds the new detector too.
	join, feat, img := base.NodeIndex(base.Sink), -1, -1
	for _, in := range base.Inputs[max(join, 0)] {
		if _, ok := base.Cap[in]["resnet50"]; ok && join >= 0 {
			feat = in
			if len(base.Inputs[in]) == 1 && base.IsSource[base.Inputs[in][0]] {
				img = base.Inputs[in][0]
			}
		}
	}
	if join < 0 || feat < 0 || img < 0 {
		return fmt.Errorf("scale: five stages need a sink stage fed by a source -> stage with a resnet50 variant (the medium example)")
	}

	n := len(p.Workers)
	det, ans := len(p.Nodes), len(p.Nodes)+1
	p.Nodes = append(p.Nodes, "DetectObjects", "Postprocess")
	p.IsSource = append(p.IsSource, false, false)
	p.Edges = append(p.Edges, Edge{img, det}, Edge{det, join}, Edge{join, ans})
	p.Variants = append(p.Variants, []string{"default"}, []string{"default"})
	detCap, ansCap := make([]float64, n), make([]float64, n)
	for w := range n {
		detCap[w] = p.Cap[feat]["resnet50"][w]
		ansCap[w] = 2 * p.Cap[join]["default"][w]
	}
	p.Cap = append(p.Cap, map[string][]float64{"default": detCap}, map[string][]float64{"default": ansCap})
	p.SrcLink = append(p.SrcLink, nil, nil)
	p.msg[msgKey{img, det, "default", "default"}] = 794.0348300933838
	p.msg[msgKey{det, join, "default", "default"}] = 4.0
	p.msg[msgKey{join, ans, "default", "default"}] = 0.05
	return nil
}

// jitter multiplies each host's latencies by its own factor in [1−j, 1+j] (capacities divided by it), in
// worker order from one seeded stream, so the same seed gives the same fleet.
func jitter(p *Problem, j float64, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x6a656c6c79))
	for w := range p.Workers {
		f := 1 - j + 2*j*rng.Float64()
		for v := range p.Nodes {
			for _, caps := range p.Cap[v] {
				if caps[w] > 0 {
					caps[w] /= f
				}
			}
		}
	}
}
