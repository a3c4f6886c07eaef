package tiers

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The throughput probe: the test binary re-runs itself inside a namespace (`ip netns exec`) as a tiny
// receiver or sender, selected by JB_TIERS_PROBE.
func TestMain(m *testing.M) {
	switch os.Getenv("JB_TIERS_PROBE") {
	case "recv":
		os.Exit(probeRecv(os.Getenv("JB_TIERS_ADDR")))
	case "send":
		n, _ := strconv.Atoi(os.Getenv("JB_TIERS_BYTES"))
		os.Exit(probeSend(os.Getenv("JB_TIERS_ADDR"), n))
	}
	os.Exit(m.Run())
}

// probeRecv accepts one connection, reads it to EOF and prints "bytes seconds" (first byte to EOF).
func probeRecv(addr string) int {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	c, err := l.Accept()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	buf := make([]byte, 1<<16)
	n, err := io.ReadAtLeast(c, buf, 1)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	start := time.Now()
	rest, err := io.CopyBuffer(io.Discard, c, buf)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%d %f\n", int64(n)+rest, time.Since(start).Seconds())
	return 0
}

func probeSend(addr string, n int) int {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	chunk := make([]byte, 1<<16)
	for sent := 0; sent < n; sent += len(chunk) {
		if _, err := c.Write(chunk[:min(len(chunk), n-sent)]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if err := c.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// measure sends n bytes from namespace src to dst's address and returns the receiver's Mbit/s.
func measure(t *testing.T, src, dst Host, n int) float64 {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(dst.Addr, "5201")
	recv := exec.Command("ip", "netns", "exec", dst.Name, self, "-test.run=^$")
	recv.Env = append(os.Environ(), "JB_TIERS_PROBE=recv", "JB_TIERS_ADDR="+addr)
	out, err := recv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	recv.Stderr = os.Stderr
	if err := recv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = recv.Process.Kill(); _ = recv.Wait() }()
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("receiver in %s did not start: %q", dst.Name, lines.Text())
	}
	send := exec.Command("ip", "netns", "exec", src.Name, self, "-test.run=^$")
	send.Env = append(os.Environ(), "JB_TIERS_PROBE=send", "JB_TIERS_ADDR="+addr, "JB_TIERS_BYTES="+strconv.Itoa(n))
	if msg, err := send.CombinedOutput(); err != nil {
		t.Fatalf("sender in %s: %v: %s", src.Name, err, msg)
	}
	if !lines.Scan() {
		t.Fatalf("receiver in %s printed no result", dst.Name)
	}
	var got int
	var secs float64
	if _, err := fmt.Sscanf(lines.Text(), "%d %f", &got, &secs); err != nil || got != n || secs <= 0 {
		t.Fatalf("receiver result %q (want %d bytes)", lines.Text(), n)
	}
	return float64(n) * 8 / secs / 1e6
}

// TestUpDown brings up two shaped tiers, checks connectivity, sshd and shaping with real TCP transfers
// between namespaces, then tears down and checks nothing is left.
func TestUpDown(t *testing.T) {
	if testing.Short() {
		// Not Go alone (root, ip, tc, sshd), and a run killed midway (a time budget) would leave its
		// namespaces and sshds up, without its clean-up, on the subnet the next run needs.
		t.Skip("needs root, iproute2 and sshd")
	}
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (network namespaces); CI runs as root")
	}
	spec, err := ParseSpec("test", strings.NewReader(`subnet = "10.214.77.0/24"
ssh_port = 2299
[[tier]]
name = "edge"
hosts = 1
rate_mbit = 40
delay_ms = 20
[[tier]]
name = "cloud"
hosts = 2
rate_mbit = 1000
delay_ms = 2
`))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := Up(spec, dir)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	downDone := false
	t.Cleanup(func() {
		if !downDone {
			_ = Down(st)
		}
	})
	lay := spec.Plan(dir)
	edge, cloud0, cloud1 := lay.Hosts[0], lay.Hosts[1], lay.Hosts[2]

	for _, f := range []string{"hostfile", "infrastructure.toml", "ssh.env", "id_ed25519", stateFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("output %s missing: %v", f, err)
		}
	}
	hf, _ := os.ReadFile(filepath.Join(dir, "hostfile"))
	for _, h := range lay.Hosts {
		if !strings.Contains(string(hf), h.Addr+" slots=1") {
			t.Errorf("hostfile lacks %s:\n%s", h.Addr, hf)
		}
	}

	// sshd in each namespace answers with our key, and the command runs inside that namespace.
	for _, h := range lay.Hosts {
		out, err := exec.Command("ssh", "-F", "none", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-i", filepath.Join(dir, "id_ed25519"),
			"-p", "2299", "root@"+h.Addr, "ip", "-o", "-4", "addr", "show", "eth0").CombinedOutput()
		if err != nil || !strings.Contains(string(out), h.Addr+"/24") {
			t.Errorf("ssh to %s (%s): %v: %s", h.Name, h.Addr, err, out)
		}
	}

	// Shaping: edge → cloud is capped by the edge's 40 Mbit/s; cloud → cloud is far faster.
	const n = 3 << 20
	slow := measure(t, edge, cloud0, n)
	fast := measure(t, cloud0, cloud1, 4*n)
	t.Logf("edge→cloud %.1f Mbit/s (configured 40), cloud→cloud %.1f Mbit/s (configured 1000), shaping: %s", slow, fast, st.Shaping)
	if r := slow / 40; r < 0.5 || r > 1.25 {
		t.Errorf("edge→cloud measured %.1f Mbit/s = %.2f× the configured 40 Mbit/s (want 0.5–1.25)", slow, r)
	}
	if fast < 4*slow {
		t.Errorf("cloud→cloud %.1f Mbit/s is not well above the shaped edge link's %.1f Mbit/s", fast, slow)
	}
	if strings.HasPrefix(st.Shaping, "netem") {
		// From the root namespace a TCP handshake to a cloud host crosses its link twice: 2·2 ms at least.
		start := time.Now()
		c, err := net.DialTimeout("tcp", net.JoinHostPort(cloud0.Addr, "2299"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if rtt := time.Since(start); rtt < 3*time.Millisecond {
			t.Errorf("connect to cloud took %v: delay not applied", rtt)
		}
	}

	pids := append([]int(nil), st.SSHDPIDs...)
	if err := Down(st); err != nil {
		t.Fatalf("Down: %v", err)
	}
	downDone = true
	netns, _ := exec.Command("ip", "netns", "list").CombinedOutput()
	links, _ := exec.Command("ip", "-o", "link").CombinedOutput()
	if strings.Contains(string(netns), lay.Prefix) || strings.Contains(string(links), lay.Prefix) {
		t.Errorf("left behind after Down:\n%s\n%s", netns, links)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			if stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); !strings.Contains(string(stat), ") Z ") {
				t.Errorf("sshd pid %d still running after Down", pid)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, stateFile)); !os.IsNotExist(err) {
		t.Errorf("state.json not removed: %v", err)
	}
}

// TestUpFailureCleansUp makes Up fail half-way (the second host's namespace name is already taken) and
// checks that it removed everything it had made, and left the pre-existing namespace alone.
func TestUpFailureCleansUp(t *testing.T) {
	if testing.Short() {
		t.Skip("needs root, iproute2 and sshd (real network namespaces): runs in the full suite")
	}
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (network namespaces); CI runs as root")
	}
	spec, err := ParseSpec("test", strings.NewReader("subnet = \"10.214.78.0/24\"\nssh_port = 2298\n[[tier]]\nname = \"a\"\nhosts = 3\nrate_mbit = 10\n"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lay := spec.Plan(dir)
	taken := lay.Hosts[1].Name
	if err := run("ip", "netns", "add", taken); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = run("ip", "netns", "delete", taken) }()
	if st, err := Up(spec, dir); err == nil {
		_ = Down(st)
		t.Fatal("Up succeeded although a namespace name was taken")
	} else if !strings.Contains(err.Error(), taken) {
		t.Errorf("error %v does not name the namespace %s", err, taken)
	}
	netns, _ := exec.Command("ip", "netns", "list").CombinedOutput()
	links, _ := exec.Command("ip", "-o", "link").CombinedOutput()
	if !strings.Contains(string(netns), taken) {
		t.Errorf("Up removed a namespace it did not create (%s)", taken)
	}
	for _, name := range []string{lay.Hosts[0].Name, lay.Hosts[2].Name} {
		if strings.Contains(string(netns), name+" ") || strings.HasSuffix(strings.TrimSpace(string(netns)), name) {
			t.Errorf("namespace %s left behind:\n%s", name, netns)
		}
	}
	if strings.Contains(string(links), lay.Bridge) || strings.Contains(string(links), lay.Hosts[0].Veth) {
		t.Errorf("links left behind:\n%s", links)
	}
}
