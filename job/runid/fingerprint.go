// Package runid keeps a run directory's identity: a fingerprint of the inputs that define the run's
// results (inputs.json), compared when the run is resumed, and the lock that makes one process at a time
// the writer of the run.
//
// The package knows nothing of workloads: callers name the files that matter (plan, hostfile, dataset,
// models, vocabularies...) as role → path, and the package hashes them.
package runid

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
)

// InputsFile is the fingerprint's name in the run directory.
const InputsFile = "inputs.json"

// PlanRole is the role of the plan, which Compute takes as bytes: the caller passes the parsed plan
// re-encoded, so that comments and layout do not count as a change but every effective value does.
const PlanRole = "plan"

// Inputs is the fingerprint of one run's inputs.
type Inputs struct {
	Version string  `json:"version"`          // the jellybean build that started the run (informational)
	Files   []Input `json:"inputs"`           // sorted by role
	Forced  []Force `json:"forced,omitempty"` // resumes that mixed other inputs in on purpose
}

// Input is one hashed input.
type Input struct {
	Role   string `json:"role"`           // what the input is to the run, e.g. "model ImageFeatures"
	Path   string `json:"path,omitempty"` // where it was read
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Force records a resume that went ahead although inputs had changed.
type Force struct {
	At      string   `json:"at"` // RFC 3339
	Changes []string `json:"changes"`
}

// Compute hashes the plan (its bytes; planName is where it came from, for messages) and every file of
// files (role → path). A file that cannot be read is an error naming its role and path.
func Compute(version, planName string, plan []byte, files map[string]string) (*Inputs, error) {
	if _, dup := files[PlanRole]; dup {
		return nil, fmt.Errorf("runid: role %q is reserved for the plan bytes", PlanRole)
	}
	sum := sha256.Sum256(plan)
	in := &Inputs{Version: version, Files: []Input{{Role: PlanRole, Path: planName, Size: int64(len(plan)), SHA256: hex.EncodeToString(sum[:])}}}
	for role, path := range files {
		size, hash, err := hashFile(path)
		if err != nil {
			return nil, fmt.Errorf("fingerprinting the run's inputs: %s: %w", role, err)
		}
		in.Files = append(in.Files, Input{Role: role, Path: path, Size: size, SHA256: hash})
	}
	sort.Slice(in.Files, func(i, j int) bool { return in.Files[i].Role < in.Files[j].Role })
	return in, nil
}

func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("reading %s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// Change is one difference between two fingerprints.
type Change struct {
	Role     string
	Path     string // the current path (or the old one, for an input that is gone)
	Old, New string // hashes; "" when the input is new or gone
}

func (c Change) String() string {
	name := c.Role
	if c.Path != "" {
		name += " (" + c.Path + ")"
	}
	switch {
	case c.Old == "":
		return name + ": not an input before, sha256 " + short(c.New) + " now"
	case c.New == "":
		return name + ": sha256 " + short(c.Old) + " before, no longer an input"
	}
	return name + ": sha256 " + short(c.Old) + " → " + short(c.New)
}

// short abbreviates a hash for messages: 12 hex digits tell files apart in practice.
func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// Diff lists what differs between the recorded fingerprint and the current one, by role. Paths alone do
// not count: a dataset moved elsewhere with the same content gives the same results. The build version
// is not compared either; the binary's own hash (when the caller lists it as a file) is.
func Diff(recorded, current *Inputs) []Change {
	old := map[string]Input{}
	for _, f := range recorded.Files {
		old[f.Role] = f
	}
	var out []Change
	for _, f := range current.Files {
		o, ok := old[f.Role]
		delete(old, f.Role)
		if !ok {
			out = append(out, Change{Role: f.Role, Path: f.Path, New: f.SHA256})
		} else if o.SHA256 != f.SHA256 {
			out = append(out, Change{Role: f.Role, Path: f.Path, Old: o.SHA256, New: f.SHA256})
		}
	}
	for _, o := range old {
		out = append(out, Change{Role: o.Role, Path: o.Path, Old: o.SHA256})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Role < out[j].Role })
	return out
}

// Describe joins changes into one line, naming at most max of them (the rest are counted): a
// regenerated dataset changes hundreds of files, and one message must stay readable.
func Describe(changes []Change, max int) string {
	var parts []string
	for i, c := range changes {
		if i == max {
			parts = append(parts, fmt.Sprintf("and %d more", len(changes)-max))
			break
		}
		parts = append(parts, c.String())
	}
	return strings.Join(parts, "; ")
}

// Write stores the fingerprint as dir/inputs.json (through a temporary file, so a crash never leaves
// half a fingerprint).
func Write(dir string, in *Inputs) error {
	data, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, InputsFile+".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing the run's fingerprint: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, InputsFile))
}

// ErrNoFingerprint is returned by Read for a run directory without inputs.json (a run started before
// fingerprints existed, or by srun/mpirun without the launcher).
var ErrNoFingerprint = errors.New("no " + InputsFile)

// Read loads dir/inputs.json.
func Read(dir string) (*Inputs, error) {
	path := filepath.Join(dir, InputsFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoFingerprint
	}
	if err != nil {
		return nil, err
	}
	var in Inputs
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &in, nil
}

// Version describes this build: the module version and, when built from a checkout, the commit (with
// "+dirty" for uncommitted changes).
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		v += " " + short(rev) + dirty
	}
	return v
}
