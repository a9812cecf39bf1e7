package sse

// Glue to package stream: the payload format (design §4). The segment
// geometry (sizes, bounds, boundaries) is stream's; sse records only the
// segment size of each object.

import (
	"errors"
	"io"

	"github.com/envkms/kms/stream"
)

// defaultSegmentSize is the ciphertext segment size of new objects.
const defaultSegmentSize = stream.DefaultSegmentSize

// Segment sizes accepted for new objects and in metadata: stream's.
const (
	minSegmentSize = stream.MinSegmentSize
	maxSegmentSize = stream.MaxSegmentSize
)

// payloadReader is a decrypting io.ReaderAt over one stream.
type payloadReader interface {
	io.ReaderAt
	Size() int64
}

// newPayloadWriter returns a stream writer. The stream keeps only the key it
// derives, so the caller may clear key when this returns. It takes its
// buffer from stream's internal pool, sized to the object (a 4 KiB object
// holds about 4 KiB, not a 1 MiB segment) and wiped of plaintext before it
// is reused.
func newPayloadWriter(w io.Writer, key, aad []byte, seg, concurrency int) (io.WriteCloser, error) {
	return stream.NewEncryptWriter(w, key, aad, stream.WithSegmentSize(seg), stream.WithConcurrency(concurrency))
}

// newPayloadReaderAt opens a stream for random access; it authenticates the
// final segment.
func newPayloadReaderAt(r io.ReaderAt, size int64, key, aad []byte, seg int) (payloadReader, error) {
	return stream.NewDecryptReaderAt(r, size, key, aad, stream.WithSegmentSize(seg))
}

func isPayloadAuthError(err error) bool { return errors.Is(err, stream.ErrAuthentication) }
