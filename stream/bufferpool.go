package stream

import (
	"math/bits"
	"runtime"
	"sync"
)

// BufferPool recycles segment buffers between the streams that share it.
// Streams need none: without one they recycle buffers through the package's
// own internal pool, sized to what each stream needs. A BufferPool keeps a
// set of streams' buffers apart from the others (for instance to drop them
// all at once); it takes whole segments from the start. It is safe for
// concurrent use and its zero value is ready to use.
//
// A stream returns its buffers when it is done: Close for a writer, the end
// of the stream or an error for a reader. A stream wipes the plaintext in
// its buffers before it gives them back, so they never hold plaintext of an
// earlier stream.
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

// Without a BufferPool, streams take their buffers from the package's own
// pool, which is internal and holds only wiped buffers: a buffer is cleared
// (every byte, plaintext or not) before it goes back, so no stream, of this
// key or of another, ever finds bytes of an earlier one in it. Buffers given
// back to a caller's BufferPool are wiped the same way.
//
// Buffers come in size classes. Up to smallMax bytes, a stream takes the
// class that fits what it needs so far (four classes per power of two, so at
// most a quarter is slack) and doubles as it fills up; a buffer that would
// be larger is a whole segment. A 4 KiB object needs a buffer of about
// 4 KiB, not a segment, and a 100 KiB object one of about 100 KiB.
const (
	minClass = 1 << 10
	smallMax = 512 << 10
	// numSmall is the number of classes up to smallMax: minClass, then four
	// per doubling from 2^11 to 2^19.
	numSmall = 1 + 4*9
	// maxFullPools bounds how many distinct whole-segment sizes are pooled;
	// buffers of further sizes are allocated (a process uses one or two).
	maxFullPools = 8
)

var (
	smallPools [numSmall]sync.Pool // *[]byte of exactly the class size

	fullMu    sync.Mutex
	fullPools sync.Map // int (size > smallMax) -> *sync.Pool of *[]byte of exactly that size
	fullCount int      // entries in fullPools, under fullMu
)

// smallClass returns the index and size of the smallest class of at least
// n <= smallMax bytes.
func smallClass(n int) (int, int) {
	if n <= minClass {
		return 0, minClass
	}
	p := bits.Len(uint(n - 1)) // 2^(p-1) < n <= 2^p, 11 <= p <= 19
	step := 1 << (p - 3)
	size := (n + step - 1) &^ (step - 1) // 5..8 steps
	return 1 + (p-11)*4 + size>>(p-3) - 5, size
}

// fullPool returns the pool of buffers of size > smallMax bytes, nil if
// there are already maxFullPools sizes.
func fullPool(size int) *sync.Pool {
	if p, ok := fullPools.Load(size); ok {
		return p.(*sync.Pool)
	}
	fullMu.Lock()
	defer fullMu.Unlock()
	if p, ok := fullPools.Load(size); ok {
		return p.(*sync.Pool)
	}
	if fullCount >= maxFullPools {
		return nil
	}
	p := new(sync.Pool)
	fullPools.Store(size, p)
	fullCount++
	return p
}

// getBuffer returns a zeroed buffer of at least n bytes from the internal
// pool: a class of at least n if n <= smallMax, else exactly n bytes.
func getBuffer(n int) *[]byte {
	var p *sync.Pool
	size := n
	if n <= smallMax {
		var i int
		i, size = smallClass(n)
		p = &smallPools[i]
	} else {
		p = fullPool(n)
	}
	if p != nil {
		if b, ok := p.Get().(*[]byte); ok {
			return b
		}
	}
	b := make([]byte, size)
	return &b
}

// putBuffer recycles b, which getBuffer returned and the caller wiped.
func putBuffer(b *[]byte) {
	size := len(*b)
	if size <= smallMax {
		if i, cs := smallClass(size); cs == size {
			smallPools[i].Put(b)
		}
		return
	}
	if p := fullPool(size); p != nil {
		p.Put(b)
	}
}

// buffer is a stream's buffer for one segment. It is taken on first use,
// grows with what the stream needs, is reused for the life of the stream
// (so the steady state allocates nothing), and is given back when the
// stream ends, with its plaintext wiped.
//
// No buffer in a pool holds plaintext. A stream records with holdPlaintext
// how far its buffer may hold plaintext (a writer's copy of a partial
// segment until it is sealed in place, a reader's segment opened in place),
// and that much is wiped when the buffer is given back (release). What is
// left is ciphertext and headers, which the stream wrote to or read from its
// untrusted storage anyway, and which no stream exposes: a writer emits only
// what it sealed, a reader only what it authenticated. Wiping a whole 1 MiB
// segment of ciphertext would cost a fifth of the time to encrypt it.
type buffer struct {
	buf    []byte  // at most one segment: (*pooled)[:len <= full]
	pooled *[]byte // buf's backing, to give back
	used   int     // buf[used:] has not been written
	secret int     // buf[secret:] holds no plaintext
	user   bool    // pooled is from the caller's BufferPool

	wipe    runtime.Cleanup // wipes pooled if the owning stream is dropped; see guard
	guarded bool            // wipe is registered
}

// guard makes sure the plaintext b holds is wiped even if owner, the stream
// b belongs to, is dropped without being finished (a writer never closed, a
// reader not read to the end): it registers a cleanup that clears b's
// backing array once owner is garbage. Streams call it when they return to
// their caller with plaintext in b. release, which runs while the stream is
// alive, cancels it before the array goes to another stream.
func guard[T any](owner *T, b *buffer) {
	if b.guarded || b.pooled == nil || b.secret == 0 {
		return
	}
	b.wipe = runtime.AddCleanup(owner, wipeDropped, b.pooled)
	b.guarded = true
}

// wipeDropped is the cleanup of guard.
func wipeDropped(b *[]byte) { clear(*b) }

// touch records that buf[:n] may have been written (with ciphertext).
func (b *buffer) touch(n int) { b.used = max(b.used, n) }

// holdPlaintext records that buf[:n] may hold plaintext.
func (b *buffer) holdPlaintext(n int) {
	b.touch(n)
	b.secret = max(b.secret, n)
}

// sealed records that the buffer holds no plaintext any more: what it held
// has been sealed in place.
func (b *buffer) sealed() { b.secret = 0 }

// grow makes buf at least n <= full bytes long, keeping its contents. With
// a BufferPool it takes a whole segment at once. Else it takes the class
// fitting n, or twice what it had if that is more, or a whole segment once
// that exceeds smallMax.
func (b *buffer) grow(n, full int, pool *BufferPool) {
	if len(b.buf) >= n {
		return
	}
	var nb *[]byte
	user := pool != nil
	if user {
		nb = pool.get(full)
	} else {
		want := max(n, 2*len(b.buf))
		if want > smallMax || want >= full {
			want = full
		}
		nb = getBuffer(want)
	}
	used, secret := copy(*nb, b.buf[:b.used]), b.secret
	b.release(pool)
	b.pooled, b.user, b.used, b.secret = nb, user, used, secret
	b.buf = (*nb)[:min(len(*nb), full)]
}

// giveBack wipes buf's plaintext and returns it to the pool it came from.
func (b *buffer) giveBack(pool *BufferPool) {
	b.release(pool)
	b.pooled, b.buf = nil, nil
}

// release wipes the plaintext of pooled and gives it back.
func (b *buffer) release(pool *BufferPool) {
	if b.pooled == nil {
		return
	}
	if b.guarded {
		b.wipe.Stop()
		b.guarded = false
	}
	clear((*b.pooled)[:b.secret])
	b.used, b.secret = 0, 0
	if b.user {
		pool.put(b.pooled)
	} else {
		putBuffer(b.pooled)
	}
}
