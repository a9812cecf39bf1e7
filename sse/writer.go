package sse

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
)

// ObjectWriter encrypts one object (or one part) into the server's writer,
// computing its ETag on the way (the MD5 of the plaintext, hashed beside the
// cipher). Close must be called: it writes the final segment, without which
// the object does not decrypt, and records the ETag. Errors of the server's
// writer are returned as is.
type ObjectWriter struct {
	w      io.WriteCloser
	pipe   *md5Pipe
	meta   map[string]string
	m      *objectMeta // nil: not encrypted
	keys   *etagKeys   // nil: not encrypted
	want   []byte      // Content-MD5, if any
	etag   string
	err    error
	closed bool
	wrote  bool
}

func (e *Encryptor) newObjectWriter(w io.WriteCloser, meta map[string]string, m *objectMeta, keys *etagKeys) *ObjectWriter {
	ow := &ObjectWriter{w: w, meta: meta, m: m, keys: keys}
	ow.pipe = newMD5Pipe(w, &e.pipeBufs)
	return ow
}

// ExpectContentMD5 makes Close check the plaintext against v, the value of
// the request's Content-MD5 header (base64 of 16 bytes): a mismatch is
// ErrBadDigest (BadDigest, 400), a malformed v ErrInvalidDigest
// (InvalidDigest, 400). Call it before the first Write. The server then
// needs no MD5 of its own: there is one MD5 pass over the data.
func (w *ObjectWriter) ExpectContentMD5(v string) error {
	if w.closed || w.wrote {
		return errInvalidArgument(msgBadRequest)
	}
	want, err := parseContentMD5(v)
	if err != nil {
		return err
	}
	w.want = want
	return nil
}

// Write encrypts p into the destination.
func (w *ObjectWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errClosed()
	}
	w.wrote = true
	return w.pipe.Write(p)
}

// ReadFrom encrypts everything src yields (io.Copy uses it), reading into
// the writer's own buffer.
func (w *ObjectWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.closed {
		return 0, errClosed()
	}
	w.wrote = true
	return w.pipe.ReadFrom(src)
}

// Close finishes the stream and records the ETag. It does not close the
// destination. With ExpectContentMD5, a plaintext that does not match is
// ErrBadDigest: the stored bytes must then be discarded.
func (w *ObjectWriter) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	digest, err := w.pipe.finish()
	if cerr := w.w.Close(); err == nil {
		err = cerr
	}
	if w.keys != nil {
		defer w.keys.zero()
	}
	if err != nil {
		w.err = err
		return err
	}
	if w.want != nil && !equalDigest(digest, w.want) {
		w.err = errBadDigest()
		return w.err
	}
	if w.m == nil {
		w.etag = hex.EncodeToString(digest)
		return nil
	}
	w.etag = w.m.etagEntries(w.keys, digest)
	w.m.encode(w.meta)
	return nil
}

// ETag returns the ETag to answer for the PUT, UploadPart or copy that
// wrote this object or part, once Close succeeded ("" before): the hex MD5
// of the plaintext for SSE-S3 and unencrypted objects and parts, an opaque
// value for SSE-KMS and SSE-C. Encryptor.ETag returns the same value later
// from the stored metadata. For an unencrypted object the server stores it
// itself (it is not in Metadata).
func (w *ObjectWriter) ETag() string {
	if !w.closed || w.err != nil {
		return ""
	}
	return w.etag
}

// Metadata returns the entries to store with the object, or with the part:
// public SSE headers and internal entries (see FilterInternal). The ETag
// entries are added by Close, so store the map Metadata returns after Close.
// The caller may add its own entries to the map. It is empty for an
// unencrypted object or part. A part's map is self-contained: pass it in
// Part.Meta to Encryptor.CompleteUpload and to Encryptor.ETag.
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
	oek, m, meta, err := e.newObjectKey(ctx, bucket, object, req)
	if err != nil {
		return nil, err
	}
	if oek == nil {
		return e.newObjectWriter(nopCloser{dst}, meta, nil, nil), nil
	}
	defer clear(oek)
	keys, err := newETagKeys(oek, bucket, object)
	if err != nil {
		return nil, errTampered(err) // unreachable: HKDF and AES accept 32-byte keys
	}
	w, err := newPayloadWriter(dst, oek, streamAAD(bucket, object, 0), e.segmentSize, e.concurrency)
	if err != nil {
		keys.zero()
		return nil, err
	}
	return e.newObjectWriter(w, meta, m, keys), nil
}

// newObjectKey is the prologue of EncryptObject and InitiateMultipart: it
// validates req, draws a fresh object key and seals it as req asks,
// returning the key (nil for nil or KindNone, with empty metadata) and the
// metadata to store. The caller clears the key.
func (e *Encryptor) newObjectKey(ctx context.Context, bucket, object string, req *Request) ([]byte, *objectMeta, map[string]string, error) {
	if req != nil {
		if err := req.validate(); err != nil {
			return nil, nil, nil, err
		}
	}
	if req == nil || req.Kind == KindNone {
		return nil, nil, map[string]string{}, nil
	}
	oek := newOEK()
	m, err := e.sealFor(ctx, bucket, object, req, oek, e.segmentSize)
	if err != nil {
		clear(oek)
		return nil, nil, nil, err
	}
	m.withETags = true
	meta := make(map[string]string, 14)
	m.encode(meta)
	return oek, m, meta, nil
}
