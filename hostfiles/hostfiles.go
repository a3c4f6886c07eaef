// Package hostfiles reads MPI-style hostfiles: which hosts a job runs on and how many ranks (slots) each
// host gets. Ranks are numbered by expanding the hosts in file order, slot by slot (Open MPI's
// `--map-by slot`), so rank numbering is a pure function of the file.
//
// Accepted syntax, one host per line:
//
//	# comment (also after a host)
//	node1 slots=4 max_slots=8   # Open MPI
//	node2:2                     # MPICH
//	node3                       # one slot
//	fd00::4 slots=2             # IPv6 (MPICH style: [fd00::4]:2)
//
// A host named twice has its slots (and max_slots) added; its ranks stay at its first position.
package hostfiles

import (
	"bufio"
	_ "embed"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Host is one distinct host of a hostfile.
type Host struct {
	Name     string // as written in the hostfile (and in plans)
	Slots    int    // ranks started on this host
	MaxSlots int    // optional upper bound (0 = not given); informational, Slots never exceeds it
	Line     int    // line of the host's first mention, for error messages
}

// Hostfile is a parsed hostfile.
type Hostfile struct {
	Name  string // file name used in error messages
	Hosts []Host // distinct hosts in order of first mention
}

// Slot is one rank of the job: the rank number, its host and its index among the host's slots.
type Slot struct {
	Rank       int
	Host       string
	LocalIndex int // 0-based slot index on Host; the rank listens on base_port + LocalIndex
}

// DefaultName is the name under which the embedded default hostfile reports errors.
const DefaultName = "hostfiles/localhost"

//go:embed localhost
var defaultHostfile string

// Default returns the embedded default hostfile (hostfiles/localhost), which runs the default plan on
// this machine.
func Default() *Hostfile {
	h, err := Parse(DefaultName, strings.NewReader(defaultHostfile))
	if err != nil {
		panic("hostfiles: embedded default is invalid: " + err.Error())
	}
	return h
}

// Load reads and parses the hostfile at path.
func Load(path string) (*Hostfile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading hostfile: %w", err)
	}
	defer f.Close()
	return Parse(path, f)
}

// maxSlotsPerHost bounds a slot count so that a typo (slots=40000) fails loudly instead of starting
// thousands of processes.
const maxSlotsPerHost = 4096

// Parse reads a hostfile; name is used in error messages ("name:line: ...").
func Parse(name string, r io.Reader) (*Hostfile, error) {
	h := &Hostfile{Name: name}
	index := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		host, ok, err := parseLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, lineNo, err)
		}
		if !ok {
			continue
		}
		host.Line = lineNo
		if i, dup := index[host.Name]; dup {
			prev := &h.Hosts[i]
			if prev.MaxSlots > 0 || host.MaxSlots > 0 {
				prev.MaxSlots = max(prev.MaxSlots, prev.Slots) + max(host.MaxSlots, host.Slots)
			}
			prev.Slots += host.Slots
			if prev.Slots > maxSlotsPerHost {
				return nil, fmt.Errorf("%s:%d: host %q has %d slots in total, more than the limit %d",
					name, lineNo, host.Name, prev.Slots, maxSlotsPerHost)
			}
			continue
		}
		index[host.Name] = len(h.Hosts)
		h.Hosts = append(h.Hosts, host)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, lineNo+1, err)
	}
	if len(h.Hosts) == 0 {
		return nil, fmt.Errorf("%s: no hosts (every line is blank or a comment)", name)
	}
	return h, nil
}

// parseLine parses one line; ok is false for blank and comment lines.
func parseLine(line string) (Host, bool, error) {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return Host{}, false, nil
	}
	host := Host{Name: fields[0], Slots: 1}
	if name, count, ok := splitMPICH(host.Name); ok {
		n, err := parseCount("slot count after ':'", count)
		if err != nil {
			return Host{}, false, err
		}
		host.Name, host.Slots = name, n
		if len(fields) > 1 {
			return Host{}, false, fmt.Errorf("unexpected %q after MPICH-style %q", fields[1], fields[0])
		}
	}
	host.Name = strings.TrimSuffix(strings.TrimPrefix(host.Name, "["), "]")
	if host.Name == "" {
		return Host{}, false, fmt.Errorf("empty host name")
	}
	if strings.ContainsAny(host.Name, "=,;\"'") || !utf8.ValidString(host.Name) || strings.IndexFunc(host.Name, notPrintable) >= 0 {
		return Host{}, false, fmt.Errorf("invalid host name %q", host.Name)
	}
	seen := map[string]bool{}
	for _, f := range fields[1:] {
		key, val, found := strings.Cut(f, "=")
		if !found {
			return Host{}, false, fmt.Errorf("expected key=value after host %q, found %q", host.Name, f)
		}
		key = strings.ReplaceAll(key, "-", "_") // Open MPI accepts max-slots too
		if seen[key] {
			return Host{}, false, fmt.Errorf("%s given twice", key)
		}
		seen[key] = true
		switch key {
		case "slots":
			n, err := parseCount("slots", val)
			if err != nil {
				return Host{}, false, err
			}
			host.Slots = n
		case "max_slots":
			n, err := parseCount("max_slots", val)
			if err != nil {
				return Host{}, false, err
			}
			host.MaxSlots = n
		default:
			return Host{}, false, fmt.Errorf("unknown key %q (expected slots or max_slots)", key)
		}
	}
	if host.MaxSlots > 0 && host.Slots > host.MaxSlots {
		return Host{}, false, fmt.Errorf("host %q: slots=%d exceeds max_slots=%d", host.Name, host.Slots, host.MaxSlots)
	}
	return host, true, nil
}

// splitMPICH splits MPICH's "host:N" ("[v6addr]:N" for IPv6). A bare IPv6 address (several colons, no
// brackets) has no slot suffix.
func splitMPICH(field string) (name, count string, ok bool) {
	if strings.HasPrefix(field, "[") {
		if i := strings.Index(field, "]:"); i >= 0 {
			return field[1:i], field[i+2:], true
		}
		return field, "", false
	}
	if strings.Count(field, ":") != 1 {
		return field, "", false
	}
	name, count, _ = strings.Cut(field, ":")
	return name, count, true
}

func parseCount(what, s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s must be a positive integer, got %q", what, s)
	}
	if n > maxSlotsPerHost {
		return 0, fmt.Errorf("%s=%d exceeds the limit %d", what, n, maxSlotsPerHost)
	}
	return n, nil
}

// WorldSize is the total number of ranks (the sum of all hosts' slots).
func (h *Hostfile) WorldSize() int {
	n := 0
	for _, host := range h.Hosts {
		n += host.Slots
	}
	return n
}

// Ranks expands the hosts slot by slot: ranks 0..Slots-1 go to the first host, and so on.
func (h *Hostfile) Ranks() []Slot {
	slots := make([]Slot, 0, h.WorldSize())
	for _, host := range h.Hosts {
		for i := 0; i < host.Slots; i++ {
			slots = append(slots, Slot{Rank: len(slots), Host: host.Name, LocalIndex: i})
		}
	}
	return slots
}

// Slot returns the slot of one rank, or an error naming the valid range.
func (h *Hostfile) Slot(rank int) (Slot, error) {
	if rank < 0 || rank >= h.WorldSize() {
		return Slot{}, fmt.Errorf("rank %d out of range: hostfile %s has %d slots (ranks 0..%d)",
			rank, h.Name, h.WorldSize(), h.WorldSize()-1)
	}
	return h.Ranks()[rank], nil
}

// Host returns the named host, or nil.
func (h *Hostfile) Host(name string) *Host {
	for i := range h.Hosts {
		if h.Hosts[i].Name == name {
			return &h.Hosts[i]
		}
	}
	return nil
}

// HostNames lists the hosts in order.
func (h *Hostfile) HostNames() []string {
	names := make([]string, len(h.Hosts))
	for i, host := range h.Hosts {
		names[i] = host.Name
	}
	return names
}

// String renders the hostfile in Open MPI syntax (one line per distinct host), e.g. for the copy kept
// in a run directory.
func (h *Hostfile) String() string {
	var b strings.Builder
	for _, host := range h.Hosts {
		fmt.Fprintf(&b, "%s slots=%d", host.Name, host.Slots)
		if host.MaxSlots > 0 {
			fmt.Fprintf(&b, " max_slots=%d", host.MaxSlots)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func notPrintable(r rune) bool { return !unicode.IsPrint(r) }
