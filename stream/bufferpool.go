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
