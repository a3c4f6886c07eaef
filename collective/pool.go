package collective

import "math/bits"

// Buffer pool: power-of-two size classes, each a bounded channel of free buffers. Channels (rather than
// sync.Pool) hold []byte without boxing, so Get/Put allocate nothing, and the per-class bound caps the
// memory a burst can leave behind (about poolClassBytes per class, and only what traffic actually
// had in flight at once, which the credit windows bound).
const (
	minClassShift  = 12 // 4 KiB
	maxClassShift  = 30 // 1 GiB; larger buffers are not pooled
	poolClassBytes = 64 << 20
	poolMaxPerSize = 16384
)

var pool = newBufPool()

type bufPool struct {
	classes [maxClassShift + 1]chan []byte
}

func newBufPool() *bufPool {
	p := &bufPool{}
	for s := minClassShift; s <= maxClassShift; s++ {
		n := poolClassBytes >> s
		if n < 2 {
			n = 2
		}
		if n > poolMaxPerSize {
			n = poolMaxPerSize
		}
		p.classes[s] = make(chan []byte, n)
	}
	return p
}

// classFor returns the smallest class shift whose buffers hold n bytes.
func classFor(n int) int {
	if n <= 1<<minClassShift {
		return minClassShift
	}
	return bits.Len(uint(n - 1))
}

// get returns a buffer of length n (contents undefined).
func (p *bufPool) get(n int) []byte {
	s := classFor(n)
	if s > maxClassShift {
		return make([]byte, n)
	}
	select {
	case b := <-p.classes[s]:
		return b[:n]
	default:
		return make([]byte, n, 1<<s)
	}
}

// put recycles b; buffers whose capacity is not a pooled class size are dropped for the GC.
func (p *bufPool) put(b []byte) {
	c := cap(b)
	if c < 1<<minClassShift || c&(c-1) != 0 {
		return
	}
	s := bits.Len(uint(c)) - 1
	if s > maxClassShift {
		return
	}
	select {
	case p.classes[s] <- b[:0]:
	default:
	}
}

// Release hands a buffer obtained from this package (Message.Payload, AllToAllV results) back to the
// pool so steady-state traffic allocates nothing. The caller must not touch b afterwards. Optional.
func Release(b []byte) { pool.put(b) }
