package tiers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"
)

// State is what Up made, saved as DIR/state.json so that Down (possibly another process) removes exactly
// that: these namespaces, this bridge and these sshd processes.
type State struct {
	Dir        string   `json:"dir"`
	Bridge     string   `json:"bridge"`
	Namespaces []string `json:"namespaces"`
	Veths      []string `json:"veths"` // root-namespace ends, deleted explicitly (namespace teardown is lazy)
	SSHDPIDs   []int    `json:"sshd_pids"`
	Shaping    string   `json:"shaping"`
}

const stateFile = "state.json"

// Up builds the emulation described by spec, writing hostfile, infrastructure.toml, ssh keys, sshd
// configs and state.json into dir. On any failure it removes what it had made and returns the error.
func Up(spec Spec, dir string) (st *State, err error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("tiers up needs root (network namespaces, veth pairs and tc)")
	}
	for _, tool := range []string{"ip", "tc", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s not found: install it with `apt-get install -y iproute2 openssh-server openssh-client`", tool)
		}
	}
	sshd, err := findSSHD()
	if err != nil {
		return nil, err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, stateFile)); err == nil {
		return nil, fmt.Errorf("%s already holds a running emulation: run `jellybean tiers down --out %s` first", dir, dir)
	}
	if name, err := subnetInUse(spec.Subnet); err != nil || name != "" {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("subnet %s is already in use by interface %s (an emulation left up? `jellybean tiers down --out DIR`, or `ip link del %s` if it is a stale one of ours); choose another subnet in the spec", spec.Subnet, name, name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	lay := spec.Plan(dir)
	st = &State{Dir: dir, Bridge: lay.Bridge}
	defer func() {
		if err != nil {
			_ = Down(st)
			st = nil
		}
	}()

	if err = run("ip", "link", "add", lay.Bridge, "type", "bridge"); err != nil {
		st.Bridge = "" // someone else's bridge with that name: never delete it
		return st, err
	}
	if err = runAll([][]string{
		{"ip", "addr", "add", fmt.Sprintf("%s/%d", lay.Gateway, lay.Bits), "dev", lay.Bridge},
		{"ip", "link", "set", lay.Bridge, "up"},
	}); err != nil {
		return st, err
	}
	netem := true
	for _, h := range lay.Hosts {
		if err = run("ip", "netns", "add", h.Name); err != nil {
			return st, err
		}
		st.Namespaces = append(st.Namespaces, h.Name)
		st.Veths = append(st.Veths, h.Veth)
		if err = runAll([][]string{
			{"ip", "link", "add", h.Veth, "type", "veth", "peer", "name", "eth0", "netns", h.Name},
			{"ip", "link", "set", h.Veth, "master", lay.Bridge},
			{"ip", "link", "set", h.Veth, "up"},
			{"ip", "-n", h.Name, "link", "set", "lo", "up"},
			{"ip", "-n", h.Name, "addr", "add", fmt.Sprintf("%s/%d", h.Addr, lay.Bits), "dev", "eth0"},
			{"ip", "-n", h.Name, "link", "set", "eth0", "up"},
			{"ip", "-n", h.Name, "route", "add", "default", "via", lay.Gateway},
		}); err != nil {
			return st, err
		}
		// Shape both directions: eth0's egress is the host's upload, the bridge port's egress its download.
		for _, dev := range [][]string{{"-n", h.Name, "qdisc", "replace", "dev", "eth0", "root"}, {"qdisc", "replace", "dev", h.Veth, "root"}} {
			if netem {
				err = run("tc", append(dev, tcArgs(h.RateMbit, h.DelayMs, true)...)...)
				if err != nil && strings.Contains(err.Error(), "qdisc kind is unknown") {
					netem = false
				}
			}
			if !netem {
				err = run("tc", append(dev, tcArgs(h.RateMbit, h.DelayMs, false)...)...)
			}
			if err != nil {
				return st, err
			}
		}
	}
	st.Shaping = "netem (rate and delay)"
	if !netem {
		st.Shaping = "tbf (rate only: this kernel lacks sch_netem, so delay_ms is not emulated)"
	}
	if err = writeKeys(dir); err != nil {
		return st, err
	}
	for _, h := range lay.Hosts {
		pid, err := startSSHD(sshd, dir, h, spec.SSHPort)
		if err != nil {
			return st, err
		}
		st.SSHDPIDs = append(st.SSHDPIDs, pid)
		if err := saveState(st); err != nil { // saved as we go: a crash leaves Down enough to clean up
			return st, err
		}
	}
	for _, h := range lay.Hosts {
		if err = waitListening(h.Addr, spec.SSHPort, 10*time.Second); err != nil {
			return st, fmt.Errorf("sshd in namespace %s: %w (log: %s)", h.Name, err, filepath.Join(dir, h.Name+".sshd.log"))
		}
	}
	if err = writeOutputs(spec, lay, st, dir); err != nil {
		return st, err
	}
	return st, saveState(st)
}

// LoadState reads DIR/state.json.
func LoadState(dir string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, fmt.Errorf("no emulation recorded in %s: %w", dir, err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	return &st, nil
}

func saveState(st *State) error {
	data, _ := json.MarshalIndent(st, "", "  ")
	return os.WriteFile(filepath.Join(st.Dir, stateFile), append(data, '\n'), 0o644)
}

// Down stops the sshd processes (by PID, only if the PID still runs our sshd config), deletes the
// namespaces (which removes their veth pairs) and the bridge, then removes state.json. It carries on past
// errors and returns them all.
func Down(st *State) error {
	var errs []error
	for _, pid := range st.SSHDPIDs {
		if err := stopSSHD(pid, st.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	// Deleting one end of a veth pair deletes both; the kernel frees a deleted namespace's devices later,
	// so without this they would linger for a while after Down returns.
	for _, v := range st.Veths {
		if err := run("ip", "link", "delete", v); err != nil && !notFound(err) {
			errs = append(errs, err)
		}
	}
	for _, ns := range st.Namespaces {
		if err := run("ip", "netns", "delete", ns); err != nil && !notFound(err) {
			errs = append(errs, err)
		}
	}
	if st.Bridge != "" {
		if err := run("ip", "link", "delete", st.Bridge); err != nil && !notFound(err) {
			errs = append(errs, err)
		}
	}
	if err := os.Remove(filepath.Join(st.Dir, stateFile)); err != nil && !os.IsNotExist(err) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func notFound(err error) bool {
	s := err.Error()
	return strings.Contains(s, "No such file") || strings.Contains(s, "Cannot find device") || strings.Contains(s, "does not exist")
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func runAll(cmds [][]string) error {
	for _, c := range cmds {
		if err := run(c[0], c[1:]...); err != nil {
			return err
		}
	}
	return nil
}

func findSSHD() (string, error) {
	if p, err := exec.LookPath("sshd"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err == nil {
		return "/usr/sbin/sshd", nil
	}
	return "", errors.New("sshd not found: install it with `apt-get install -y openssh-server`")
}

// writeKeys makes one host key (shared by every emulated host) and one client key, authorised everywhere.
func writeKeys(dir string) error {
	for _, k := range []string{"host_ed25519", "id_ed25519"} {
		p := filepath.Join(dir, k)
		if _, err := os.Stat(p); err == nil {
			continue
		}
		if err := run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "jellybean-tiers", "-f", p); err != nil {
			return err
		}
	}
	pub, err := os.ReadFile(filepath.Join(dir, "id_ed25519.pub"))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600)
}

func sshdConfig(dir string, h Host, port int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ListenAddress %s:%d\n", h.Addr, port)
	fmt.Fprintf(&b, "HostKey %s\n", filepath.Join(dir, "host_ed25519"))
	fmt.Fprintf(&b, "AuthorizedKeysFile %s\n", filepath.Join(dir, "authorized_keys"))
	fmt.Fprintf(&b, "PidFile %s\n", filepath.Join(dir, h.Name+".sshd.pid"))
	b.WriteString("StrictModes no\nPermitRootLogin yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n" +
		"PubkeyAuthentication yes\nUsePAM no\nPrintMotd no\nMaxStartups 100:30:200\nMaxSessions 100\n")
	return b.String()
}

// startSSHD starts sshd inside the host's namespace in its own session, so it outlives `tiers up`.
func startSSHD(sshd, dir string, h Host, port int) (int, error) {
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // Debian's privilege-separation directory
		return 0, err
	}
	conf := filepath.Join(dir, h.Name+".sshd_config")
	if err := os.WriteFile(conf, []byte(sshdConfig(dir, h, port)), 0o600); err != nil {
		return 0, err
	}
	logf, err := os.Create(filepath.Join(dir, h.Name+".sshd.log"))
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	cmd := exec.Command("ip", "netns", "exec", h.Name, sshd, "-D", "-e", "-f", conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	pid := cmd.Process.Pid // `ip netns exec` execs sshd in place: this PID is sshd's
	_ = cmd.Process.Release()
	return pid, nil
}

// stopSSHD signals pid only while it is still an sshd started with a config from dir (PIDs get reused).
func stopSSHD(pid int, dir string) error {
	ours := func() bool {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		return err == nil && bytes.Contains(cmdline, []byte(dir+"/")) && bytes.Contains(cmdline, []byte("sshd"))
	}
	if !ours() {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for range 100 {
		reap(pid)
		if !ours() {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	time.Sleep(100 * time.Millisecond)
	reap(pid)
	if ours() {
		return fmt.Errorf("sshd pid %d did not exit", pid)
	}
	return nil
}

// reap collects pid if it is our child (when Up and Down run in one process, e.g. tests).
func reap(pid int) {
	var ws syscall.WaitStatus
	_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
}

// subnetInUse names an interface of this network namespace with an address in subnet, or "" if none:
// a second emulation on it would route to the first one's bridge, and its sshd would never be reached.
func subnetInUse(subnet string) (string, error) {
	p, err := netip.ParsePrefix(subnet)
	if err != nil {
		return "", err
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", err
	}
	addrs := map[string][]netip.Prefix{}
	for _, ifc := range ifaces {
		as, err := ifc.Addrs()
		if err != nil {
			return "", err
		}
		for _, a := range as {
			if pre, err := netip.ParsePrefix(a.String()); err == nil {
				addrs[ifc.Name] = append(addrs[ifc.Name], pre)
			}
		}
	}
	return addressIn(p, addrs), nil
}

// addressIn is the first interface (by name) with an address inside p, or "". (A wider network around
// p elsewhere is no clash: the emulation's /24 route is the more specific.) Pure.
func addressIn(p netip.Prefix, addrs map[string][]netip.Prefix) string {
	names := make([]string, 0, len(addrs))
	for n := range addrs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, a := range addrs[n] {
			if p.Contains(a.Addr()) {
				return n
			}
		}
	}
	return ""
}

// waitListening waits for a TCP listener; the root namespace reaches every host through the bridge.
func waitListening(addr string, port int, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, strconv.Itoa(port)), 500*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening on %s:%d after %v: %v", addr, port, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Infrastructure is DIR/infrastructure.toml: the hosts, their tiers and prices, and the emulated links.
type Infrastructure struct {
	Shaping string      `toml:"shaping"`
	SSHPort int         `toml:"ssh_port"`
	SSHKey  string      `toml:"ssh_identity"`
	Hosts   []InfraHost `toml:"host"`
	Links   []InfraLink `toml:"link"`
}

// InfraHost is one host of the description.
type InfraHost struct {
	Name         string  `toml:"name"` // address, as in the hostfile
	Namespace    string  `toml:"namespace"`
	Tier         string  `toml:"tier"`
	Slots        int     `toml:"slots"`
	PricePerHour float64 `toml:"price_per_hour"`
	RateMbit     float64 `toml:"rate_mbit"`
	DelayMs      float64 `toml:"delay_ms"`
}

// InfraLink is the emulated path between two tiers.
type InfraLink struct {
	From     string  `toml:"from"`
	To       string  `toml:"to"`
	RateMbit float64 `toml:"rate_mbit"`
	DelayMs  float64 `toml:"delay_ms"` // 0 in effect when shaping is tbf
}

func writeOutputs(spec Spec, lay Layout, st *State, dir string) error {
	var hf strings.Builder
	hf.WriteString("# emulated tiers written by `jellybean tiers up`; one network namespace per host\n")
	inf := Infrastructure{Shaping: st.Shaping, SSHPort: spec.SSHPort, SSHKey: filepath.Join(dir, "id_ed25519")}
	for _, h := range lay.Hosts {
		fmt.Fprintf(&hf, "%s slots=%d  # %s, tier %s\n", h.Addr, h.Slots, h.Name, h.Tier)
		inf.Hosts = append(inf.Hosts, InfraHost{Name: h.Addr, Namespace: h.Name, Tier: h.Tier, Slots: h.Slots,
			PricePerHour: h.PricePerHour, RateMbit: h.RateMbit, DelayMs: h.DelayMs})
	}
	for _, l := range spec.Links() {
		inf.Links = append(inf.Links, InfraLink(l))
	}
	if err := os.WriteFile(filepath.Join(dir, "hostfile"), []byte(hf.String()), 0o644); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(inf); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "infrastructure.toml"), buf.Bytes(), 0o644); err != nil {
		return err
	}
	env := fmt.Sprintf("export JELLYBEAN_SSH_PORT=%d\nexport JELLYBEAN_SSH_IDENTITY=%s\n"+
		"export JELLYBEAN_SSH_OPTS='-F none -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o IdentitiesOnly=yes'\n",
		spec.SSHPort, inf.SSHKey)
	return os.WriteFile(filepath.Join(dir, "ssh.env"), []byte(env), 0o644)
}
