package loop

import (
	"fmt"
	"jellybean/plan/optimizer"
	"jellybean/plan/optimizer/inputs"
	"math"
	"sort"
)

// Stage names of the workflow: the runner's, as in plan/examples/default.toml.
const (
	ReadImage         = "ReadImage"
	ReadSpeech        = "ReadSpeech"
	ImageFeatures     = "ImageFeatures"
	SpeechRecognition = "SpeechRecognition"
	VQA               = "VQA"
)

// Latencies holds profiled milliseconds per item: [host][stage][variant].
type Latencies map[string]map[string]map[string]float64

// Message is the size of one item's message on an edge, for one variant of the sending stage.
type Message struct {
	From, To, FromVariant string
	KB                    float64
}

// Combo is the measured end-to-end accuracy of an image and a speech variant; the VQA model is the one
// trained on the image variant's features, so it shares the image variant's name.
type Combo struct {
	Image, Speech string
	Accuracy      float64 // percent
}

// Variants is the variant of each model stage a combination runs.
func (c Combo) Variants() map[string]string {
	return map[string]string{ImageFeatures: c.Image, SpeechRecognition: c.Speech, VQA: c.Image}
}

// Instance is everything the optimizer's native input needs.
type Instance struct {
	Rate, Threshold    float64 // items/s into each source; percent
	Hosts              []Host
	Latency            Latencies
	Messages           []Message
	Combos             []Combo
	CrossTierCostPerGB float64 // $/GB between hosts of different tiers
}

// Native renders the instance as the optimizer's jellybean.toml: the two sources at the rate, the three
// model stages, one worker type per host (count = slots), a latency row per host × stage × variant, the
// message sizes, link costs between tiers (sources count as the edge host's tier) and one accuracy row per
// combination, naming the VQA variant too so that the solver never pairs a VQA head with features of
// another image variant.
func Native(in Instance) ([]byte, error) {
	if !(in.Rate > 0) || math.IsInf(in.Rate, 0) {
		return nil, fmt.Errorf("input rate %v: must be > 0", in.Rate)
	}
	if len(in.Combos) == 0 {
		return nil, fmt.Errorf("no accuracy profile: no variant combination to choose from")
	}
	n := inputs.Native{Sink: VQA, Threshold: in.Threshold,
		Sources: []inputs.NativeSource{{Name: ReadImage, Rate: in.Rate}, {Name: ReadSpeech, Rate: in.Rate}},
		Stages: []inputs.NativeStage{{Name: ImageFeatures, Inputs: []string{ReadImage}},
			{Name: SpeechRecognition, Inputs: []string{ReadSpeech}}, {Name: VQA, Inputs: []string{ImageFeatures, SpeechRecognition}}}}
	for _, h := range in.Hosts {
		n.Workers = append(n.Workers, inputs.NativeWorker{Name: h.Name, Price: h.Price, Tier: h.Tier, Count: h.Slots})
		stages, ok := in.Latency[h.Name]
		if !ok {
			return nil, fmt.Errorf("host %s: no latency profiled", h.Name)
		}
		for _, st := range []string{ImageFeatures, SpeechRecognition, VQA} {
			for _, v := range sortedKeys(stages[st]) {
				n.Latency = append(n.Latency, inputs.NativeLatency{Stage: st, Worker: h.Name, Variant: v, Ms: stages[st][v]})
			}
		}
	}
	for _, m := range in.Messages {
		n.Messages = append(n.Messages, inputs.NativeMessage{From: m.From, To: m.To, FromVariant: m.FromVariant, KB: m.KB})
	}
	edgeTier := 0
	for _, h := range in.Hosts {
		if h.Name == EdgeHost(in.Hosts) {
			edgeTier = h.Tier
		}
	}
	for _, b := range in.Hosts {
		if in.CrossTierCostPerGB == 0 {
			break
		}
		for _, a := range in.Hosts {
			if a.Tier != b.Tier {
				n.Links = append(n.Links, inputs.NativeLink{From: a.Name, To: b.Name, Cost: in.CrossTierCostPerGB})
			}
		}
		if b.Tier != edgeTier {
			for _, src := range []string{ReadImage, ReadSpeech} {
				n.Links = append(n.Links, inputs.NativeLink{From: src, To: b.Name, Cost: in.CrossTierCostPerGB})
			}
		}
	}
	combos := append([]Combo(nil), in.Combos...)
	sort.SliceStable(combos, func(i, j int) bool { return combos[i].Accuracy > combos[j].Accuracy })
	for _, c := range combos {
		n.Accuracy = append(n.Accuracy, inputs.NativeAccuracy{Variants: c.Variants(), Accuracy: c.Accuracy})
	}
	data, err := n.Encode()
	if err != nil {
		return nil, err
	}
	return append([]byte("# written by `jellybean loop` from the host profile and the accuracy profile of this run's split\n"), data...), nil
}

// PlanOptions are the plan settings the loop writes into variants.toml: the workflow file, where sources
// and the sink run, which hostfile host each optimizer worker is, and the job's settings. With them,
// `jellybean optimize --inputs runs/<id>/loop/inputs -o plan.toml` rebuilds the loop's plan.
func PlanOptions(job, workflowFile, dataset string, batch, threads, limit int, compress string, hosts []Host) optimizer.PlanOptions {
	return optimizer.PlanOptions{Job: job, Workflow: workflowFile, Dataset: dataset, BatchSize: batch, Threads: threads,
		Limit: limit, Compress: compress, SourceHost: EdgeHost(hosts), SinkHost: EdgeHost(hosts), Hosts: HostOf(hosts)}
}
