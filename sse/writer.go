package sse

import (
	"context"
	"io"
	"net/http"
)

// ObjectWriter encrypts one object (or one part) into the server's writer.
// Close must be called: it writes the final segment, without which the
// object does not decrypt. Errors of the server's writer are returned as is.
type ObjectWriter struct {
	w      io.WriteCloser
	meta   map[string]string
	closed bool
}

// Write encrypts p into the destination.
func (w *ObjectWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errClosed()
	}
	return w.w.Write(p)
}

// Close finishes the stream. It does not close the destination.
func (w *ObjectWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	return w.w.Close()
}

// Metadata returns the entries to store with the object: public SSE headers
// and internal entries (see FilterInternal). It is ready before the first
// Write; the caller may add its own entries to the map. It is empty for an
// unencrypted object and nil for a part.
func (w *ObjectWriter) Metadata() map[string]string { return w.meta }

func errClosed() *Error {
	return newError(ErrClosed, "InternalError", http.StatusInternalServerError, msgInternal)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// EncryptObject starts encrypting a new object bucket/object as req asks
// (nil or KindNone: a pass-through writer and empty metadata) and returns a
// writer into dst. Every call uses a fresh random object key.
func (e *Encryptor) EncryptObject(ctx context.Context, bucket, object string, req *Request, dst io.Writer) (*ObjectWriter, error) {
	oek, meta, err := e.newObjectKey(ctx, bucket, object, req)
	if err != nil {
		return nil, err
	}
	if oek == nil {
		return &ObjectWriter{w: nopCloser{dst}, meta: meta}, nil
	}
	defer clear(oek)
	w, err := newPayloadWriter(dst, oek, streamAAD(bucket, object, 0), e.segmentSize, e.concurrency)
	if err != nil {
		return nil, err
	}
	return &ObjectWriter{w: w, meta: meta}, nil
}

// newObjectKey is the prologue of EncryptObject and InitiateMultipart: it
// validates req, draws a fresh object key and seals it as req asks,
// returning the key (nil for nil or KindNone, with empty metadata) and the
// metadata to store. The caller clears the key.
func (e *Encryptor) newObjectKey(ctx context.Context, bucket, object string, req *Request) ([]byte, map[string]string, error) {
	if req != nil {
		if err := req.validate(); err != nil {
			return nil, nil, err
		}
	}
	if req == nil || req.Kind == KindNone {
		return nil, map[string]string{}, nil
	}
	oek := newOEK()
	m, err := e.sealFor(ctx, bucket, object, req, oek, e.segmentSize)
	if err != nil {
		clear(oek)
		return nil, nil, err
	}
	meta := make(map[string]string, 12)
	m.encode(meta)
	return oek, meta, nil
}
