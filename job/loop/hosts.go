// Package loop closes JellyBean's loop in one command: profile the hosts, measure the accuracy of every
// variant combination on the split the job will run, write the optimizer's inputs, solve, launch the
// plan, evaluate it and render the predicted-vs-measured report.
//
// The pure parts (hosts and prices, the optimizer's inputs, the rate choice, the hostfile that matches a
// plan) are separate from the steps that run programs and touch files (loop.go, files.go).
package loop

import (
	"fmt"
	"sort"
	"strings"

	"jellybean/hostfiles"
	"jellybean/job/tiers"
	"jellybean/plan"
)

// Defaults for a plain hostfile (no infrastructure description): every slot costs the same, all hosts
// are one tier, and links cost nothing (loopback or one LAN).
const (
	DefaultPricePerSlot = 1.0 // $/hour of one worker (hostfile slot)
	// DefaultCrossTierCostPerGB is charged for bytes between hosts of different tiers of an
	// infrastructure description, which gives no link prices itself ($/GB; a cloud egress order of size).
	DefaultCrossTierCostPerGB = 0.09
)

// Host is a machine the optimizer may place workers on: one optimizer worker per hostfile slot.
type Host struct {
	Name     string  // as in the hostfile (and in plans)
	Slots    int     // optimizer workers on it
	Tier     int     // 0 = the lowest (e.g. edge); sources and the sink run on the first host of the lowest tier
	TierName string  // as in the infrastructure description ("" for a plain hostfile)
	Price    float64 // $/hour per slot
}

// HostsOf derives the hosts from a hostfile and, when infra is not nil, their tiers and prices from the
// infrastructure description (`jellybean tiers up`'s infrastructure.toml). Tiers are numbered in order of
// first appearance in infra, which lists the lower tiers first. infraName is used in errors.
func HostsOf(hf *hostfiles.Hostfile, infra *tiers.Infrastructure, infraName string) ([]Host, error) {
	tierOf := map[string]int{}
	byName := map[string]tiers.InfraHost{}
	if infra != nil {
		for _, h := range infra.Hosts {
			if _, ok := tierOf[h.Tier]; !ok {
				tierOf[h.Tier] = len(tierOf)
			}
			byName[h.Name] = h
		}
	}
	var out []Host
	for _, h := range hf.Hosts {
		host := Host{Name: h.Name, Slots: h.Slots, Price: DefaultPricePerSlot}
		if infra != nil {
			ih, ok := byName[h.Name]
			if !ok {
				return nil, fmt.Errorf("%s: host %q of hostfile %s is not described (no [[host]] with name = %q)", infraName, h.Name, hf.Name, h.Name)
			}
			if ih.PricePerHour < 0 {
				return nil, fmt.Errorf("%s: host %q: price_per_hour %v must be ≥ 0", infraName, h.Name, ih.PricePerHour)
			}
			host.Tier, host.TierName, host.Price = tierOf[ih.Tier], ih.Tier, ih.PricePerHour
		}
		out = append(out, host)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("hostfile %s names no host", hf.Name)
	}
	return out, nil
}

// WorkerNames are the optimizer's names for a host's slots: the native input format expands a worker
// type of count n > 1 into name_0 … name_{n-1}, and keeps the name of a type of count 1.
func WorkerNames(h Host) []string {
	if h.Slots <= 1 {
		return []string{h.Name}
	}
	names := make([]string, h.Slots)
	for i := range names {
		names[i] = fmt.Sprintf("%s_%d", h.Name, i)
	}
	return names
}

// HostOf maps every optimizer worker name onto its hostfile host (optimizer.PlanOptions.Hosts).
func HostOf(hosts []Host) map[string]string {
	m := map[string]string{}
	for _, h := range hosts {
		for _, w := range WorkerNames(h) {
			m[w] = h.Name
		}
	}
	return m
}

// EdgeHost is where sources and the sink run: the first host of the lowest tier, where data enters.
func EdgeHost(hosts []Host) string {
	best := hosts[0]
	for _, h := range hosts[1:] {
		if h.Tier < best.Tier {
			best = h
		}
	}
	return best.Name
}

// Hostfile renders a hostfile whose slots are exactly the plan's workers per host (plan validation
// demands it), hosts in order of first use in the plan.
func Hostfile(p *plan.Plan) string {
	count := map[string]int{}
	var order []string
	for _, st := range p.Stages {
		for _, w := range st.Workers {
			if count[w.Host] == 0 {
				order = append(order, w.Host)
			}
			count[w.Host]++
		}
	}
	var b strings.Builder
	b.WriteString("# written by `jellybean loop`: one slot per worker of plan.toml\n")
	for _, h := range order {
		fmt.Fprintf(&b, "%s slots=%d\n", h, count[h])
	}
	return b.String()
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ProfileHostfile is the hostfile the latency profile runs on: every host of hf with at most slots ranks.
func ProfileHostfile(hf *hostfiles.Hostfile, slots int) string {
	c := *hf
	c.Hosts = append([]hostfiles.Host(nil), hf.Hosts...)
	for i := range c.Hosts {
		c.Hosts[i].Slots = min(c.Hosts[i].Slots, slots)
		c.Hosts[i].MaxSlots = 0
	}
	return c.String()
}
