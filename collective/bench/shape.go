package bench

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// shapedPair is two network namespaces joined by a veth pair whose ends are both rate-limited with a
// token-bucket qdisc, so two ranks talk over a link of a chosen speed. Only the benchmark's own
// namespaces are touched; Close deletes them (and with them the veth pair). Needs root and iproute2.
type shapedPair struct {
	ns  [2]string
	ips [2]string
}

func run(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// newShapedPair builds the pair; rate is a tc rate such as "100mbit".
func newShapedPair(rate string) (*shapedPair, error) {
	id := os.Getpid() % 100000
	subnet := 1 + id%250
	s := &shapedPair{
		ns:  [2]string{fmt.Sprintf("jbcoll%d-a", id), fmt.Sprintf("jbcoll%d-b", id)},
		ips: [2]string{fmt.Sprintf("10.231.%d.1", subnet), fmt.Sprintf("10.231.%d.2", subnet)},
	}
	veth := [2]string{fmt.Sprintf("jbc%da", id), fmt.Sprintf("jbc%db", id)}
	steps := [][]string{
		{"ip", "netns", "add", s.ns[0]},
		{"ip", "netns", "add", s.ns[1]},
		{"ip", "link", "add", veth[0], "type", "veth", "peer", "name", veth[1]},
	}
	for i := range 2 {
		steps = append(steps,
			[]string{"ip", "link", "set", veth[i], "netns", s.ns[i]},
			[]string{"ip", "-n", s.ns[i], "addr", "add", s.ips[i] + "/24", "dev", veth[i]},
			[]string{"ip", "-n", s.ns[i], "link", "set", veth[i], "up"},
			[]string{"ip", "-n", s.ns[i], "link", "set", "lo", "up"},
			[]string{"tc", "-n", s.ns[i], "qdisc", "add", "dev", veth[i], "root", "tbf", "rate", rate, "burst", "128kb", "latency", "100ms"})
	}
	for _, st := range steps {
		if err := run(st...); err != nil {
			s.Close()
			exec.Command("ip", "link", "del", veth[0]).Run() // in case it never moved into a namespace
			return nil, fmt.Errorf("shaping a %s link (needs root, iproute2, tbf): %w", rate, err)
		}
	}
	return s, nil
}

func (s *shapedPair) Close() {
	for _, ns := range s.ns {
		exec.Command("ip", "netns", "del", ns).Run()
	}
}
