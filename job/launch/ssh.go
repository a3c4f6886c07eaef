package launch

import (
	"fmt"
	"strconv"
	"strings"
)

// SSHOptions say how remote ranks are reached. Every field can come from a flag or the environment
// (FromEnv), so that tests can aim the launcher at an sshd on loopback with their own keys.
type SSHOptions struct {
	Client         string   // ssh client program (default "ssh"); JELLYBEAN_SSH
	Port           int      // JELLYBEAN_SSH_PORT
	Identity       string   // private key file; JELLYBEAN_SSH_IDENTITY
	Extra          []string // more ssh arguments, split on white space; JELLYBEAN_SSH_OPTS
	ConnectTimeout int      // seconds; default 10; JELLYBEAN_SSH_CONNECT_TIMEOUT
	RemoteRoot     string   // JellyBean root on remote hosts (default: same path as here); JELLYBEAN_REMOTE_ROOT
	RemoteBinary   string   // jellybean program on remote hosts (default bin/jellybean under the root); JELLYBEAN_REMOTE_BIN
	RemoteORTLib   string   // JELLYBEAN_ORT_LIB for remote ranks (default: theirs); JELLYBEAN_REMOTE_ORT_LIB
}

func (o SSHOptions) client() string {
	if o.Client == "" {
		return "ssh"
	}
	return o.Client
}

func (o SSHOptions) connectTimeout() int {
	if o.ConnectTimeout <= 0 {
		return 10
	}
	return o.ConnectTimeout
}

// SSHOptionsFromEnv reads the JELLYBEAN_SSH_* and JELLYBEAN_REMOTE_* variables through getenv.
func SSHOptionsFromEnv(getenv func(string) string) (SSHOptions, error) {
	o := SSHOptions{
		Client:       getenv("JELLYBEAN_SSH"),
		Identity:     getenv("JELLYBEAN_SSH_IDENTITY"),
		Extra:        strings.Fields(getenv("JELLYBEAN_SSH_OPTS")),
		RemoteRoot:   getenv("JELLYBEAN_REMOTE_ROOT"),
		RemoteBinary: getenv("JELLYBEAN_REMOTE_BIN"),
		RemoteORTLib: getenv("JELLYBEAN_REMOTE_ORT_LIB"),
	}
	var err error
	if o.Port, err = envInt(getenv, "JELLYBEAN_SSH_PORT", 1, 65535); err != nil {
		return o, err
	}
	if o.ConnectTimeout, err = envInt(getenv, "JELLYBEAN_SSH_CONNECT_TIMEOUT", 1, 3600); err != nil {
		return o, err
	}
	return o, nil
}

func envInt(getenv func(string) string, name string, lo, hi int) (int, error) {
	s := getenv(name)
	if s == "" {
		return 0, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("%s=%q: want an integer from %d to %d", name, s, lo, hi)
	}
	return v, nil
}
