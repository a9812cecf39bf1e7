package stream

import (
	"fmt"
	"math"
)

// Segment geometry. Only the ciphertext segment size affects sizes and
// offsets, so these functions take it alone (the value given to
// WithSegmentSize, DefaultSegmentSize if none was).

// EncryptedSize returns the ciphertext size, header included, of a plaintext
// of plaintextSize bytes in segments of segmentSize bytes. The error wraps
// ErrInvalidArgument for a negative size or a segment size outside
// [MinSegmentSize, MaxSegmentSize], and ErrTooLarge if the plaintext needs
// more than the format's 2^32-1 segments.
func EncryptedSize(plaintextSize int64, segmentSize int) (int64, error) {
	const op = "EncryptedSize"
	g, err := newGeometry(op, segmentSize)
	if err != nil {
		return 0, err
	}
	if plaintextSize < 0 {
		return 0, argError(op, "negative plaintext size")
	}
	c, ok := g.encryptedSize(plaintextSize)
	if !ok {
		return 0, &Error{Op: op, Segment: -1, Err: ErrTooLarge}
	}
	return c, nil
}

// DecryptedSize returns the plaintext size of a ciphertext of ciphertextSize
// bytes in segments of segmentSize bytes. A size no stream can have (a
// truncated or extended ciphertext) is reported with an error wrapping
// ErrAuthentication, an invalid segment size with ErrInvalidArgument. The
// size is not authenticated until the final segment is: NewDecryptReaderAt
// does that.
func DecryptedSize(ciphertextSize int64, segmentSize int) (int64, error) {
	const op = "DecryptedSize"
	g, err := newGeometry(op, segmentSize)
	if err != nil {
		return 0, err
	}
	_, pt, ok := g.segments(ciphertextSize)
	if !ok {
		return 0, authError(op, -1, "no stream has this ciphertext size")
	}
	return pt, nil
}

// CiphertextRange returns the ciphertext byte range [start, end) holding the
// segments that plaintext bytes [off, off+n) live in, for segments of
// segmentSize bytes. Decrypting them also needs the header (ciphertext bytes
// [0, HeaderSize)): start is 0 when the range touches the first segment, so
// the header is then included; otherwise fetch it separately. end may exceed
// the ciphertext size when the range reaches the final segment: clamp it to
// the object size. For n == 0 the range is empty (0, 0). A negative off or
// n, an off beyond any stream or an invalid segment size is an error
// wrapping ErrInvalidArgument.
func CiphertextRange(off, n int64, segmentSize int) (start, end int64, err error) {
	const op = "CiphertextRange"
	g, err := newGeometry(op, segmentSize)
	if err != nil {
		return 0, 0, err
	}
	if off < 0 || n < 0 {
		return 0, 0, argError(op, "negative offset or length")
	}
	if off > math.MaxInt64-HeaderSize {
		return 0, 0, argError(op, "offset beyond any stream")
	}
	if n == 0 {
		return 0, 0, nil
	}
	last := off + n - 1
	if last < off { // overflow: the range runs to the end of any stream
		last = math.MaxInt64 - HeaderSize
	}
	first, lastSeg := g.segmentOf(off), g.segmentOf(last)
	start = first * g.seg
	if lastSeg >= maxSegments {
		return start, math.MaxInt64, nil
	}
	return start, (lastSeg + 1) * g.seg, nil
}

// SegmentEnd returns the plaintext offset at which the segment holding
// plaintext byte off ends, for segments of segmentSize bytes: segment 0
// holds plaintext [0, segmentSize-56), every further one segmentSize-16
// bytes. The final segment of a stream may end earlier: clamp the result to
// the plaintext size. Reading a ReaderAt in pieces that end there opens
// every segment once. A negative off, an off no stream reaches or an
// invalid segment size is an error wrapping ErrInvalidArgument.
func SegmentEnd(off int64, segmentSize int) (int64, error) {
	const op = "SegmentEnd"
	g, err := newGeometry(op, segmentSize)
	if err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, argError(op, "negative offset")
	}
	i := g.segmentOf(min(off, math.MaxInt64-HeaderSize))
	if i >= maxSegments {
		return 0, argError(op, "offset beyond any stream")
	}
	return g.ptStart(i + 1), nil
}

// checkSegmentSize checks n against [MinSegmentSize, MaxSegmentSize].
func checkSegmentSize(op string, n int) error {
	if n < MinSegmentSize || n > MaxSegmentSize {
		return argError(op, fmt.Sprintf("segment size %d outside [%d, %d]", n, MinSegmentSize, MaxSegmentSize))
	}
	return nil
}

// geometry is the segment layout of a stream with ciphertext segment size S:
// segment 0 occupies ciphertext [HeaderSize, S), segment i > 0 occupies
// [i*S, (i+1)*S), each shortened only if it is the last one. Every segment
// carries a 16-byte tag, so segment 0 holds S-HeaderSize-16 plaintext bytes
// and every other full segment S-16.
type geometry struct {
	seg int64 // ciphertext segment size S
}

// newGeometry returns the geometry of a valid segment size.
func newGeometry(op string, segmentSize int) (geometry, error) {
	if err := checkSegmentSize(op, segmentSize); err != nil {
		return geometry{}, err
	}
	return geometry{int64(segmentSize)}, nil
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

// segmentOf is the index of the segment holding plaintext offset
// 0 <= off <= math.MaxInt64-HeaderSize.
func (g geometry) segmentOf(off int64) int64 { return (off + HeaderSize) / (g.seg - tagSize) }

// encryptedSize returns the ciphertext size of a plaintext of pt >= 0 bytes,
// or ok == false if it needs too many segments.
func (g geometry) encryptedSize(pt int64) (c int64, ok bool) {
	n := int64(1)
	if rest := pt - g.ptCap(0); rest > 0 {
		n += (rest-1)/g.ptCap(1) + 1 // ceil without overflow
	}
	if n > maxSegments || pt > math.MaxInt64-HeaderSize-n*tagSize {
		return 0, false
	}
	return HeaderSize + pt + n*tagSize, true
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
