package collective

import (
	"math/bits"
	"sync"
)

// Buffer pool: power-of-two size classes, each a bounded LIFO stack of free buffers. LIFO hands out the
// most recently released buffer, which is most likely still in cache; a plain slice stack under a mutex
// holds []byte without boxing, so get/put allocate nothing. The per-class bound caps what a burst can
// leave behind (about poolClassBytes per class, and only what traffic actually had in flight at once,
// which the credit windows bound).
const (
	minClassShift  = 12 // 4 KiB
	maxClassShift  = 30 // 1 GiB; larger buffers are not pooled
	poolClassBytes = 64 << 20
	poolMaxPerSize = 16384
)

var pool = newBufPool()

type bufClass struct {
	mu    sync.Mutex
	free  [][]byte
	limit int
}

type bufPool struct {
	classes [maxClassShift + 1]bufClass
}

func newBufPool() *bufPool {
	p := &bufPool{}
	for s := minClassShift; s <= maxClassShift; s++ {
		p.classes[s].limit = min(max(poolClassBytes>>s, 2), poolMaxPerSize)
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
	c := &p.classes[s]
	c.mu.Lock()
	if k := len(c.free); k > 0 {
		b := c.free[k-1]
		c.free[k-1] = nil
		c.free = c.free[:k-1]
		c.mu.Unlock()
		return b[:n]
	}
	c.mu.Unlock()
	return make([]byte, n, 1<<s)
}

// put recycles b; buffers whose capacity is not a pooled class size are dropped for the GC.
func (p *bufPool) put(b []byte) {
	n := cap(b)
	if n < 1<<minClassShift || n&(n-1) != 0 {
		return
	}
	s := bits.Len(uint(n)) - 1
	if s > maxClassShift {
		return
	}
	c := &p.classes[s]
	c.mu.Lock()
	if len(c.free) < c.limit {
		c.free = append(c.free, b[:0])
	}
	c.mu.Unlock()
}

// Release hands a buffer obtained from this package (Message.Payload, AllToAllV results) back to the
// pool so steady-state traffic allocates nothing. The caller must not touch b afterwards. Optional.
func Release(b []byte) { pool.put(b) }
