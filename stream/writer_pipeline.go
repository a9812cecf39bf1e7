package stream

import (
	"crypto/cipher"
	"runtime"
	"sync"
)

// sealJob is one segment on its way through the writer's pipeline.
type sealJob struct {
	buffer          // up to one ciphertext segment, header included for segment 0
	in       []byte // plaintext to seal: in buf, or the caller's memory
	dst      []byte // where to seal it (len 0): buf after the header
	out      []byte // the sealed segment, in dst
	index    uint32 // segment index
	slot     int    // position in pipeline.jobs
	head     int    // bytes of header in buf before the sealed segment
	borrowed bool   // in is the caller's memory: finish before Write returns
	nonce    [nonceSize]byte
	done     chan struct{} // signalled by the worker; nil when sequential
}

// pipeline seals the writer's segments, inline (concurrency 1) or, for
// concurrency n, on the writer's own goroutine and n-1 workers, and hands
// them back in submission order. Jobs are used round robin and job i is
// always sealed by sealer i mod n, the writer being sealer n-1, so a job's
// buffer stays in the cache of one core instead of moving between cores with
// every segment, and the writer seals its share while the workers seal
// theirs rather than waiting for them: n goroutines keep n cores busy. (The
// parallel reader has its own scheme, see parallelReader: its workers must
// also read the source.)
type pipeline struct {
	aead     cipher.AEAD
	bufSize  int
	pool     *BufferPool // nil: allocate
	jobs     []sealJob
	next     int // the job take hands out next
	head     int // the oldest job in flight
	inflight int
	taken    int // taken and not yet submitted
	borrowed int // borrowed jobs in flight
	workers  *sealWorkers
	n        int        // sealers wanted, the writer's goroutine included: 1 for sequential
	one      [1]sealJob // jobs until start: no allocation of its own
}

// sealWorkers is the goroutine pool. It is a separate object so that a
// cleanup attached to the writer can stop it without keeping the writer
// alive.
type sealWorkers struct {
	ch   []chan *sealJob // one per worker
	once sync.Once
}

func (w *sealWorkers) stop() {
	w.once.Do(func() {
		for _, ch := range w.ch {
			close(ch)
		}
	})
}

// init prepares a pipeline for n sealers (the writer and n-1 workers). It
// starts sequential, with one job and no goroutine; the writer calls start
// once the stream turns out to have a second segment, so a small object
// written with WithConcurrency(n) costs no more than without it.
func (p *pipeline) init(aead cipher.AEAD, bufSize, n int, pool *BufferPool) {
	p.aead, p.bufSize, p.pool, p.n = aead, bufSize, pool, n
	p.jobs = p.one[:]
}

// wantsWorkers reports whether start has yet to be called for n > 1.
func (p *pipeline) wantsWorkers() bool { return p.n > 1 && p.workers == nil }

// start switches a sequential pipeline with nothing in flight or taken to
// 2n jobs and n-1 workers. The caller registers their cleanup with attach, so
// they end even if the writer is abandoned unfinished.
func (p *pipeline) start() {
	if p.inflight != 0 || p.taken != 0 {
		panic("stream: internal error: start with jobs in flight")
	}
	size := 2 * p.n
	jobs := make([]sealJob, size)
	jobs[0].buffer, p.one[0].buffer = p.one[0].buffer, buffer{} // keep segment 0's buffer
	for i := range jobs {
		jobs[i].slot = i
		jobs[i].done = make(chan struct{}, 1)
	}
	p.jobs, p.next, p.head = jobs, 0, 0
	w := &sealWorkers{}
	for range p.n - 1 {
		ch := make(chan *sealJob, size/p.n)
		w.ch = append(w.ch, ch)
		go sealWorker(p.aead, ch)
	}
	p.workers = w
}

// attach registers the cleanup that stops p's workers once owner is garbage.
func attach[T any](owner *T, p *pipeline) {
	if p.workers != nil {
		runtime.AddCleanup(owner, (*sealWorkers).stop, p.workers)
	}
}

func sealWorker(aead cipher.AEAD, ch <-chan *sealJob) {
	for j := range ch {
		j.out = aead.Seal(j.dst, j.nonce[:], j.in, nil)
		j.done <- struct{}{}
	}
}

// grow makes j.buf at least n <= bufSize bytes long, keeping its contents.
func (p *pipeline) grow(j *sealJob, n int) { j.grow(n, p.bufSize, p.pool) }

// idle reports how many jobs take can hand out without completing one.
func (p *pipeline) idle() int { return len(p.jobs) - p.inflight - p.taken }

// take returns the next idle job; the caller ensures idle() > 0 and sizes
// its buffer with grow.
func (p *pipeline) take() *sealJob {
	if p.idle() == 0 {
		panic("stream: internal error: take with no idle job")
	}
	j := &p.jobs[p.next]
	p.next = (p.next + 1) % len(p.jobs)
	p.taken++
	return j
}

// release clears a job that oldest returned.
func (p *pipeline) release(j *sealJob) {
	j.in, j.dst, j.out, j.borrowed = nil, nil, nil, false
}

// submit starts j, which take returned last, behind the jobs in flight.
func (p *pipeline) submit(j *sealJob) {
	p.taken--
	p.inflight++
	if j.borrowed {
		p.borrowed++
	}
	if p.inline(j) {
		j.out = p.aead.Seal(j.dst, j.nonce[:], j.in, nil)
		return
	}
	p.workers.ch[j.slot%p.n] <- j
}

// inline reports whether j is sealed on the writer's goroutine: every job
// when sequential, else every n-th.
func (p *pipeline) inline(j *sealJob) bool {
	return p.workers == nil || j.slot%p.n == p.n-1
}

// oldest waits for the oldest job in flight and dequeues it; nil if none.
// The caller must release it.
func (p *pipeline) oldest() *sealJob {
	if p.inflight == 0 {
		return nil
	}
	j := &p.jobs[p.head]
	p.head = (p.head + 1) % len(p.jobs)
	p.inflight--
	if j.borrowed {
		p.borrowed--
	}
	if !p.inline(j) {
		recv(j.done, nil) // yields before it parks, see recv
	}
	j.touch(j.head + len(j.out))
	j.sealed() // in place: the ciphertext overwrote the plaintext it held
	return j
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
