package tiers

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParseSpecErrors(t *testing.T) {
	tests := []struct{ name, input, want string }{
		{"unknown key", "[[tier]]\nname=\"a\"\nhosts=1\nrate_mbit=1\nrte=3\n", `unknown key "tier.rte"`},
		{"no tiers", "ssh_port=22\n", "no [[tier]]"},
		{"bad subnet", "subnet=\"10.0.0.0/16\"\n[[tier]]\nname=\"a\"\nhosts=1\nrate_mbit=1\n", "key subnet"},
		{"bad name", "[[tier]]\nname=\"Edge\"\nhosts=1\nrate_mbit=1\n", `tier 1 ("Edge"): key name`},
		{"twice", "[[tier]]\nname=\"a\"\nhosts=1\nrate_mbit=1\n[[tier]]\nname=\"a\"\nhosts=1\nrate_mbit=1\n", "tier 2 (\"a\"): key name: tier named twice"},
		{"no hosts", "[[tier]]\nname=\"a\"\nrate_mbit=1\n", "key hosts"},
		{"no rate", "[[tier]]\nname=\"a\"\nhosts=1\n", "key rate_mbit"},
		{"negative delay", "[[tier]]\nname=\"a\"\nhosts=1\nrate_mbit=1\ndelay_ms=-1\n", "key delay_ms"},
		{"too many", "[[tier]]\nname=\"a\"\nhosts=201\nrate_mbit=1\n", "at most 200"},
		{"syntax", "[[tier]\n", "spec.toml:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSpec("spec.toml", strings.NewReader(tc.input))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "spec.toml") {
				t.Fatalf("error %v, want one naming spec.toml and containing %q", err, tc.want)
			}
		})
	}
}

func TestPlanLayout(t *testing.T) {
	s, err := ParseSpec("s", strings.NewReader("subnet=\"10.9.8.0/24\"\n[[tier]]\nname=\"edge\"\nhosts=2\nrate_mbit=100\ndelay_ms=20\n[[tier]]\nname=\"cloud\"\nhosts=1\nslots=4\nrate_mbit=1000\n"))
	if err != nil {
		t.Fatal(err)
	}
	l := s.Plan("/tmp/x")
	if s.SSHPort != 2222 || l.Gateway != "10.9.8.1" || l.Bridge != l.Prefix+"br" || len(l.Prefix) != 6 {
		t.Fatalf("layout %+v (port %d)", l, s.SSHPort)
	}
	var got [][3]string
	for _, h := range l.Hosts {
		got = append(got, [3]string{strings.TrimPrefix(h.Name, l.Prefix), h.Addr, strings.TrimPrefix(h.Veth, l.Prefix)})
		if len(h.Veth) > 15 || len(h.Name) > 32 {
			t.Errorf("name too long for Linux: %q %q", h.Veth, h.Name)
		}
	}
	want := [][3]string{{"-edge0", "10.9.8.10", "v0"}, {"-edge1", "10.9.8.11", "v1"}, {"-cloud0", "10.9.8.12", "v2"}}
	if !reflect.DeepEqual(got, want) || l.Hosts[2].Slots != 4 || l.Hosts[0].Slots != 1 {
		t.Fatalf("hosts %v, want %v", got, want)
	}
	if other := s.Plan("/tmp/y"); other.Prefix == l.Prefix {
		t.Fatalf("two directories share prefix %s", l.Prefix)
	}
}

func TestLinks(t *testing.T) {
	s, _ := Preset("edge-cloud")
	links := s.Links()
	if len(links) != 4 {
		t.Fatalf("%d links", len(links))
	}
	for _, l := range links {
		if l.From == "edge" && l.To == "cloud" && (l.RateMbit != 100 || l.DelayMs != 22) {
			t.Fatalf("edge→cloud %+v, want 100 Mbit/s, 22 ms", l)
		}
	}
}

func TestTCArgs(t *testing.T) {
	tests := []struct {
		rate, delay float64
		netem       bool
		want        string
	}{
		{100, 20, true, "netem rate 100mbit delay 20ms limit 10000"},
		{1000, 0, true, "netem rate 1000mbit limit 10000"},
		{100, 20, false, "tbf rate 100mbit burst 125000 latency 100ms"},
		{10, 20, false, "tbf rate 10mbit burst 65536 latency 100ms"},
	}
	for _, tc := range tests {
		if got := strings.Join(tcArgs(tc.rate, tc.delay, tc.netem), " "); got != tc.want {
			t.Errorf("tcArgs(%g, %g, %v) = %q, want %q", tc.rate, tc.delay, tc.netem, got, tc.want)
		}
	}
}

// An address inside the emulation's subnet on any interface (a bridge another emulation left up) is a
// clash; a wider network around it, or another subnet, is not.
func TestAddressIn(t *testing.T) {
	p := netip.MustParsePrefix("10.214.77.0/24")
	addrs := map[string][]netip.Prefix{
		"eth0": {netip.MustParsePrefix("10.0.0.5/8")},
		"lo":   {netip.MustParsePrefix("127.0.0.1/8")},
	}
	if n := addressIn(p, addrs); n != "" {
		t.Errorf("no clash expected, got %q", n)
	}
	addrs["jb45d5br"] = []netip.Prefix{netip.MustParsePrefix("10.214.77.1/24")}
	addrs["jb0000br"] = []netip.Prefix{netip.MustParsePrefix("10.214.77.1/24")}
	if n := addressIn(p, addrs); n != "jb0000br" {
		t.Errorf("clash: got %q, want the first by name, jb0000br", n)
	}
}
