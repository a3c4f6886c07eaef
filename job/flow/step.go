package flow

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"jellybean/collective"
)

// Step is one registered operation of a workflow node: it turns a micro-batch of items into the items
// it passes on. Most steps are item-wise (same items, new tensors); a fan-out step returns several
// sub-items per item (see Item.Sub). Steps must not keep references to input tensors' Data after
// Process returns unless they copied them (input data may alias a received network buffer).
type Step interface {
	// Process runs the step on a micro-batch. A step that runs a model also implements Timed, so that
	// reports separate model time from the runner's own overhead.
	Process(items []*Item) ([]*Item, error)
	// Close releases what the step holds (model sessions, files).
	Close() error
}

// Timed is implemented by steps that spend time inside a model runtime.
type Timed interface {
	// TakeModelTime returns the time spent in the runtime since the previous call.
	TakeModelTime() time.Duration
}

// Signature is what a step reads and writes, declared before data flows so that Build can check the
// whole workflow's tensor flow: every tensor a step reads is written upstream, with the dtype and rank
// the step expects.
type Signature struct {
	Reads  []TensorSpec // tensors of the item the step needs
	Writes []TensorSpec // tensors the step adds (or replaces) on each item it returns
	// FanOut marks a step that returns sub-items: each input item becomes zero or more children.
	FanOut bool
	// Fields lists the manifest fields a (source) step reads from the item's record.
	Fields []string
}

// TensorSpec names a per-item tensor (no batch dimension) with its element type and rank; Rank -1 means
// any rank, DType 0 (collective.Invalid) any type.
type TensorSpec struct {
	Name  string
	DType collective.DType
	Rank  int
}

func (t TensorSpec) String() string {
	r := "any rank"
	if t.Rank >= 0 {
		r = fmt.Sprintf("rank %d", t.Rank)
	}
	return fmt.Sprintf("%s (%s, %s)", t.Name, dtypeName(t.DType), r)
}

// Env is what a step factory may use: where relative file names resolve, and the device and threads of
// the rank (for model sessions).
type Env struct {
	Dir     string // the workflow file's directory: relative paths in parameters resolve against it
	Device  string // "cpu" or "cuda:N"
	Threads int    // intra-op threads (0 = runtime default)
	// BatchSize is the most items a model runs at once (the stage's micro-batch size).
	BatchSize int
	// FullBatches fills partial micro-batches up to BatchSize, as GPU sessions always do (modelStep says
	// why); set, it does the same on the CPU (tests).
	FullBatches bool
	// ShapeSessions, when positive, is the most sessions a model step keeps, one per recurring input
	// shape, as GPU sessions do (shapeSessions says why; JELLYBEAN_GPU_SHAPE_SESSIONS there); set, it
	// does the same on the CPU (tests). 0: one session on the CPU, the GPU's own setting on a GPU.
	ShapeSessions int
	// Check, when true, asks the factory for its signature only: validate parameters and files but do
	// not load heavy resources (model sessions). Build sets it when the launcher validates a plan.
	Check bool
}

// Path resolves a file name from a step's parameters against the workflow's directory.
func (e Env) Path(name string) string {
	if name == "" || strings.HasPrefix(name, "/") {
		return name
	}
	return e.Dir + "/" + name
}

// Factory validates a step's parameters (decode them with DecodeParams, which rejects unknown keys) and
// returns the step and its signature. Errors should name the parameter at fault; Build adds the file,
// node and step.
type Factory func(params Params, env Env) (Step, Signature, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// Register makes a step available to workflow files under name. Embedded workloads register their own
// steps from their packages' init functions; registering a name twice panics (a programming error).
func Register(name string, f Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("flow: step " + name + " registered twice")
	}
	registry[name] = f
}

// Lookup returns the factory registered under name.
func Lookup(name string) (Factory, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	f, ok := registry[name]
	return f, ok
}

// Registered lists the registered step names, sorted (for error messages and docs).
func Registered() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func dtypeName(d collective.DType) string {
	if d == 0 {
		return "any type"
	}
	return d.String()
}
