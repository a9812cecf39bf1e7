package stream

import (
	"crypto/cipher"
	"runtime"
	"sync"
	"time"
)

// job is one segment on its way through the AEAD. Its buffer is allocated
// once and reused for the life of the stream, so the steady state allocates
// nothing.
type job struct {
	buf      []byte    // owned buffer, up to one ciphertext segment (+1 byte for readers)
	pooled   *[]byte   // buf's pooled backing, to give back; nil if allocated
	in       []byte    // input: plaintext to seal or ciphertext to open
	dst      []byte    // output buffer (len 0): buf or memory the caller lent
	out      []byte    // result of Seal or Open
	err      error     // Open's error
	index    uint32    // segment index
	slot     int       // writers: position in pipeline.jobs
	head     int       // writers: bytes of header in buf before the sealed segment
	borrowed bool      // in or dst is the caller's memory: finish before returning
	end      bool      // readers: no segment was left to read into this job
	free     chan *job // readers: the owning worker's free jobs, nil when sequential
	nonce    [nonceSize]byte
	done     chan struct{} // signalled by a worker; nil when sequential
}

// pipeline seals jobs, inline (concurrency 1) or on n worker goroutines,
// and hands results back in submission order. Jobs are used round robin and
// job i is always sealed by worker i mod n, so a job's buffer stays in the
// cache of one core instead of moving between cores with every segment.
// (Readers have their own scheme, see openPool: their workers must also
// read the source.)
type pipeline struct {
	aead     cipher.AEAD
	bufSize  int
	pool     *BufferPool // nil: allocate
	jobs     []job
	next     int // the job take hands out next
	head     int // the oldest job in flight
	inflight int
	taken    int // taken and not yet submitted
	borrowed int // borrowed jobs in flight
	workers  *workers
}

// workers is the goroutine pool. It is a separate object so that a cleanup
// attached to the stream can stop it without keeping the stream alive.
type workers struct {
	ch   []chan *job // one per worker
	once sync.Once
}

func (w *workers) stop() {
	w.once.Do(func() {
		for _, ch := range w.ch {
			close(ch)
		}
	})
}

// init prepares a pipeline of 2n jobs (1 when sequential) and, for n > 1,
// starts n workers. The caller registers stopWorkers as a cleanup of the
// stream object, so workers end even if the stream is abandoned unfinished.
func (p *pipeline) init(aead cipher.AEAD, bufSize, n int, pool *BufferPool) {
	p.aead, p.bufSize, p.pool = aead, bufSize, pool
	size := 1
	if n > 1 {
		size = 2 * n
	}
	p.jobs = make([]job, size)
	for i := range p.jobs {
		p.jobs[i].slot = i
	}
	if n == 1 {
		return
	}
	w := &workers{}
	for i := range p.jobs {
		p.jobs[i].done = make(chan struct{}, 1)
	}
	for range n {
		ch := make(chan *job, size/n)
		w.ch = append(w.ch, ch)
		go sealWorker(aead, ch)
	}
	p.workers = w
}

// stopWorkers is the cleanup streams register for their worker pool.
func stopWorkers(w *workers) { w.stop() }

// attach registers the cleanup that stops p's workers once owner is garbage.
func attach[T any](owner *T, p *pipeline) {
	if p.workers != nil {
		runtime.AddCleanup(owner, stopWorkers, p.workers)
	}
}

func sealWorker(aead cipher.AEAD, ch <-chan *job) {
	for j := range ch {
		j.out = aead.Seal(j.dst, j.nonce[:], j.in, nil)
		j.done <- struct{}{}
	}
}

// smallBuf is the first buffer size of a job: enough for a small object, so
// that a stream of a few KiB does not allocate a whole 1 MiB segment. A job
// that needs more grows once, to the full segment.
const smallBuf = 64 << 10

// grow makes j.buf at least n bytes long (n <= bufSize), keeping its contents.
func (p *pipeline) grow(j *job, n int) { growBuf(j, n, p.bufSize, p.pool) }

// growBuf makes j.buf at least n <= full bytes long, keeping its contents:
// from the pool if there is one, else smallBuf bytes the first time if that
// is enough, else full.
func growBuf(j *job, n, full int, pool *BufferPool) {
	if len(j.buf) >= n {
		return
	}
	if pool != nil {
		j.pooled = pool.get(full)
		copy(*j.pooled, j.buf)
		j.buf = *j.pooled
		return
	}
	size := full
	if n <= smallBuf && len(j.buf) == 0 {
		size = min(smallBuf, full)
	}
	b := make([]byte, size)
	copy(b, j.buf)
	j.buf = b
}

// giveBack returns j's buffer to the pool it came from, if any.
func (j *job) giveBack(pool *BufferPool) {
	if j.pooled != nil {
		pool.put(j.pooled)
		j.pooled, j.buf = nil, nil
	}
}

// idle reports how many jobs take can hand out without completing one.
func (p *pipeline) idle() int { return len(p.jobs) - p.inflight - p.taken }

// take returns the next idle job; the caller ensures idle() > 0 and sizes
// its buffer with grow.
func (p *pipeline) take() *job {
	if p.idle() == 0 {
		panic("stream: internal error: take with no idle job")
	}
	j := &p.jobs[p.next]
	p.next = (p.next + 1) % len(p.jobs)
	p.taken++
	return j
}

// release clears a job that oldest returned.
func (p *pipeline) release(j *job) {
	j.in, j.dst, j.out, j.err, j.borrowed = nil, nil, nil, nil, false
}

// submit starts j, which take returned last, behind the jobs in flight.
func (p *pipeline) submit(j *job) {
	p.taken--
	p.inflight++
	if j.borrowed {
		p.borrowed++
	}
	if p.workers == nil {
		j.out = p.aead.Seal(j.dst, j.nonce[:], j.in, nil)
		return
	}
	p.workers.ch[j.slot%len(p.workers.ch)] <- j
}

// oldest waits for the oldest job in flight and dequeues it; nil if none.
// The caller must release it.
func (p *pipeline) oldest() *job {
	if p.inflight == 0 {
		return nil
	}
	j := &p.jobs[p.head]
	p.head = (p.head + 1) % len(p.jobs)
	p.inflight--
	if j.borrowed {
		p.borrowed--
	}
	if p.workers != nil {
		await(j.done)
	}
	return j
}

// await receives from ch, first by yielding rather than parking for up to a
// millisecond: waking a parked goroutine can take 100-200µs on a virtual
// machine, about as long as sealing a segment.
func await(ch <-chan struct{}) {
	start := time.Now()
	for i := 1; ; i++ {
		select {
		case <-ch:
			return
		default:
		}
		if i%64 == 0 && time.Since(start) > time.Millisecond {
			<-ch
			return
		}
		runtime.Gosched()
	}
}

// drain waits for and discards every job in flight.
func (p *pipeline) drain() {
	for j := p.oldest(); j != nil; j = p.oldest() {
		p.release(j)
	}
}

// stop drains the pipeline, ends the workers and gives the buffers back to
// the pool. Callers stop once they are finished.
func (p *pipeline) stop() {
	p.drain()
	if p.workers != nil {
		p.workers.stop()
	}
	for i := range p.jobs {
		p.jobs[i].giveBack(p.pool)
	}
}
