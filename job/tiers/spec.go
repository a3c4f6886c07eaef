// Package tiers emulates a multi-tier infrastructure (e.g. edge and cloud) on one Linux machine: every
// emulated host is a network namespace joined by a veth pair to one bridge in the root namespace, its links
// shaped with tc (netem rate+delay, or tbf rate only where the kernel lacks sch_netem), with its own sshd.
// `Up` writes a hostfile and an infrastructure description; `Down` removes everything `Up` made.
//
// This file is the pure part: the spec, its presets and the layout (names and addresses) derived from it.
package tiers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"

	"github.com/BurntSushi/toml"
)

// Tier is one group of identical emulated hosts.
type Tier struct {
	Name         string  `toml:"name"`
	Hosts        int     `toml:"hosts"`
	Slots        int     `toml:"slots"`          // ranks per host in the hostfile (default 1)
	RateMbit     float64 `toml:"rate_mbit"`      // each host's link rate, both directions
	DelayMs      float64 `toml:"delay_ms"`       // one-way delay added on each direction of the host's link
	PricePerHour float64 `toml:"price_per_hour"` // carried into the infrastructure description
}

// Spec is the whole emulated infrastructure.
type Spec struct {
	Subnet  string `toml:"subnet"`   // IPv4 /24 used only inside the emulation (default 10.213.0.0/24)
	SSHPort int    `toml:"ssh_port"` // sshd port in every namespace (default 2222)
	Tiers   []Tier `toml:"tier"`
}

// Presets are the built-in specs for --preset.
var Presets = map[string]Spec{
	"edge-cloud": {Tiers: []Tier{
		{Name: "edge", Hosts: 2, RateMbit: 100, DelayMs: 20, PricePerHour: 0.1},
		{Name: "cloud", Hosts: 2, RateMbit: 1000, DelayMs: 2, PricePerHour: 0.8},
	}},
}

var tierName = regexp.MustCompile(`^[a-z][a-z0-9]{0,7}$`)

// ParseSpec reads a TOML spec; errors name the file and the key at fault, and unknown keys are errors.
func ParseSpec(name string, r io.Reader) (Spec, error) {
	var s Spec
	md, err := toml.NewDecoder(r).Decode(&s)
	if err != nil {
		return s, fmt.Errorf("%s: %w", name, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return s, fmt.Errorf("%s: unknown key %q", name, und[0].String())
	}
	if err := s.normalise(); err != nil {
		return s, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

// LoadSpec reads a spec file.
func LoadSpec(path string) (Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return Spec{}, err
	}
	defer f.Close()
	return ParseSpec(path, f)
}

// Preset returns a built-in spec, normalised.
func Preset(name string) (Spec, error) {
	s, ok := Presets[name]
	if !ok {
		return s, fmt.Errorf("unknown tiers preset %q (have: edge-cloud)", name)
	}
	s.Tiers = append([]Tier(nil), s.Tiers...)
	return s, s.normalise()
}

// maxHosts keeps every address inside the /24 (.10 onwards) and interface names short.
const maxHosts = 200

func (s *Spec) normalise() error {
	if s.Subnet == "" {
		s.Subnet = "10.213.0.0/24"
	}
	p, err := netip.ParsePrefix(s.Subnet)
	if err != nil || !p.Addr().Is4() || p.Bits() != 24 || p.Masked() != p {
		return fmt.Errorf("key subnet: %q is not an IPv4 /24 network (e.g. 10.213.0.0/24)", s.Subnet)
	}
	if s.SSHPort == 0 {
		s.SSHPort = 2222
	}
	if s.SSHPort < 1 || s.SSHPort > 65535 {
		return fmt.Errorf("key ssh_port: %d is not a port", s.SSHPort)
	}
	if len(s.Tiers) == 0 {
		return fmt.Errorf("no [[tier]] tables")
	}
	total, seen := 0, map[string]bool{}
	for i := range s.Tiers {
		t := &s.Tiers[i]
		at := fmt.Sprintf("tier %d (%q)", i+1, t.Name)
		switch {
		case !tierName.MatchString(t.Name):
			return fmt.Errorf("%s: key name: want 1-8 lower-case letters or digits, starting with a letter", at)
		case seen[t.Name]:
			return fmt.Errorf("%s: key name: tier named twice", at)
		case t.Hosts < 1:
			return fmt.Errorf("%s: key hosts: want at least 1, got %d", at, t.Hosts)
		case t.RateMbit <= 0 || t.RateMbit > 100000:
			return fmt.Errorf("%s: key rate_mbit: want a rate in (0, 100000] Mbit/s, got %g", at, t.RateMbit)
		case t.DelayMs < 0 || t.DelayMs > 10000:
			return fmt.Errorf("%s: key delay_ms: want 0 to 10000 ms, got %g", at, t.DelayMs)
		case t.Slots < 0:
			return fmt.Errorf("%s: key slots: want at least 1, got %d", at, t.Slots)
		case t.PricePerHour < 0:
			return fmt.Errorf("%s: key price_per_hour: negative", at)
		}
		if t.Slots == 0 {
			t.Slots = 1
		}
		seen[t.Name] = true
		total += t.Hosts
	}
	if total > maxHosts {
		return fmt.Errorf("%d hosts in all: at most %d fit in one /24", total, maxHosts)
	}
	return nil
}

// Host is one emulated host as laid out.
type Host struct {
	Name         string // network namespace name
	Tier         string
	Addr         string // IPv4 address inside the emulation
	Veth         string // root-namespace end of its veth pair (the namespace end is "eth0")
	Slots        int
	RateMbit     float64
	DelayMs      float64
	PricePerHour float64
}

// Layout is every name and address Up creates; a pure function of the spec and the output directory.
type Layout struct {
	Prefix  string // short tag shared by every name, derived from the output directory
	Bridge  string
	Gateway string // the bridge's address (how the root namespace reaches the hosts)
	Bits    int
	Hosts   []Host
}

// Plan derives the layout. The prefix comes from a hash of dir, so two emulations with different output
// directories never share a name (they must still use different subnets).
func (s Spec) Plan(dir string) Layout {
	sum := sha256.Sum256([]byte(dir))
	prefix := "jb" + hex.EncodeToString(sum[:2])
	base := netip.MustParsePrefix(s.Subnet).Addr().As4()
	addr := func(last int) string { return netip.AddrFrom4([4]byte{base[0], base[1], base[2], byte(last)}).String() }
	l := Layout{Prefix: prefix, Bridge: prefix + "br", Gateway: addr(1), Bits: 24}
	n := 0
	for _, t := range s.Tiers {
		for k := range t.Hosts {
			l.Hosts = append(l.Hosts, Host{
				Name: fmt.Sprintf("%s-%s%d", prefix, t.Name, k), Tier: t.Name, Addr: addr(10 + n),
				Veth: fmt.Sprintf("%sv%d", prefix, n), Slots: t.Slots,
				RateMbit: t.RateMbit, DelayMs: t.DelayMs, PricePerHour: t.PricePerHour,
			})
			n++
		}
	}
	return l
}

// Link is the emulated path between two tiers: the slower of the two rates, both one-way delays added.
type Link struct {
	From, To string
	RateMbit float64
	DelayMs  float64
}

// Links lists the path between every ordered pair of tiers (including a tier with itself).
func (s Spec) Links() []Link {
	var out []Link
	for _, a := range s.Tiers {
		for _, b := range s.Tiers {
			out = append(out, Link{From: a.Name, To: b.Name, RateMbit: min(a.RateMbit, b.RateMbit), DelayMs: a.DelayMs + b.DelayMs})
		}
	}
	return out
}

// tcArgs are the qdisc arguments that shape one direction of a host's link: netem when the kernel has it
// (rate and delay), otherwise tbf (rate only; the delay is then not emulated and the description says so).
func tcArgs(rateMbit, delayMs float64, netem bool) []string {
	rate := fmt.Sprintf("%gmbit", rateMbit)
	if netem {
		args := []string{"netem", "rate", rate}
		if delayMs > 0 {
			args = append(args, "delay", fmt.Sprintf("%gms", delayMs))
		}
		// netem's default queue (1000 packets) is enough for these rates; a larger limit avoids drops at
		// high delay-bandwidth products.
		return append(args, "limit", "10000")
	}
	// tbf needs a bucket of at least one timer tick of traffic; 1/100 s of the rate or 64 KiB (a GSO
	// segment), whichever is larger.
	burst := max(int(rateMbit*1e6/8/100), 64<<10)
	return []string{"tbf", "rate", rate, "burst", fmt.Sprint(burst), "latency", "100ms"}
}
