package stream

import (
	"crypto/rand"
	"io"
)

// encryptWriter seals plaintext into segments. Large writes are sealed
// straight from the caller's slice; only a trailing partial segment is
// copied. A full segment is sealed only once a further byte arrives, since
// the last segment must carry the last-segment flag (this is also what Tink
// does, so the byte layout is identical).
type encryptWriter struct {
	dst      io.Writer
	p        pipeline
	g        geometry
	hdr      header
	next     int64    // index of the next segment to start
	fill     *sealJob // segment being filled, plaintext at fill.buf[fill.head:][:fillN]
	fillN    int
	err      error // sticky
	closed   bool
	closeErr error // result of the first Close
	rnd      [saltSize + prefixSize]byte
}

// NewEncryptWriter returns a writer that encrypts to w with the 32-byte key,
// binding the associated data aad (which is needed again to decrypt but not
// stored). Close must be called to write the final segment; it does not
// close w. Nothing is written to w before the first segment is complete.
// The writer is not safe for concurrent use.
func NewEncryptWriter(w io.Writer, key, aad []byte, opts ...Option) (io.WriteCloser, error) {
	const op = "NewEncryptWriter"
	c, err := newConfig(op, opts)
	if err != nil {
		return nil, err
	}
	if err := checkKey(op, key); err != nil {
		return nil, err
	}
	ew := &encryptWriter{dst: w, g: geometry{int64(c.segmentSize)}}
	// Salt and nonce prefix in one read of the source (one system call).
	rnd := ew.rnd[:]
	if c.rand == nil {
		_, _ = rand.Read(rnd) // crypto/rand.Read never fails (Go 1.24+)
	} else if _, err := io.ReadFull(c.rand, rnd); err != nil {
		return nil, &Error{Op: op, Segment: -1, Reason: "reading randomness", Err: err}
	}
	copy(ew.hdr.salt[:], rnd)
	copy(ew.hdr.prefix[:], rnd[saltSize:])
	clear(rnd)
	aead, err := newAEAD(key, &ew.hdr.salt, aad)
	if err != nil {
		return nil, &Error{Op: op, Segment: -1, Reason: "deriving the stream key", Err: err}
	}
	ew.p.init(aead, c.segmentSize, c.concurrency, c.pool)
	return ew, nil
}

// Write encrypts p. It returns len(p) unless an error occurred; errors are sticky.
func (w *encryptWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, &Error{Op: "Write", Segment: -1, Err: ErrClosed}
	}
	total := len(p)
	for len(p) > 0 {
		if w.fill == nil && w.p.n > 1 && w.next > 0 {
			m, err := w.sealWhole(p)
			if err != nil {
				return total - len(p) + m, err
			}
			if m > 0 {
				p = p[m:]
				continue
			}
		}
		if w.fill == nil {
			if err := w.startSegment(); err != nil {
				return total - len(p), err
			}
		}
		j := w.fill
		capacity := int(w.g.ptCap(int64(j.index)))
		if w.fillN == 0 && len(p) > capacity && w.borrow(len(p), capacity) {
			// A whole segment with more data after it: seal it from p.
			w.p.grow(j, j.head+capacity+tagSize)
			j.in, j.dst, j.borrowed = p[:capacity], j.buf[j.head:j.head], true
			p = p[capacity:]
			w.seal(notLastSegment)
			continue
		}
		w.p.grow(j, j.head+w.fillN+min(len(p), capacity-w.fillN)+tagSize)
		n := copy(j.buf[j.head+w.fillN:min(j.head+capacity, len(j.buf)-tagSize)], p)
		w.fillN += n
		j.holdPlaintext(j.head + w.fillN)
		p = p[n:]
		if w.fillN == capacity && len(p) > 0 {
			j.in = j.buf[j.head : j.head+capacity]
			j.dst = j.buf[j.head:j.head]
			w.seal(notLastSegment)
		}
	}
	// p must not be retained: finish every segment sealed from it.
	for w.p.borrowed > 0 {
		if err := w.emitOldest(); err != nil {
			return total, err
		}
	}
	if w.fill != nil {
		guard(w, &w.fill.buffer) // wiped even if the writer is never closed
	}
	return total, nil
}

// Close seals and writes the final segment, waits for all output to be
// written and stops the workers. Writes after Close fail with ErrClosed;
// further Close calls return the first one's result.
func (w *encryptWriter) Close() error {
	if w.closed {
		return w.closeErr
	}
	w.closed = true
	w.closeErr = w.close()
	return w.closeErr
}

func (w *encryptWriter) close() error {
	if w.err != nil {
		w.p.stop()
		return w.err
	}
	if w.fill == nil {
		if err := w.startSegment(); err != nil {
			return err
		}
	}
	j := w.fill
	w.p.grow(j, j.head+w.fillN+tagSize)
	j.in = j.buf[j.head : j.head+w.fillN]
	j.dst = j.buf[j.head:j.head]
	w.seal(lastSegment)
	for w.p.inflight > 0 {
		if err := w.emitOldest(); err != nil {
			return err
		}
	}
	w.p.stop()
	return nil
}

// borrow reports whether to seal straight from the caller's slice, which
// holds rest bytes, rather than copy. In parallel mode Write must wait for
// borrowed segments before returning, so a slice of a segment or two is
// copied instead: its segments can stay in flight across Write calls.
func (w *encryptWriter) borrow(rest, capacity int) bool {
	return w.p.workers == nil || rest >= len(w.p.jobs)*capacity
}

// sealWhole seals the whole segments at the front of p that are known not to
// be the last (at least one byte of p follows them) on n goroutines with
// inOrder, straight from p, and writes them out in order, after the
// segments already in the pipeline. It returns how many bytes of p it
// consumed: none if p holds fewer than n such segments, which then take
// the pipeline. Every goroutine has ended when it returns, so p is not
// retained.
func (w *encryptWriter) sealWhole(p []byte) (int, error) {
	capacity := int(w.g.ptCap(w.next)) // the same for every segment after 0
	count := (len(p) - 1) / capacity
	if maxCount := int64(maxSegments) - w.next; int64(count) > maxCount {
		count = int(maxCount)
	}
	if count < w.p.n {
		return 0, nil
	}
	for w.p.inflight > 0 {
		if err := w.emitOldest(); err != nil {
			return 0, err
		}
	}
	first := w.next
	seal := func(sb *segment, i int) ([]byte, error) {
		sb.grow(capacity+tagSize, w.p.bufSize, w.p.pool)
		sb.touch(capacity + tagSize)
		setNonce(&sb.nonce, &w.hdr.prefix, uint32(first+int64(i)), notLastSegment)
		return w.p.aead.Seal(sb.buf[:0], sb.nonce[:], p[i*capacity:(i+1)*capacity], nil), nil
	}
	var werr error
	emit := func(ct []byte) error {
		_, werr = w.dst.Write(ct)
		return werr
	}
	done, _ := inOrder(w.p.n, count, w.p.pool, seal, emit)
	w.next = first + int64(done)
	if werr != nil {
		return done * capacity, w.fail(&Error{Op: "Write", Segment: w.next, Reason: "writing ciphertext", Err: werr})
	}
	return done * capacity, nil
}

// startSegment makes an idle job the segment being filled.
func (w *encryptWriter) startSegment() error {
	if w.next >= maxSegments {
		return w.fail(&Error{Op: "Write", Segment: w.next, Err: ErrTooLarge})
	}
	if w.next == 1 && w.p.wantsWorkers() {
		// A second segment: now the workers are worth starting. Segment
		// 0, sealed on this goroutine, goes out first.
		for w.p.inflight > 0 {
			if err := w.emitOldest(); err != nil {
				return err
			}
		}
		w.p.start()
		attach(w, &w.p)
	}
	for w.p.idle() == 0 {
		if err := w.emitOldest(); err != nil {
			return err
		}
	}
	j := w.p.take()
	j.index = uint32(w.next)
	j.head = 0
	if w.next == 0 {
		j.head = HeaderSize // the header goes in front of segment 0; see seal
	}
	w.next++
	w.fill, w.fillN = j, 0
	return nil
}

// seal submits the filled segment (j.in and j.dst set by the caller).
func (w *encryptWriter) seal(last bool) {
	j := w.fill
	w.fill, w.fillN = nil, 0
	if j.index == 0 {
		w.hdr.marshal(j.buf)
		j.touch(HeaderSize)
	}
	setNonce(&j.nonce, &w.hdr.prefix, j.index, last)
	w.p.submit(j)
}

// emitOldest writes the oldest sealed segment to dst.
func (w *encryptWriter) emitOldest() error {
	j := w.p.oldest()
	if j == nil {
		panic("stream: internal error: emit with nothing in flight")
	}
	_, err := w.dst.Write(j.buf[:j.head+len(j.out)])
	w.p.release(j)
	if err != nil {
		return w.fail(&Error{Op: "Write", Segment: int64(j.index), Reason: "writing ciphertext", Err: err})
	}
	return nil
}

// fail makes err sticky and waits for the workers to let go of every buffer,
// including the caller's.
func (w *encryptWriter) fail(err error) error {
	w.err = err
	w.p.stop()
	return err
}
