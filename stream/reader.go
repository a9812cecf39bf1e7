package stream

import (
	"crypto/cipher"
	"io"
)

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
	// The header is read into the reader, which is allocated anyway: a
	// local array would escape into r.Read.
	dr := &decryptReader{}
	hb := dr.hdr[:]
	if _, err := io.ReadFull(r, hb); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, authError(op, -1, "truncated header")
		}
		return nil, &Error{Op: op, Segment: -1, Reason: "reading header", Err: err}
	}
	h, ok := parseHeader(hb)
	if !ok {
		return nil, authError(op, -1, "invalid header length byte")
	}
	// The salt as it lies in dr.hdr (h.salt's copy would escape to the heap).
	aead, err := newAEAD(key, (*[saltSize]byte)(hb[1:1+saltSize]), aad)
	if err != nil {
		return nil, &Error{Op: op, Segment: -1, Reason: "deriving the stream key", Err: err}
	}
	src := segmentSource{src: r, g: geometry{int64(c.segmentSize)}, prefix: h.prefix, pool: c.pool}
	if c.concurrency > 1 && !fitsOneSegment(r, src.g) {
		if _, ok := memorySource(r); !ok {
			return newParallelReader(aead, src, c.concurrency), nil
		}
		// From memory, WriteTo opens segments in place on n goroutines
		// (memOpener.openWhole); a Read first starts the parallel reader.
		dr.conc = c.concurrency
	}
	dr.aead, dr.src = aead, src
	return dr, nil
}

// fitsOneSegment reports whether r says (as a bytes.Reader does, by Len)
// that the rest of the stream is at most its first segment: then there is
// nothing to parallelize, and the sequential reader saves starting workers.
func fitsOneSegment(r io.Reader, g geometry) bool {
	l, ok := r.(interface{ Len() int })
	return ok && int64(l.Len()) <= g.ctCap(0)
}

// decryptReader is the sequential reader. It reads each segment into its
// one buffer and opens it there, or straight into the caller's slice when
// that holds the whole segment. Read copies the ciphertext into the buffer
// first; only WriteTo from a source in memory opens it where it lies (see
// memOpener).
type decryptReader struct {
	aead   cipher.AEAD
	src    segmentSource
	seg    segment // the reader's one segment buffer
	unread []byte  // authenticated plaintext not yet returned, in seg's buffer
	err    error   // sticky; io.EOF once the last segment has been returned
	hdr    [HeaderSize]byte

	// WithConcurrency(conc > 1) from a memory source: WriteTo opens on conc
	// goroutines, Read through par, the parallel reader it starts.
	conc int
	par  *parallelReader

	// The state of WriteTo from a memory source (reader_mem.go).
	held    int       // ciphertext of segment src.next collected in seg's buffer
	w       io.Writer // WriteTo's destination
	written int64     // bytes written to w
	wErr    error     // w's error
}

// Read reads authenticated plaintext into p.
func (r *decryptReader) Read(p []byte) (int, error) {
	if r.conc > 1 {
		if r.par == nil {
			if r.err != nil { // WriteTo ran (from memory: to the end or an error)
				return 0, r.err
			}
			r.par = newParallelReader(r.aead, r.src, r.conc)
			r.src = segmentSource{}
		}
		return r.par.Read(p)
	}
	for len(r.unread) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if len(p) == 0 {
			return 0, nil
		}
		if !r.next() {
			return 0, r.err
		}
		if n := len(r.seg.ct) - tagSize; len(p) >= n {
			// The whole segment fits: open it straight into p. If the
			// tag does not verify, GCM wipes what it wrote.
			if _, err := r.open(p[:0]); err != nil {
				return 0, err
			}
			r.endIfLast()
			if n == 0 {
				continue // an empty final segment
			}
			return n, nil
		}
		var err error
		r.seg.holdPlaintext(len(r.seg.ct))
		if r.unread, err = r.open(r.seg.ct[:0]); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.unread)
	r.unread = r.unread[n:]
	if len(r.unread) == 0 {
		r.endIfLast()
	} else {
		guard(r, &r.seg.buffer) // wiped even if the reader is dropped here
	}
	return n, nil
}

// endIfLast ends the stream once the last segment has been consumed, rather
// than at the next Read: a caller that reads exactly the plaintext's length
// (io.ReadFull) never makes that Read, and the buffer would not be wiped
// and given back.
func (r *decryptReader) endIfLast() {
	if r.src.eof {
		r.fail(io.EOF)
	}
}

// WriteTo writes the remaining plaintext to w straight from the reader's
// buffer; io.Copy uses it. From a bytes.Reader or bytes.Buffer it opens the
// segments in the source's memory rather than copying them first (see
// memOpener).
func (r *decryptReader) WriteTo(w io.Writer) (int64, error) {
	if r.par != nil {
		return r.par.WriteTo(w)
	}
	var total int64
	for {
		if len(r.unread) > 0 {
			n, err := w.Write(r.unread)
			total += int64(n)
			r.unread = nil
			if err != nil {
				return total, r.fail(err)
			}
		}
		if r.err == nil && !r.src.eof && r.src.err == nil {
			if ms, ok := memorySource(r.src.src); ok {
				n, err := r.writeFromMemory(ms, w)
				return total + n, err
			}
		}
		if r.err != nil || !r.next() {
			break
		}
		var err error
		r.seg.holdPlaintext(len(r.seg.ct))
		if r.unread, err = r.open(r.seg.ct[:0]); err != nil {
			break
		}
	}
	if r.err == io.EOF {
		return total, nil
	}
	return total, r.err
}

// next reads the next segment into r.seg. At the end of the stream it
// returns false, with r.err io.EOF or the error that stopped reading.
func (r *decryptReader) next() bool {
	if r.src.read(&r.seg) {
		return true
	}
	err := r.src.err
	if err == nil {
		err = io.EOF
	}
	r.fail(err)
	return false
}

// open authenticates the segment just read, into dst: the caller's slice,
// or the segment's own buffer to open it in place.
func (r *decryptReader) open(dst []byte) ([]byte, error) {
	out, err := r.aead.Open(dst, r.seg.nonce[:], r.seg.ct, nil)
	if err != nil {
		return nil, r.fail(authError("Read", int64(r.seg.index), ""))
	}
	return out, nil
}

// fail makes err sticky and gives the buffer back to the pool.
func (r *decryptReader) fail(err error) error {
	r.err, r.unread = err, nil
	r.seg.giveBack(r.src.pool)
	return err
}

// maxRead bounds one Read on the source. The Go runtime copies 1 MiB or more
// with non-temporal stores, which would push a segment out of the cache just
// before GCM reads it (2-3x slower to open).
const maxRead = 512 << 10

// firstRead is the first size of a reader's buffer when the source does not
// tell its length: a small object's segment, header and tag included.
const firstRead = 4<<10 + 64

// segmentSource reads a stream's segments in order, each into a buffer of
// the reader. Only a segment read while the source is at EOF is the last
// one, so a stream missing its last segment, or with bytes appended, fails
// to authenticate instead of ending cleanly; one byte of lookahead beyond
// each segment tells.
type segmentSource struct {
	src    io.Reader
	g      geometry
	prefix [prefixSize]byte
	pool   *BufferPool
	next   int64 // index of the next segment to read
	peek   byte  // first byte of segment next, read to learn the previous one was not last
	peeked bool
	eof    bool  // the last segment has been read
	err    error // read error; no segment is read after it
}

// segment is a ciphertext segment read into a reader's buffer, with its
// nonce.
type segment struct {
	buffer // one ciphertext segment and the lookahead byte
	ct     []byte
	index  uint32
	nonce  [nonceSize]byte
}

// read reads segment s.next into seg and sets its ciphertext and nonce. It
// returns false, leaving the reason in s.err (nil at a clean end), if there
// is no segment to read.
func (s *segmentSource) read(seg *segment) bool {
	if s.eof || s.err != nil {
		return false
	}
	if s.next >= maxSegments {
		s.err = authError("Read", s.next, "too many segments")
		return false
	}
	ctLen := int(s.g.ctCap(s.next))
	want := ctLen + 1
	full := int(s.g.seg) + 1
	n := 0
	if s.peeked {
		n = 1
	}
	// The buffer starts at what the source says it holds, if it says (a
	// bytes.Reader does), else at firstRead; it doubles as it fills up.
	first := min(want, firstRead)
	if l, ok := s.src.(interface{ Len() int }); ok {
		first = min(want, n+max(l.Len(), 0)+1)
	}
	seg.grow(first, full, s.pool)
	if s.peeked {
		seg.buf[0] = s.peek
		seg.touch(1)
	}
	var err error
	for {
		lim := min(want, len(seg.buf), n+maxRead)
		var m int
		m, err = io.ReadFull(s.src, seg.buf[n:lim])
		seg.touch(lim) // a reader may use all of the slice as scratch space
		n += m
		if err != nil || n == want {
			break
		}
		if n == len(seg.buf) {
			seg.grow(n+1, full, s.pool)
		}
	}
	last := false
	switch err {
	case nil:
		s.peek, s.peeked = seg.buf[ctLen], true
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
	seg.index = uint32(s.next)
	seg.ct = seg.buf[:ctLen]
	setNonce(&seg.nonce, &s.prefix, seg.index, last)
	s.next++
	return true
}
