package stream

import (
	"crypto/cipher"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// parallelReader is the reader of WithConcurrency(n), n > 1. Each of n
// workers owns buffersPerWorker jobs; whenever it has a free one it takes
// its turn on the shared source, reads the next segment into the job (so the
// segment is hot in the cache of the core that opens it), queues the job on
// ordered while still holding the source, so that ordered is in stream
// order, and opens it. The reader consumes jobs from ordered and hands each
// back to its owner.
type parallelReader struct {
	w      *openWorkers
	all    []*openJob // every job, to give their buffers back at the end
	cur    *openJob   // opened segment being consumed
	unread []byte     // the rest of cur's plaintext
	err    error      // sticky; io.EOF once the last segment has been consumed
}

// openJob is one segment on its way through a worker.
type openJob struct {
	segment
	out  []byte        // the opened plaintext, in the segment's buffer
	err  error         // Open's error
	end  bool          // the source had no segment left for this job
	free chan *openJob // the owning worker's free jobs
	done chan struct{} // signalled once opened (or found to be the end)
}

// openWorkers is the state the workers share. It holds no reference to the
// parallelReader, so an abandoned reader can be collected and its workers
// stopped.
type openWorkers struct {
	src     *sharedSource // its own allocation: its lock is hot, the fields below are read-mostly
	ordered chan *openJob // read segments in stream order; an end job after the last
	quit    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

// sharedSource is the segment source the workers take turns on (see
// lockTurn).
type sharedSource struct {
	mu sync.Mutex
	segmentSource
	ended atomic.Bool // eof or err is set; workers read it without mu
}

const buffersPerWorker = 2

func newParallelReader(aead cipher.AEAD, src segmentSource, n int) *parallelReader {
	w := &openWorkers{
		src:     &sharedSource{segmentSource: src},
		ordered: make(chan *openJob, buffersPerWorker*n),
		quit:    make(chan struct{}),
	}
	r := &parallelReader{w: w}
	for range n {
		free := make(chan *openJob, buffersPerWorker)
		for range buffersPerWorker {
			j := &openJob{done: make(chan struct{}, 1), free: free}
			r.all = append(r.all, j)
			free <- j
		}
		w.wg.Add(1)
		go w.run(aead, free)
	}
	runtime.AddCleanup(r, (*openWorkers).quit1, w)
	return r
}

// run is a worker: it reads the next segment into each of its free jobs,
// queues the job in stream order, then opens it. It returns after queueing
// an end job once the source has no more segments, or when the reader stops.
func (w *openWorkers) run(aead cipher.AEAD, free chan *openJob) {
	defer w.wg.Done()
	s := w.src
	for {
		var j *openJob
		select {
		case j = <-free:
		case <-w.quit:
			return
		}
		j = latest(free, j)
		s.lockTurn()
		select {
		case <-w.quit:
			s.mu.Unlock()
			return
		default:
		}
		j.end = !s.read(&j.segment)
		if s.eof || s.err != nil {
			s.ended.Store(true)
		}
		w.ordered <- j // never blocks: it has room for every job
		s.mu.Unlock()
		if j.end {
			j.done <- struct{}{}
			return
		}
		j.holdPlaintext(len(j.ct))
		j.out, j.err = aead.Open(j.ct[:0], j.nonce[:], j.ct, nil)
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
func latest(free chan *openJob, j *openJob) *openJob {
	for range len(free) {
		k := <-free
		free <- j // never blocks: the receive made room
		j = k
	}
	return j
}

// stop ends the workers and waits until none touches the source any more.
func (w *openWorkers) stop() {
	w.quit1()
	w.wg.Wait()
}

// quit1 tells the workers to end. It is the cleanup of an abandoned reader,
// and must not block: cleanups share one goroutine.
func (w *openWorkers) quit1() { w.once.Do(func() { close(w.quit) }) }

// lockTurn takes mu for a worker. It first waits by yielding rather than
// parking: waking a parked goroutine can take 100-200µs on a virtual
// machine, as long as opening a segment, and would serialise the workers.
// After a millisecond (a source slow to deliver) it parks.
func (s *sharedSource) lockTurn() {
	start := time.Now()
	for i := 1; !s.mu.TryLock(); i++ {
		if i%64 == 0 && time.Since(start) > time.Millisecond {
			s.mu.Lock()
			return
		}
		runtime.Gosched()
	}
}

// Read reads authenticated plaintext into p.
func (r *parallelReader) Read(p []byte) (int, error) {
	for len(r.unread) == 0 {
		if r.cur != nil {
			r.release(r.cur)
			r.cur = nil
		}
		if r.err != nil {
			return 0, r.err
		}
		if len(p) == 0 {
			return 0, nil
		}
		j, err := r.next()
		if err != nil {
			return 0, err
		}
		r.cur, r.unread = j, j.out
	}
	n := copy(p, r.unread)
	r.unread = r.unread[n:]
	return n, nil
}

// WriteTo writes the remaining plaintext to w straight from the workers'
// buffers; io.Copy uses it.
func (r *parallelReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	if r.cur != nil {
		n, err := w.Write(r.unread)
		total += int64(n)
		if err != nil {
			return total, r.fail(err)
		}
		r.release(r.cur)
		r.cur, r.unread = nil, nil
	}
	for r.err == nil {
		j, err := r.next()
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

// next returns the next authenticated segment; the caller releases it. At
// the end of the stream it returns io.EOF, or the read error.
func (r *parallelReader) next() (*openJob, error) {
	j := <-r.w.ordered
	<-j.done
	if j.end {
		r.release(j)
		r.w.src.mu.Lock()
		err := r.w.src.err
		r.w.src.mu.Unlock()
		if err == nil {
			err = io.EOF
		}
		return nil, r.fail(err)
	}
	if j.err != nil {
		index := int64(j.index)
		r.release(j)
		return nil, r.fail(authError("Read", index, ""))
	}
	return j, nil
}

// fail makes err sticky, ends the workers, waits until they let go of the
// source and the buffers, and gives the buffers back to the pool.
func (r *parallelReader) fail(err error) error {
	r.err = err
	if r.cur != nil {
		r.release(r.cur)
		r.cur, r.unread = nil, nil
	}
	r.w.stop()
	for _, j := range r.all {
		j.giveBack(r.w.src.pool)
	}
	return err
}

// release hands a consumed job back to the worker that owns it.
func (r *parallelReader) release(j *openJob) {
	j.ct, j.out, j.err, j.end = nil, nil, nil, false
	j.free <- j // never blocks: it has room for all of the owner's jobs
}
