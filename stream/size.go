package stream

import "math"

// geometry is the segment layout of a stream with ciphertext segment size S:
// segment 0 occupies ciphertext [HeaderSize, S), segment i > 0 occupies
// [i*S, (i+1)*S), each shortened only if it is the last one. Every segment
// carries a 16-byte tag, so segment 0 holds S-HeaderSize-16 plaintext bytes
// and every other full segment S-16.
type geometry struct {
	seg int64 // ciphertext segment size S
}

// ctCap is the ciphertext length of a full segment i (tag included).
func (g geometry) ctCap(i int64) int64 {
	if i == 0 {
		return g.seg - HeaderSize
	}
	return g.seg
}

// ptCap is the plaintext length of a full segment i.
func (g geometry) ptCap(i int64) int64 { return g.ctCap(i) - tagSize }

// ctStart is the ciphertext offset of segment i.
func (g geometry) ctStart(i int64) int64 {
	if i == 0 {
		return HeaderSize
	}
	return i * g.seg
}

// ptStart is the plaintext offset of segment i.
func (g geometry) ptStart(i int64) int64 {
	if i == 0 {
		return 0
	}
	return i*(g.seg-tagSize) - HeaderSize
}

// segmentOf is the index of the segment holding plaintext offset off >= 0.
func (g geometry) segmentOf(off int64) int64 { return (off + HeaderSize) / (g.seg - tagSize) }

// encryptedSize is EncryptedSize for a validated geometry; -1 if too large.
func (g geometry) encryptedSize(pt int64) int64 {
	if pt < 0 {
		return -1
	}
	n := int64(1)
	if rest := pt - g.ptCap(0); rest > 0 {
		n += (rest + g.ptCap(1) - 1) / g.ptCap(1)
	}
	if n > maxSegments || pt > math.MaxInt64-HeaderSize-n*tagSize {
		return -1
	}
	return HeaderSize + pt + n*tagSize
}

// segments returns the number of segments and the plaintext size of a
// ciphertext of ct bytes, or ok == false if no stream has that size.
func (g geometry) segments(ct int64) (n, pt int64, ok bool) {
	if ct < HeaderSize+tagSize {
		return 0, 0, false
	}
	n = (ct-1)/g.seg + 1
	if last := ct - (n-1)*g.seg; n > 1 && last < tagSize {
		return 0, 0, false
	}
	if n > maxSegments {
		return 0, 0, false
	}
	return n, ct - HeaderSize - n*tagSize, true
}

// EncryptedSize returns the ciphertext size of a plaintext of plaintextSize
// bytes, header included. It returns -1 if plaintextSize is negative, an
// option is invalid, or the stream would exceed the format's 2^32-1 segments.
func EncryptedSize(plaintextSize int64, opts ...Option) int64 {
	c, err := newConfig("EncryptedSize", opts)
	if err != nil {
		return -1
	}
	return geometry{int64(c.segmentSize)}.encryptedSize(plaintextSize)
}

// DecryptedSize returns the plaintext size of a ciphertext of ciphertextSize
// bytes. A size no stream can have (a truncated or extended ciphertext) is
// reported with an error wrapping ErrAuthentication; an invalid option with
// ErrInvalidArgument. The size is not authenticated until the final segment
// is: NewDecryptReaderAt does that.
func DecryptedSize(ciphertextSize int64, opts ...Option) (int64, error) {
	c, err := newConfig("DecryptedSize", opts)
	if err != nil {
		return 0, err
	}
	_, pt, ok := geometry{int64(c.segmentSize)}.segments(ciphertextSize)
	if !ok {
		return 0, authError("DecryptedSize", -1, "no stream has this ciphertext size")
	}
	return pt, nil
}

// CiphertextRange returns the ciphertext byte range [start, end) holding the
// segments that plaintext bytes [off, off+n) live in. Decrypting them also
// needs the header (ciphertext bytes [0, HeaderSize)): start is 0 when the
// range touches the first segment, so the header is then included; otherwise
// fetch it separately. end may exceed the ciphertext size when the range
// reaches the final segment: clamp it to the object size. For n <= 0, off < 0
// or an invalid option the range is empty (0, 0).
func CiphertextRange(off, n int64, opts ...Option) (start, end int64) {
	c, err := newConfig("CiphertextRange", opts)
	if err != nil || off < 0 || n <= 0 || off > math.MaxInt64-HeaderSize {
		return 0, 0
	}
	g := geometry{int64(c.segmentSize)}
	last := off + n - 1
	if last < off { // overflow: the range runs to the end of any stream
		last = math.MaxInt64 - HeaderSize
	}
	first, lastSeg := g.segmentOf(off), g.segmentOf(last)
	start = first * g.seg
	if lastSeg >= maxSegments {
		return start, math.MaxInt64
	}
	return start, (lastSeg + 1) * g.seg
}
