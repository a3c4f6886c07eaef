package flow

import (
	"fmt"
	"os"
	"strconv"
	"time"
	"unsafe"

	ort "github.com/yalue/onnxruntime_go"

	"jellybean/collective"
	"jellybean/job/gpu"
	"jellybean/job/onnx"
	"jellybean/plan/workflow"
)

// EnvGPUFullBatches set to 0 lets GPU sessions run partial micro-batches as they are.
const EnvGPUFullBatches = "JELLYBEAN_GPU_FULL_BATCHES"

// modelStep runs a node's ONNX model on micro-batches: it stacks the bound item tensors (zero-padding
// ragged ones, unless the model says pad = false: then items of one shape run together), runs the
// session, and splits each output back into the items.
//
// On a GPU every micro-batch runs at the full batch size: a partial one is filled up with copies of its
// last item, whose outputs are dropped. The CUDA provider prepares its kernels again whenever the input
// shape differs from the run before, which on an H200 cost the PP-OCRv4 recogniser 65–770 ms per batch
// size (0.6 s per width), against ~8 ms for a whole batch of 8 once prepared; so the batch dimension never
// changes there (a full batch cost the GPU 1-2x a batch of one: the filler rows are cheap), and the
// widths, which still vary between batches, each get a session of their own (shapeSessions).
type modelStep struct {
	path      string
	sessions  *shapeSessions
	inputs    []workflow.Binding
	outputs   []workflow.Binding
	batch     int       // items per run (1 for models without a batch dimension)
	pad       bool      // ragged items share a batch, zero-padded; else they run in batches of one shape
	batched   bool      // the model has a batch dimension (SetBatchSize may change batch)
	fullBatch bool      // partial micro-batches are filled up to batch (GPU sessions)
	stackers  []stacker // one per input
	modelTime time.Duration
	rowsRun   int // batch rows the model ran, filler rows included
}

// newModelStep checks the model file's inputs and outputs against the bindings and the tensors
// available (names, element types, ranks) and, when build is set, opens the session. It returns the
// tensors the model writes.
func newModelStep(path string, m *workflow.Model, avail map[string]TensorSpec, order []string, env Env, build bool) (*modelStep, []TensorSpec, error) {
	ins, outs, err := onnx.ReadIO(path)
	if err != nil {
		return nil, nil, err
	}
	info := func(list []onnx.IO, name string) (onnx.IO, bool) {
		for _, i := range list {
			if i.Name == name {
				return i, true
			}
		}
		return onnx.IO{}, false
	}
	names := func(list []onnx.IO) []string {
		var n []string
		for _, i := range list {
			n = append(n, i.Name)
		}
		return n
	}
	// rankOf is the rank of an item tensor (the model's less the batch dimension); -1 when the graph
	// does not say.
	rankOf := func(io onnx.IO) int {
		if io.Dims == nil {
			return -1
		}
		return len(io.Dims) - 1
	}
	if len(m.Inputs) != len(ins) {
		return nil, nil, fmt.Errorf("%s has inputs %v, the node binds %d (model.input)", path, names(ins), len(m.Inputs))
	}
	var inNames, outNames []string
	for k, b := range m.Inputs {
		mi, ok := info(ins, b.Name)
		if !ok {
			return nil, nil, fmt.Errorf("model.input[%d]: %s has no input %q (inputs %v)", k, path, b.Name, names(ins))
		}
		dt, rank := dtypeOfONNX(mi.Elem), rankOf(mi)
		if b.LengthsOf != "" {
			if dt != collective.Int64 || (rank != 0 && rank != -1) {
				return nil, nil, fmt.Errorf("model.input[%d] %q: lengths_of feeds int64 [N], but the model takes %s %v", k, b.Name, onnx.ElemName(mi.Elem), mi.Dims)
			}
		} else {
			if dt == 0 {
				return nil, nil, fmt.Errorf("model.input[%d] %q: %s is not supported", k, b.Name, onnx.ElemName(mi.Elem))
			}
			if err := fits(TensorSpec{Name: b.ItemTensor(), DType: dt, Rank: rank}, avail, order); err != nil {
				return nil, nil, fmt.Errorf("model.input[%d] %q (%s %v): %w", k, b.Name, onnx.ElemName(mi.Elem), mi.Dims, err)
			}
		}
		inNames = append(inNames, b.Name)
	}
	var writes []TensorSpec
	for k, b := range m.Outputs {
		mo, ok := info(outs, b.Name)
		if !ok {
			return nil, nil, fmt.Errorf("model.output[%d]: %s has no output %q (outputs %v)", k, path, b.Name, names(outs))
		}
		dt := dtypeOfONNX(mo.Elem)
		if dt == 0 {
			return nil, nil, fmt.Errorf("model.output[%d] %q: %s is not supported", k, b.Name, onnx.ElemName(mo.Elem))
		}
		if mo.Dims != nil && len(mo.Dims) == 0 {
			return nil, nil, fmt.Errorf("model.output[%d] %q: a scalar output has no batch dimension", k, b.Name)
		}
		writes = append(writes, TensorSpec{Name: b.ItemTensor(), DType: dt, Rank: rankOf(mo)})
		outNames = append(outNames, b.Name)
	}
	ms := &modelStep{inputs: m.Inputs, outputs: m.Outputs, batch: env.BatchSize, pad: m.Pads(), stackers: make([]stacker, len(m.Inputs))}
	if !m.Batched() || ms.batch <= 0 {
		ms.batch = 1
	}
	cuda, _, err := gpu.ParseDevice(env.Device)
	if err != nil {
		return nil, nil, err
	}
	ms.batched = m.Batched()
	// JELLYBEAN_GPU_FULL_BATCHES=0 turns the filling off on GPUs (to measure what it saves).
	ms.fullBatch = (cuda && os.Getenv(EnvGPUFullBatches) != "0") || env.FullBatches
	ms.path = path
	if build {
		open := func() (*onnx.Session, error) { return onnx.Open(path, inNames, outNames, env.Device, env.Threads) }
		max := 1
		if cuda {
			max = gpuShapeSessions()
		}
		if env.ShapeSessions > 0 {
			max = env.ShapeSessions
		}
		ms.sessions = &shapeSessions{open: open, max: max, eager: !ms.pad, own: map[string]*onnx.Session{}, seen: map[string]bool{}}
		if ms.sessions.shared, err = open(); err != nil {
			return nil, nil, err
		}
	}
	return ms, writes, nil
}

func (m *modelStep) Process(items []*Item) ([]*Item, error) {
	groups := [][]*Item{items}
	if !m.pad && m.batch > 1 {
		var err error
		if groups, err = m.byShape(items); err != nil {
			return nil, err
		}
	}
	for _, g := range groups {
		for lo := 0; lo < len(g); lo += m.batch {
			if err := m.run(g[lo:min(lo+m.batch, len(g))]); err != nil {
				return nil, err
			}
		}
	}
	return items, nil // outputs were set on the items themselves, so their order is kept
}

// byShape groups items by the shapes of their bound input tensors, in order of first appearance, for
// models that must not see padding.
func (m *modelStep) byShape(items []*Item) ([][]*Item, error) {
	var groups [][]*Item
	index := map[string]int{}
	key := make([]byte, 0, 64)
	for _, it := range items {
		key = key[:0]
		for _, b := range m.inputs {
			if b.LengthsOf != "" {
				continue
			}
			t, err := it.Need(b.ItemTensor())
			if err != nil {
				return nil, err
			}
			for _, d := range t.Shape {
				key = strconv.AppendInt(key, d, 10)
				key = append(key, ',')
			}
			key = append(key, ';')
		}
		g, ok := index[string(key)]
		if !ok {
			g = len(groups)
			index[string(key)] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], it)
	}
	return groups, nil
}

func (m *modelStep) run(items []*Item) error {
	given := items
	if m.fullBatch && m.batch > 1 && len(items) < m.batch {
		items = fillBatch(items, m.batch)
	}
	n := len(items)
	m.rowsRun += n
	values := make([]ort.Value, 0, len(m.inputs))
	defer func() { onnx.DestroyAll(values) }()
	key := make([]byte, 0, 32) // the input shapes of this run: which session runs it

	for k, b := range m.inputs {
		var t collective.Tensor
		if b.LengthsOf != "" {
			tensor := ""
			for _, o := range m.inputs {
				if o.Name == b.LengthsOf {
					tensor = o.ItemTensor()
				}
			}
			lengths := make([]int64, n)
			for i, it := range items {
				src, err := it.Need(tensor)
				if err != nil {
					return err
				}
				if len(src.Shape) > 0 {
					lengths[i] = src.Shape[0]
				}
			}
			t = collective.FromInt64s(b.Name, []int64{int64(n)}, lengths)
		} else {
			ts := make([]collective.Tensor, n)
			for i, it := range items {
				src, err := it.Need(b.ItemTensor())
				if err != nil {
					return err
				}
				ts[i] = src
			}
			var err error
			if t, err = m.stackers[k].stack(b.Name, ts); err != nil {
				return err
			}
		}
		v, err := newValue(t)
		if err != nil {
			return fmt.Errorf("input %q: %w", b.Name, err)
		}
		values = append(values, v)
		for _, d := range t.Shape {
			key = strconv.AppendInt(key, d, 10)
			key = append(key, 'x')
		}
		key = append(key, ';')
	}
	start := time.Now()
	sess, opened := m.sessions.get(string(key))
	if opened { // opening is part of what the model costs here
		m.modelTime += time.Since(start)
	}
	outs, d, err := sess.Run(values, len(m.outputs))
	m.modelTime += d
	if err != nil {
		return err
	}
	defer onnx.DestroyAll(outs)
	for k, b := range m.outputs {
		t, err := tensorOf(outs[k], b.ItemTensor())
		if err != nil {
			return fmt.Errorf("output %q: %w", b.Name, err)
		}
		if err := setOutput(given, n, b.ItemTensor(), t); err != nil {
			return fmt.Errorf("%s: output %w", m.path, err)
		}
	}
	return nil
}

// setOutput splits a model output [n, ...] into n rows and sets the first len(items) on the items as
// tensor name. The rows after them belong to filler items: they are cut off first, so the items' shared
// buffer holds their own rows only.
func setOutput(items []*Item, n int, name string, t collective.Tensor) error {
	if n > len(items) && len(t.Shape) > 0 && t.Shape[0] == int64(n) {
		per := len(t.Data) / n
		t.Shape = append([]int64{int64(len(items))}, t.Shape[1:]...)
		t.Data = t.Data[:len(items)*per]
		n = len(items)
	}
	per, err := Unstack(name, t, n)
	if err != nil {
		return err
	}
	for i, it := range items {
		it.Set(per[i])
	}
	return nil
}

// fillBatch returns items followed by copies of its last item up to size entries. The copies are the same
// *Item: the model reads them, and their output rows are never written back.
func fillBatch(items []*Item, size int) []*Item {
	out := make([]*Item, size)
	copy(out, items)
	for i := len(items); i < size; i++ {
		out[i] = items[len(items)-1]
	}
	return out
}

// setBatch makes b the most items a run takes (and what a GPU session fills a partial batch up to) and
// returns the size before; models without a batch dimension keep 1 (and return 0: nothing to restore).
func (m *modelStep) setBatch(b int) (prev int) {
	if !m.batched || b < 1 {
		return 0
	}
	prev, m.batch = m.batch, b
	if b != prev && m.sessions != nil {
		m.sessions.reset() // the sessions were for the shapes of the old batch size
	}
	return prev
}

func (m *modelStep) TakeModelTime() time.Duration {
	d := m.modelTime
	m.modelTime = 0
	return d
}

func (m *modelStep) Close() error {
	if m.sessions == nil {
		return nil
	}
	return m.sessions.close()
}

func dtypeOfONNX(e int32) collective.DType {
	switch e {
	case onnx.ElemFloat32:
		return collective.Float32
	case onnx.ElemFloat16:
		return collective.Float16
	case onnx.ElemInt64:
		return collective.Int64
	case onnx.ElemInt32:
		return collective.Int32
	case onnx.ElemUint8:
		return collective.Uint8
	}
	return 0
}

// newValue makes an ONNX Runtime value of a tensor the model step owns (a batch Stack just built): its
// data is used in place when aligned for the element type, else copied.
func newValue(t collective.Tensor) (ort.Value, error) {
	shape := ort.NewShape(t.Shape...)
	switch t.DType {
	case collective.Float32:
		return ort.NewTensor(shape, viewAs[float32](t.Data))
	case collective.Int64:
		return ort.NewTensor(shape, viewAs[int64](t.Data))
	case collective.Int32:
		return ort.NewTensor(shape, viewAs[int32](t.Data))
	case collective.Uint8:
		return ort.NewTensor(shape, t.Data)
	}
	return nil, fmt.Errorf("tensor %q: %s is not supported as a model input", t.Name, t.DType)
}

// viewAs reinterprets b as []T without copying when b is aligned for T, else copies.
func viewAs[T any](b []byte) []T {
	var zero T
	size := int(unsafe.Sizeof(zero))
	if len(b) == 0 || uintptr(unsafe.Pointer(&b[0]))%uintptr(unsafe.Alignof(zero)) != 0 {
		return copyAs[T](b)
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), len(b)/size)
}

func copyAs[T any](b []byte) []T {
	var zero T
	out := make([]T, len(b)/int(unsafe.Sizeof(zero)))
	if len(out) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), len(b)), b)
	}
	return out
}

func bytesOf[T any](v []T) []byte {
	if len(v) == 0 {
		return nil
	}
	var zero T
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v)*int(unsafe.Sizeof(zero)))
}

// tensorOf views a runtime output as a tensor (data aliases the runtime's buffer until it is destroyed).
func tensorOf(v ort.Value, name string) (collective.Tensor, error) {
	t := collective.Tensor{Name: name}
	switch o := v.(type) {
	case *ort.Tensor[float32]:
		t.DType, t.Shape, t.Data = collective.Float32, o.GetShape(), bytesOf(o.GetData())
	case *ort.Tensor[int64]:
		t.DType, t.Shape, t.Data = collective.Int64, o.GetShape(), bytesOf(o.GetData())
	case *ort.Tensor[int32]:
		t.DType, t.Shape, t.Data = collective.Int32, o.GetShape(), bytesOf(o.GetData())
	case *ort.Tensor[uint8]:
		t.DType, t.Shape, t.Data = collective.Uint8, o.GetShape(), o.GetData()
	default:
		return t, fmt.Errorf("output type %T is not supported", v)
	}
	return t, nil
}
