// Package sshtest runs a real OpenSSH server on loopback for tests: generated host and user keys in a
// temporary directory, listening on 127.0.0.2 and 127.0.0.3 so that one machine offers two "hosts".
// It is a test helper shared by the launcher's tests and the end-to-end tests.
package sshtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Hosts are the loopback addresses the server listens on; each stands for a different host in tests.
var Hosts = []string{"127.0.0.2", "127.0.0.3"}

// Server is a running sshd.
type Server struct {
	Port     int
	Identity string // private key the server accepts
	Dir      string
	cmd      *exec.Cmd
	exited   chan struct{}
	log      string
}

// Start starts sshd for the test and stops it (by its PID) when the test ends. Outside -short a missing sshd
// is a test failure, not a skip: the tests that need it are the proof that multi-host launching works. The
// -short tier is Go alone, so there they are skipped; the full suite runs them.
func Start(t testing.TB) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a real sshd on loopback: runs in the full suite (go test without -short)")
	}
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/sshd"); serr == nil {
			sshd = "/usr/sbin/sshd"
		} else {
			t.Fatalf("sshd not found: install it with `apt-get install -y openssh-server` (the multi-host tests need a real sshd on loopback)")
		}
	}
	for _, tool := range []string{"ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install it with `apt-get install -y openssh-client openssh-server`", tool)
		}
	}
	// Debian's sshd insists on its privilege-separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatalf("creating /run/sshd for sshd: %v", err)
	}
	dir := t.TempDir()
	s := &Server{Dir: dir, Identity: filepath.Join(dir, "id_ed25519"), log: filepath.Join(dir, "sshd.log")}
	keygen(t, filepath.Join(dir, "host_ed25519"))
	keygen(t, s.Identity)
	pub, err := os.ReadFile(s.Identity + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}

	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("finding a free port on %v: %v", Hosts, err)
		}
		if lastErr = s.start(sshd, port); lastErr == nil {
			t.Cleanup(s.Stop)
			return s
		}
	}
	t.Fatalf("starting sshd: %v", lastErr)
	return nil
}

func keygen(t testing.TB, path string) {
	t.Helper()
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "jellybean-test", "-f", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
}

func (s *Server) start(sshd string, port int) error {
	var cfg strings.Builder
	for _, h := range Hosts {
		fmt.Fprintf(&cfg, "ListenAddress %s:%d\n", h, port)
	}
	fmt.Fprintf(&cfg, "HostKey %s\n", filepath.Join(s.Dir, "host_ed25519"))
	fmt.Fprintf(&cfg, "AuthorizedKeysFile %s\n", filepath.Join(s.Dir, "authorized_keys"))
	fmt.Fprintf(&cfg, "PidFile %s\n", filepath.Join(s.Dir, "sshd.pid"))
	cfg.WriteString("StrictModes no\nPermitRootLogin yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n" +
		"PubkeyAuthentication yes\nUsePAM no\nPrintMotd no\nMaxStartups 100:30:200\nMaxSessions 100\nLogLevel VERBOSE\n")
	conf := filepath.Join(s.Dir, "sshd_config")
	if err := os.WriteFile(conf, []byte(cfg.String()), 0o600); err != nil {
		return err
	}
	if out, err := exec.Command(sshd, "-t", "-f", conf).CombinedOutput(); err != nil {
		return fmt.Errorf("sshd -t rejected the generated config: %v: %s", err, out)
	}
	cmd := exec.Command(sshd, "-D", "-e", "-f", conf)
	logf, err := os.Create(s.log)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	logf.Close()
	s.cmd, s.Port, s.exited = cmd, port, make(chan struct{})
	go func() { _ = cmd.Wait(); close(s.exited) }()

	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("sshd exited at start-up: %s", s.Log())
		default:
		}
		if allListening(port) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("sshd not listening on port %d after 10s: %s", port, s.Log())
}

// Stop stops sshd (SIGTERM to its PID, SIGKILL if it lingers) and waits for it.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// Log returns sshd's log so far (for failure messages).
func (s *Server) Log() string {
	data, _ := os.ReadFile(s.log)
	return string(bytes.TrimSpace(data))
}

// ClientOptions are the ssh client options that reach this server without touching ~/.ssh: no user
// config, no known_hosts, the test key.
func (s *Server) ClientOptions() []string {
	return []string{"-F", "none", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes"}
}

// Env returns the JELLYBEAN_SSH_* variables that aim `jellybean launch` at this server.
func (s *Server) Env() []string {
	return []string{
		"JELLYBEAN_SSH_PORT=" + strconv.Itoa(s.Port),
		"JELLYBEAN_SSH_IDENTITY=" + s.Identity,
		"JELLYBEAN_SSH_OPTS=" + strings.Join(s.ClientOptions(), " "),
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", Hosts[0]+":0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	for _, h := range Hosts[1:] {
		l, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(port)))
		if err != nil {
			return 0, errors.New("port taken on " + h)
		}
		l.Close()
	}
	return port, nil
}

func allListening(port int) bool {
	for _, h := range Hosts {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(h, strconv.Itoa(port)), 200*time.Millisecond)
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}
