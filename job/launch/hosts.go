package launch

import (
	"os"
	"strings"
)

// IsLocalHost reports whether a hostfile host name means this machine, so that its ranks are started
// directly instead of through ssh. Only the loopback names and this machine's own host name count:
// other loopback addresses such as 127.0.0.2 are deliberately treated as remote hosts, which is how the
// tests run a "multi-host" job through a real sshd on one machine.
func IsLocalHost(host, hostname string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	switch h {
	case "localhost", "127.0.0.1", "::1", "[::1]", "localhost.localdomain", "ip6-localhost":
		return true
	}
	if hostname == "" {
		return false
	}
	hn := strings.ToLower(hostname)
	if h == hn {
		return true
	}
	// "node7" in a hostfile names the same machine as the fully qualified "node7.cluster.example".
	short, _, _ := strings.Cut(hn, ".")
	return h == short
}

// thisHostname is os.Hostname without the error: an unknown name only means fewer hosts count as local.
func thisHostname() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return h
}
