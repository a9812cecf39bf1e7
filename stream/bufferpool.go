package stream

import "sync"

// BufferPool recycles segment buffers between streams. Without one, every
// stream allocates its own segment buffers (1 MiB each by default), which a
// server handling many objects pays for in allocation, zeroing and page
// faults: for 1 MiB objects that costs more than the encryption. Share one
// BufferPool among all the streams of a process (WithBufferPool); it is safe
// for concurrent use and its zero value is ready to use.
//
// A stream returns its buffers when it is done: Close for a writer, the end
// of the stream or an error for a reader. Buffers may still hold bytes of an
// earlier stream, but no stream ever exposes bytes it did not write itself.
type BufferPool struct {
	mu    sync.Mutex
	pools map[int]*sync.Pool // by buffer length
}

func (bp *BufferPool) pool(size int) *sync.Pool {
	bp.mu.Lock()
	defer bp.mu.Unlock()
	p := bp.pools[size]
	if p == nil {
		if bp.pools == nil {
			bp.pools = make(map[int]*sync.Pool)
		}
		p = new(sync.Pool)
		bp.pools[size] = p
	}
	return p
}

// get returns a buffer of exactly size bytes, recycled if one is free.
func (bp *BufferPool) get(size int) *[]byte {
	if b, ok := bp.pool(size).Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, size)
	return &b
}

// put recycles b, which get returned.
func (bp *BufferPool) put(b *[]byte) { bp.pool(len(*b)).Put(b) }

// smallBuf is the first size of a stream's segment buffer: enough for a
// small object, so that a stream of a few KiB does not allocate a whole
// 1 MiB segment. A buffer that needs more grows once, to the full segment.
const smallBuf = 64 << 10

// buffer is a stream's buffer for one segment. It is allocated on first use
// and reused for the life of the stream, so the steady state allocates
// nothing.
type buffer struct {
	buf    []byte
	pooled *[]byte // buf's pooled backing, to give back; nil if allocated
}

// grow makes buf at least n <= full bytes long, keeping its contents: from
// the pool if there is one, else smallBuf bytes the first time if that is
// enough, else full.
func (b *buffer) grow(n, full int, pool *BufferPool) {
	if len(b.buf) >= n {
		return
	}
	if pool != nil {
		b.pooled = pool.get(full)
		copy(*b.pooled, b.buf)
		b.buf = *b.pooled
		return
	}
	size := full
	if n <= smallBuf && len(b.buf) == 0 {
		size = min(smallBuf, full)
	}
	nb := make([]byte, size)
	copy(nb, b.buf)
	b.buf = nb
}

// giveBack returns buf to the pool it came from, if any.
func (b *buffer) giveBack(pool *BufferPool) {
	if b.pooled != nil {
		pool.put(b.pooled)
		b.pooled, b.buf = nil, nil
	}
}
