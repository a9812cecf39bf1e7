package stream

import (
	"crypto/cipher"
	"io"
	"runtime"
	"sync"
)

// ReaderAt decrypts random ranges of a stream stored behind an io.ReaderAt.
// It authenticates the final segment when it is created, so Size is
// authenticated and a truncated stream is rejected up front. ReadAt opens
// only the segments a range touches, keeps the last segment it decrypted for
// the next call, and is safe for concurrent use. Close wipes that plaintext;
// a ReaderAt dropped without Close has it wiped when it is garbage
// collected.
type ReaderAt struct {
	src    io.ReaderAt
	aead   cipher.AEAD
	g      geometry
	prefix [prefixSize]byte
	ctSize int64
	size   int64 // plaintext size
	nseg   int64
	bufs   sync.Pool // *segBuf of one ciphertext segment, holding no plaintext
	c      *segCache // its own allocation, for the cleanup of a dropped ReaderAt
}

// segCache is a ReaderAt's cached plaintext segment.
type segCache struct {
	mu     sync.Mutex
	sb     *segBuf // plaintext of segment idx
	idx    int64
	closed bool
}

// wipe clears the cached plaintext and drops it. It is Close, and the
// cleanup of a ReaderAt that was never closed.
func (c *segCache) wipe() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sb != nil {
		clear(c.sb.pt)
		c.sb = nil
	}
	c.closed = true
}

type segBuf struct {
	b     []byte
	pt    []byte
	nonce [nonceSize]byte // here rather than on the stack: it escapes into the AEAD
}

// NewDecryptReaderAt returns a ReaderAt over the stream of ciphertextSize
// bytes in r, encrypted with the 32-byte key and associated data aad. It
// reads the header and authenticates the final segment before returning; a
// ciphertext that was truncated, extended or tampered with there, or a wrong
// key or aad, yields an error wrapping ErrAuthentication.
func NewDecryptReaderAt(r io.ReaderAt, ciphertextSize int64, key, aad []byte, opts ...Option) (*ReaderAt, error) {
	const op = "NewDecryptReaderAt"
	c, err := newConfig(op, opts)
	if err != nil {
		return nil, err
	}
	if err := checkKey(op, key); err != nil {
		return nil, err
	}
	g := geometry{int64(c.segmentSize)}
	nseg, size, ok := g.segments(ciphertextSize)
	if !ok {
		if ciphertextSize < 0 {
			return nil, &Error{Op: op, Segment: -1, Reason: "negative ciphertext size", Err: ErrInvalidArgument}
		}
		return nil, authError(op, -1, "no stream has this ciphertext size")
	}
	var hb [HeaderSize]byte
	if err := readFullAt(r, hb[:], 0); err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, authError(op, -1, "ciphertext shorter than its size")
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
	ra := &ReaderAt{src: r, aead: aead, g: g, prefix: h.prefix, ctSize: ciphertextSize, size: size, nseg: nseg}
	sb := ra.getBuf(int(ciphertextSize - g.ctStart(nseg-1)))
	if err := ra.open(op, sb, nseg-1); err != nil {
		return nil, err
	}
	ra.c = &segCache{sb: sb, idx: nseg - 1}
	runtime.AddCleanup(ra, (*segCache).wipe, ra.c)
	return ra, nil
}

// Size returns the plaintext size, authenticated by the final segment.
func (r *ReaderAt) Size() int64 { return r.size }

// Close wipes the plaintext segment the ReaderAt keeps; ReadAt fails with
// ErrClosed afterwards. It does not close the source and always returns nil.
func (r *ReaderAt) Close() error {
	r.c.wipe()
	return nil
}

// ReadAt reads len(p) plaintext bytes at offset off, with io.ReaderAt
// semantics: n < len(p) only with an error, io.EOF at the end of the
// plaintext. It returns no byte of a segment that failed to authenticate.
func (r *ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	const op = "ReadAt"
	if off < 0 {
		return 0, &Error{Op: op, Segment: -1, Reason: "negative offset", Err: ErrInvalidArgument}
	}
	if r.isClosed() {
		return 0, &Error{Op: op, Segment: -1, Err: ErrClosed}
	}
	if off >= r.size {
		return 0, io.EOF
	}
	end := off + int64(len(p))
	if end > r.size || end < off {
		end = r.size
	}
	n := 0
	for off < end {
		i := r.g.segmentOf(off)
		within := off - r.g.ptStart(i)
		segLen := r.ptLen(i)
		want := min(end-off, segLen-within)
		dst := p[n : n+int(want)]
		if within == 0 && want == segLen && !r.cached(i) {
			// The whole segment, not the cached one: open it straight into p.
			if err := r.openInto(dst, i); err != nil {
				return n, err
			}
		} else if err := r.copySegment(dst, i, within); err != nil {
			return n, err
		}
		n += int(want)
		off += want
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// ptLen is the plaintext length of segment i of this stream.
func (r *ReaderAt) ptLen(i int64) int64 {
	if i == r.nseg-1 {
		return r.size - r.g.ptStart(i)
	}
	return r.g.ptCap(i)
}

// cached reports whether segment i is the cached one (the final segment
// right after NewDecryptReaderAt: a small object is then read without
// opening its one segment a second time).
func (r *ReaderAt) cached(i int64) bool {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	return r.c.sb != nil && r.c.idx == i
}

func (r *ReaderAt) isClosed() bool {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	return r.c.closed
}

// copySegment copies plaintext of segment i from offset within into dst,
// from the cache or by opening the segment and caching it. The segment it
// replaces in the cache is wiped before its buffer is reused.
func (r *ReaderAt) copySegment(dst []byte, i, within int64) error {
	c := r.c
	c.mu.Lock()
	if c.sb != nil && c.idx == i {
		copy(dst, c.sb.pt[within:])
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	sb := r.getBuf(r.ctLen(i))
	if err := r.open("ReadAt", sb, i); err != nil {
		r.bufs.Put(sb) // a failed Open wiped what it wrote
		return err
	}
	copy(dst, sb.pt[within:])
	c.mu.Lock()
	old := sb
	if !c.closed {
		old, c.sb, c.idx = c.sb, sb, i
	}
	c.mu.Unlock()
	if old != nil {
		clear(old.pt)
		old.pt = nil
		r.bufs.Put(old)
	}
	return nil
}

// openInto opens segment i into dst, which holds exactly its plaintext.
func (r *ReaderAt) openInto(dst []byte, i int64) error {
	sb := r.getBuf(r.ctLen(i))
	defer r.bufs.Put(sb)
	ct, err := r.readSegment("ReadAt", sb, i)
	if err != nil {
		return err
	}
	setNonce(&sb.nonce, &r.prefix, uint32(i), i == r.nseg-1)
	if _, err := r.aead.Open(dst[:0], sb.nonce[:], ct, nil); err != nil {
		return authError("ReadAt", i, "")
	}
	return nil
}

// open reads segment i into sb and opens it in place into sb.pt.
func (r *ReaderAt) open(op string, sb *segBuf, i int64) error {
	ct, err := r.readSegment(op, sb, i)
	if err != nil {
		return err
	}
	setNonce(&sb.nonce, &r.prefix, uint32(i), i == r.nseg-1)
	sb.pt, err = r.aead.Open(ct[:0], sb.nonce[:], ct, nil)
	if err != nil {
		return authError(op, i, "")
	}
	return nil
}

// readSegment reads the ciphertext of segment i into sb.b.
func (r *ReaderAt) readSegment(op string, sb *segBuf, i int64) ([]byte, error) {
	ct := sb.b[:r.ctLen(i)]
	if err := readFullAt(r.src, ct, r.g.ctStart(i)); err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, authError(op, i, "ciphertext shorter than its size")
		}
		return nil, &Error{Op: op, Segment: i, Reason: "reading ciphertext", Err: err}
	}
	return ct, nil
}

// ctLen is the ciphertext length of segment i of this stream.
func (r *ReaderAt) ctLen(i int64) int {
	return int(min(r.g.ctCap(i), r.ctSize-r.g.ctStart(i)))
}

// getBuf returns a buffer of at least n bytes, reusing one when it can. A
// small stream gets a buffer of its size, not a whole segment.
func (r *ReaderAt) getBuf(n int) *segBuf {
	if v := r.bufs.Get(); v != nil {
		if sb := v.(*segBuf); len(sb.b) >= n {
			return sb
		}
	}
	return &segBuf{b: make([]byte, n)}
}

// readFullAt fills b from r at off; a short read is io.ErrUnexpectedEOF.
func readFullAt(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
