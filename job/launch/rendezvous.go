package launch

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"

	"jellybean/hostfiles"
)

// Where rank 0 listens for the other ranks of a job (the rendezvous). Only this one address is known in
// advance; every other rank binds a port the kernel picks and registers it there. The variables, in the
// order they are consulted:
//
//	JELLYBEAN_FIXED_PORTS=1            no rendezvous: every rank listens on the plan's base_port + its slot
//	                                   (for sites whose firewalls open only a port range)
//	JELLYBEAN_RENDEZVOUS=[HOST:]PORT   set by `jellybean launch` (a free port) and by the sbatch script
//	MASTER_ADDR, MASTER_PORT           as torchrun and many cluster set-ups export them
//	(none)                             rank 0's hostfile host at the plan's base_port
const (
	EnvRendezvous = "JELLYBEAN_RENDEZVOUS"
	EnvFixedPorts = "JELLYBEAN_FIXED_PORTS"
)

// RendezvousAddr returns the rendezvous HOST:PORT for a rank, or "" when the job uses fixed ports.
// rank0Host is rank 0's host in the hostfile, basePort the plan's base port.
func RendezvousAddr(getenv func(string) string, rank0Host string, basePort int) (string, error) {
	if fixedPorts(getenv) {
		return "", nil
	}
	if v := strings.TrimSpace(getenv(EnvRendezvous)); v != "" {
		host, port := rank0Host, v
		if h, p, err := net.SplitHostPort(v); err == nil {
			if h != "" {
				host = h
			}
			port = p
		}
		if err := checkPort(EnvRendezvous, v, port); err != nil {
			return "", err
		}
		return net.JoinHostPort(host, port), nil
	}
	if port := strings.TrimSpace(getenv("MASTER_PORT")); port != "" {
		if err := checkPort("MASTER_PORT", port, port); err != nil {
			return "", err
		}
		host := rank0Host
		if h := strings.TrimSpace(getenv("MASTER_ADDR")); h != "" {
			host = h
		}
		return net.JoinHostPort(host, port), nil
	}
	return net.JoinHostPort(rank0Host, strconv.Itoa(basePort)), nil
}

// fixedPorts reports whether JELLYBEAN_FIXED_PORTS asks for fixed ports.
func fixedPorts(getenv func(string) string) bool {
	v := strings.ToLower(strings.TrimSpace(getenv(EnvFixedPorts)))
	return v != "" && v != "0" && v != "false" && v != "no"
}

func checkPort(name, value, port string) error {
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%s=%q: want PORT or HOST:PORT with a port in 1..65535", name, value)
	}
	return nil
}

// pickRendezvousPort chooses rank 0's port for a launch: one that is free on this machine when rank 0
// runs here (checked by binding it on every interface), else a random one below Linux's ephemeral range
// (20000-32767), where outgoing connections do not take ports.
func pickRendezvousPort(rank0Local bool) (int, error) {
	if !rank0Local {
		return 20000 + rand.IntN(12768), nil
	}
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port for the rendezvous: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// launchRendezvous is the rendezvous of a job this launcher starts: rank 0's host at a port picked for
// this job, so that jobs started at the same time on one host do not collide; "" when the launcher's
// environment asks for fixed ports.
func launchRendezvous(hf *hostfiles.Hostfile, hostname string) (string, error) {
	if fixedPorts(os.Getenv) {
		return "", nil
	}
	host := hf.Ranks()[0].Host
	port, err := pickRendezvousPort(IsLocalHost(host, hostname))
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}
