package stream

import (
	"crypto/cipher"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// maxRead bounds one Read on the source. The Go runtime copies 1 MiB or more
// with non-temporal stores, which would push a segment out of the cache just
// before GCM reads it (2-3x slower to open).
const maxRead = 512 << 10

// decryptReader opens segments as it reads them. A segment's plaintext is
// released only after its tag verified, and only the segment read while the
// source is at EOF is opened as the last one, so a stream missing its last
// segment, or with bytes appended, fails to authenticate instead of ending
// cleanly.
//
// Segments are always copied into a buffer of the reader before they are
// opened, never opened from the caller's memory: GCM over a cache-resident
// segment is about twice as fast, which more than pays for the copy. With
// WithConcurrency(n), n workers take turns reading the next segment into
// their own buffer (so it is hot in the cache of the core that opens it) and
// hand it back in stream order.
type decryptReader struct {
	s      *segmentSource
	all    []*job // every job, to give their buffers back at the end
	aead   cipher.AEAD
	job    job       // sequential mode's one segment buffer
	pool   *openPool // nil when sequential
	cur    *job      // opened segment being consumed
	curPos int
	err    error // sticky; io.EOF once the last segment has been consumed
}

// openPool is the concurrent mode: each worker owns buffersPerWorker jobs
// (so a segment stays in the cache of the core that reads and opens it),
// reads the next segment into a free one whenever it has one, and queues it
// on ordered while still holding the source lock, so ordered is in stream
// order. The reader hands each job back to its owner once consumed.
type openPool struct {
	ordered chan *job // read segments in stream order; an end job after the last
	quit    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

const buffersPerWorker = 2

// stop ends the workers and waits until none touches the source any more.
func (p *openPool) stop() {
	p.quit1()
	p.wg.Wait()
}

// quit1 tells the workers to end. It is the cleanup of an abandoned reader,
// and must not block: cleanups share one goroutine.
func (p *openPool) quit1() { p.once.Do(func() { close(p.quit) }) }

// segmentSource reads a stream's segments in order. The workers share it and
// take turns under mu (see lockTurn); it holds no reference to the
// decryptReader, so an abandoned reader can be collected and its workers
// stopped.
type segmentSource struct {
	mu      sync.Mutex
	src     io.Reader
	g       geometry
	prefix  [prefixSize]byte
	bufSize int
	pool    *BufferPool
	next    int64 // index of the next segment to read
	peek    byte  // first byte of segment next, read to learn the previous one was not last
	peeked  bool
	eof     bool        // the last segment has been read
	err     error       // read error; no segment is read after it
	ended   atomic.Bool // eof or err is set; workers read it without mu
}

// NewDecryptReader returns a reader of the plaintext of the stream in r,
// encrypted with the 32-byte key and associated data aad. It reads the
// header from r before returning. Read returns only authenticated plaintext,
// one segment at a time, and io.EOF only after the final segment
// authenticated; any tampering, truncation or a wrong key or aad yields an
// error wrapping ErrAuthentication. Errors are sticky. The reader is not safe
// for concurrent use; with WithConcurrency(n) it reads up to 2n segments
// ahead of the caller.
func NewDecryptReader(r io.Reader, key, aad []byte, opts ...Option) (io.Reader, error) {
	const op = "NewDecryptReader"
	c, err := newConfig(op, opts)
	if err != nil {
		return nil, err
	}
	if err := checkKey(op, key); err != nil {
		return nil, err
	}
	var hb [HeaderSize]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, authError(op, -1, "truncated header")
		}
		return nil, &Error{Op: op, Segment: -1, Reason: "reading header", Err: err}
	}
	h, ok := parseHeader(hb[:])
	if !ok {
		return nil, authError(op, -1, "invalid header length byte")
	}
	aead, err := newAEAD(key, &h.salt, aad)
	if err != nil {
		return nil, &Error{Op: op, Segment: -1, Reason: "deriving the stream key", Err: err}
	}
	// One byte beyond a segment tells whether it is the last one.
	s := &segmentSource{src: r, g: geometry{int64(c.segmentSize)}, prefix: h.prefix, bufSize: c.segmentSize + 1, pool: c.pool}
	dr := &decryptReader{s: s, aead: aead}
	dr.all = append(dr.all, &dr.job)
	if c.concurrency > 1 {
		p := &openPool{ordered: make(chan *job, buffersPerWorker*c.concurrency), quit: make(chan struct{})}
		for range c.concurrency {
			free := make(chan *job, buffersPerWorker)
			for range buffersPerWorker {
				j := &job{done: make(chan struct{}, 1), free: free}
				dr.all = append(dr.all, j)
				free <- j
			}
			p.wg.Add(1)
			go openWorker(aead, s, p, free)
		}
		dr.pool = p
		runtime.AddCleanup(dr, (*openPool).quit1, p)
	}
	return dr, nil
}

// openWorker reads the next segment into each of its free jobs, queues the
// job in stream order, then opens it. It returns after queueing an end job
// once the source has no more segments, or when the pool stops.
func openWorker(aead cipher.AEAD, s *segmentSource, p *openPool, free chan *job) {
	defer p.wg.Done()
	for {
		var j *job
		select {
		case j = <-free:
		case <-p.quit:
			return
		}
		j = latest(free, j)
		s.lockTurn()
		select {
		case <-p.quit:
			s.mu.Unlock()
			return
		default:
		}
		j.end = !s.read(j)
		if s.eof || s.err != nil {
			s.ended.Store(true)
		}
		p.ordered <- j // never blocks: it has room for every job
		s.mu.Unlock()
		if j.end {
			j.done <- struct{}{}
			return
		}
		j.out, j.err = aead.Open(j.dst, j.nonce[:], j.in, nil)
		j.done <- struct{}{}
		// If the reader was waiting for j, the send made it runnable on this
		// P, where it would otherwise wait until this worker blocks (often a
		// whole segment later): let it run now, so that it hands j back
		// before this worker picks the buffer for its next segment (see
		// latest). Once the source is exhausted there is no next segment,
		// and yielding only delays the end of the stream.
		if !s.ended.Load() {
			runtime.Gosched()
		}
	}
}

// latest returns the job the reader handed back last, j or one still in
// free, and leaves the others in free. free is first in, first out, but the
// job consumed last is the one whose buffer is still in this core's cache:
// taking the older one would fetch a whole segment buffer back from memory.
// Only the worker receives from free, so the receives do not block.
func latest(free chan *job, j *job) *job {
	for range len(free) {
		k := <-free
		free <- j // never blocks: the receive made room
		j = k
	}
	return j
}

// Read reads authenticated plaintext into p.
func (r *decryptReader) Read(p []byte) (int, error) {
	for {
		if r.cur != nil {
			if r.curPos < len(r.cur.out) {
				n := copy(p, r.cur.out[r.curPos:])
				r.curPos += n
				return n, nil
			}
			r.release(r.cur)
			r.cur = nil
		}
		if r.err != nil {
			return 0, r.err
		}
		if len(p) == 0 {
			return 0, nil
		}
		if r.pool == nil && len(p) >= int(r.s.g.ptCap(r.s.next)) {
			n, err := r.readInto(p)
			if n == 0 && err == nil {
				continue // an empty last segment
			}
			return n, err
		}
		j, err := r.nextOpened()
		if err != nil {
			return 0, err
		}
		r.cur, r.curPos = j, 0
	}
}

// readInto opens the next segment straight into p, which can hold it
// (sequential mode only). If the tag does not verify, GCM wipes what it
// wrote and nothing is returned.
func (r *decryptReader) readInto(p []byte) (int, error) {
	j := r.take()
	if !r.s.read(j) {
		r.release(j)
		return 0, r.finish()
	}
	out, err := r.aead.Open(p[:0], j.nonce[:], j.in, nil)
	index := int64(j.index)
	r.release(j)
	if err != nil {
		return 0, r.fail(authError("Read", index, ""))
	}
	return len(out), nil
}

// WriteTo writes the remaining plaintext to w straight from the reader's
// buffers; io.Copy uses it.
func (r *decryptReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	if r.cur != nil {
		n, err := w.Write(r.cur.out[r.curPos:])
		total += int64(n)
		if err != nil {
			return total, r.fail(err)
		}
		r.release(r.cur)
		r.cur = nil
	}
	for r.err == nil {
		j, err := r.nextOpened()
		if err != nil {
			break
		}
		n, err := w.Write(j.out)
		total += int64(n)
		r.release(j)
		if err != nil {
			return total, r.fail(err)
		}
	}
	if r.err == io.EOF {
		return total, nil
	}
	return total, r.err
}

// nextOpened returns the next authenticated segment; the caller releases it.
// At the end of the stream it returns io.EOF, or the read error.
func (r *decryptReader) nextOpened() (*job, error) {
	if r.pool == nil {
		j := r.take()
		if !r.s.read(j) {
			r.release(j)
			return nil, r.finish()
		}
		j.out, j.err = r.aead.Open(j.dst, j.nonce[:], j.in, nil)
		return r.check(j)
	}
	j := <-r.pool.ordered
	<-j.done
	if j.end {
		r.release(j)
		return nil, r.finish()
	}
	return r.check(j)
}

// check fails the stream if j did not authenticate.
func (r *decryptReader) check(j *job) (*job, error) {
	if j.err != nil {
		index := int64(j.index)
		r.release(j)
		return nil, r.fail(authError("Read", index, ""))
	}
	return j, nil
}

// finish ends the stream once the source has no more segments: io.EOF after
// the last segment, or the error that stopped reading.
func (r *decryptReader) finish() error {
	r.s.mu.Lock()
	err := r.s.err
	r.s.mu.Unlock()
	if err != nil {
		return r.fail(err)
	}
	r.err = io.EOF
	r.stop()
	return io.EOF
}

// fail makes err sticky and stops the workers.
func (r *decryptReader) fail(err error) error {
	r.err = err
	if r.cur != nil {
		r.release(r.cur)
		r.cur = nil
	}
	r.stop()
	return err
}

// stop ends the workers, if any, waits until they let go of the source and
// the buffers, and gives the buffers back to the pool.
func (r *decryptReader) stop() {
	if r.pool != nil {
		r.pool.stop()
	}
	if r.s.pool != nil {
		for _, j := range r.all {
			j.giveBack(r.s.pool)
		}
	}
}

// take returns the sequential mode's job.
func (r *decryptReader) take() *job { return &r.job }

// release hands a consumed job back to the worker that owns it.
func (r *decryptReader) release(j *job) {
	j.in, j.dst, j.out, j.err, j.end = nil, nil, nil, nil, false
	if j.free != nil {
		j.free <- j // never blocks: it has room for all of the owner's jobs
	}
}

// lockTurn takes mu for a worker. It first waits by yielding rather than
// parking: waking a parked goroutine can take 100-200µs on a virtual
// machine, as long as opening a segment, and would serialise the workers.
// After a millisecond (a source slow to deliver) it parks.
func (s *segmentSource) lockTurn() {
	start := time.Now()
	for i := 1; !s.mu.TryLock(); i++ {
		if i%64 == 0 && time.Since(start) > time.Millisecond {
			s.mu.Lock()
			return
		}
		runtime.Gosched()
	}
}

// read reads segment s.next into j, learning from one byte of lookahead
// whether it is the last, and sets j's input, output and nonce. It returns
// false, leaving the reason in s.err (nil at a clean end), if there is no
// segment to read. Workers call it under s.mu.
func (s *segmentSource) read(j *job) bool {
	if s.eof || s.err != nil {
		return false
	}
	if s.next >= maxSegments {
		s.err = authError("Read", s.next, "too many segments")
		return false
	}
	ctLen := int(s.g.ctCap(s.next))
	want := ctLen + 1
	growBuf(j, min(want, smallBuf), s.bufSize, s.pool)
	n := 0
	if s.peeked {
		j.buf[0] = s.peek
		n = 1
	}
	var err error
	for {
		// A small first buffer serves small streams; grow once it fills up.
		lim := min(want, len(j.buf), n+maxRead)
		var m int
		m, err = io.ReadFull(s.src, j.buf[n:lim])
		n += m
		if err != nil || n == want {
			break
		}
		growBuf(j, want, s.bufSize, s.pool)
	}
	last := false
	switch err {
	case nil:
		s.peek, s.peeked = j.buf[ctLen], true
	case io.EOF, io.ErrUnexpectedEOF:
		// The source ended inside this segment: it must be the marked last one.
		last, s.peeked, s.eof = true, false, true
		ctLen = n
		if ctLen < tagSize {
			s.err = authError("Read", s.next, "truncated segment")
			return false
		}
	default:
		s.err = &Error{Op: "Read", Segment: s.next, Reason: "reading ciphertext", Err: err}
		return false
	}
	j.index = uint32(s.next)
	j.in = j.buf[:ctLen]
	j.dst = j.buf[:0]
	setNonce(&j.nonce, &s.prefix, j.index, last)
	s.next++
	return true
}
