package sse

// Glue to package stream: the payload format (design §4).

import (
	"errors"
	"io"

	"github.com/envkms/kms/stream"
)

// defaultSegmentSize is the ciphertext segment size of new objects.
const defaultSegmentSize = stream.DefaultSegmentSize

// Layout constants of the stream format, used to align range reads to
// segments.
const (
	payloadHeaderSize = stream.HeaderSize
	payloadTagSize    = 16
)

// payloadReader is a decrypting io.ReaderAt over one stream.
type payloadReader interface {
	io.ReaderAt
	Size() int64
}

// newPayloadWriter returns a stream writer. The stream keeps only the key it
// derives, so the caller may clear key when this returns.
func newPayloadWriter(w io.Writer, key, aad []byte, seg, concurrency int, buffers *stream.BufferPool) (io.WriteCloser, error) {
	return stream.NewEncryptWriter(w, key, aad, stream.WithSegmentSize(seg), stream.WithConcurrency(concurrency), stream.WithBufferPool(buffers))
}

// newPayloadReaderAt opens a stream for random access; it authenticates the
// final segment.
func newPayloadReaderAt(r io.ReaderAt, size int64, key, aad []byte, seg int) (payloadReader, error) {
	return stream.NewDecryptReaderAt(r, size, key, aad, stream.WithSegmentSize(seg))
}

func isPayloadAuthError(err error) bool { return errors.Is(err, stream.ErrAuthentication) }

// segmentBoundary returns the end of the plaintext segment holding local
// offset off of one stream with ciphertext segment size seg.
func segmentBoundary(off int64, seg int) int64 {
	first := int64(seg - payloadHeaderSize - payloadTagSize)
	if off < first {
		return first
	}
	rest := int64(seg - payloadTagSize)
	return first + ((off-first)/rest+1)*rest
}
