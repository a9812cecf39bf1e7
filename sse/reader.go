package sse

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sort"
	"sync"

	"github.com/envkms/kms/stream"
)

var (
	errSizeMismatch = errors.New("stored size does not match the recorded parts (truncated or extended)")
	errPartSize     = errors.New("part size does not match the recorded size")
)

// ObjectReader gives random access to the plaintext of one stored object,
// decrypting only the segments a read touches. It is safe for concurrent
// use. A read never returns bytes of a segment that failed authentication.
type ObjectReader struct {
	src            io.ReaderAt
	size           int64
	bucket, object string
	seg            int // ciphertext segment size; 0: not encrypted
	concurrency    int
	parts          []*objectPart
	hdr            http.Header
	etag           string

	mu     sync.Mutex
	oek    *[oekSize]byte // for parts opened lazily; nil once all are open or closed (a pointer, so %v of r prints no key)
	closed bool
}

// objectPart is one stream of the object (the only one unless multipart).
type objectPart struct {
	number              int   // 0 for a single-part object
	plainOff, plainSize int64 // in the object's plaintext
	cipherOff, cipherSz int64 // in the stored bytes

	mu  sync.Mutex
	ra  io.ReaderAt // opened stream (or raw bytes when not encrypted)
	err error       // sticky authentication failure
}

// DecryptObject opens the stored object bucket/object for reading. meta is
// the stored metadata (from EncryptObject or CompleteMultipart), key the
// SSE-C key from ParseGet (nil if none), src the stored bytes and size their
// length. An object without encryption metadata is returned as is. Key,
// authentication and truncation problems are reported here, before any
// byte is read, as far as they can be: a single-part object's final segment
// and every part's recorded size are checked at open.
func (e *Encryptor) DecryptObject(ctx context.Context, bucket, object string, meta map[string]string, key *CustomerKey, src io.ReaderAt, size int64) (*ObjectReader, error) {
	m, err := decodeMeta(meta)
	if err != nil {
		return nil, err
	}
	r := &ObjectReader{src: src, bucket: bucket, object: object, concurrency: e.concurrency}
	if m == nil {
		if key != nil {
			return nil, errNotApplicable()
		}
		r.size = size
		r.hdr = http.Header{}
		r.parts = []*objectPart{{plainSize: size, cipherSz: size, ra: io.NewSectionReader(src, 0, size)}}
		return r, nil
	}
	oek, err := e.openKey(ctx, bucket, object, m, key, msgEncryptedObject)
	if err != nil {
		return nil, err
	}
	if r.etag, err = m.etagWith(oek, bucket, object); err != nil {
		clear(oek)
		return nil, err
	}
	r.seg = m.segmentSize
	r.hdr = responseHeaders(m, key)
	r.oek = (*[oekSize]byte)(oek) // openKey returns exactly oekSize bytes
	if m.parts == nil {
		r.parts = []*objectPart{{cipherSz: size}}
		_, err := r.stream(r.parts[0])
		r.mu.Lock()
		clear(r.oek[:]) // the only stream is open (or failed): drop the key
		r.oek = nil
		r.mu.Unlock()
		if err != nil {
			return nil, err
		}
		r.size = r.parts[0].plainSize
		return r, nil
	}
	var plainOff, cipherOff int64
	for _, p := range m.parts {
		cs, err := stream.EncryptedSize(p.Size, r.seg)
		if err != nil {
			r.Close()
			return nil, errCorrupt("part too large for the segment size")
		}
		r.parts = append(r.parts, &objectPart{number: p.Number, plainOff: plainOff, plainSize: p.Size, cipherOff: cipherOff, cipherSz: cs})
		plainOff += p.Size
		cipherOff += cs
	}
	if cipherOff != size {
		r.Close()
		return nil, errTampered(errSizeMismatch)
	}
	r.size = plainOff
	return r, nil
}

// stream returns the opened stream of part p, opening it on first use.
func (r *ObjectReader) stream(p *objectPart) (io.ReaderAt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ra != nil || p.err != nil {
		return p.ra, p.err
	}
	r.mu.Lock()
	if r.closed || r.oek == nil {
		r.mu.Unlock()
		return nil, errClosed()
	}
	oek := append([]byte(nil), r.oek[:]...)
	r.mu.Unlock()
	defer clear(oek)
	section := io.NewSectionReader(r.src, p.cipherOff, p.cipherSz)
	ra, err := newPayloadReaderAt(section, p.cipherSz, oek, streamAAD(r.bucket, r.object, p.number), r.seg)
	switch {
	case err != nil && isPayloadAuthError(err):
		p.err = errTampered(err)
		return nil, p.err
	case err != nil:
		return nil, err // an I/O error of src: not sticky
	case p.number == 0:
		p.plainSize = ra.Size()
	case ra.Size() != p.plainSize:
		p.err = errTampered(errPartSize)
		return nil, p.err
	}
	p.ra = ra
	return ra, nil
}

// Size returns the plaintext size.
func (r *ObjectReader) Size() int64 { return r.size }

// ETag returns the ETag to answer for the object, as Encryptor.ETag does,
// from the object key DecryptObject has already opened (so a GET opens it
// once); "" for an object without encryption metadata, whose ETag the
// server keeps itself.
func (r *ObjectReader) ETag() string { return r.etag }

// Header returns the SSE response headers for GET (a fresh copy).
func (r *ObjectReader) Header() http.Header { return r.hdr.Clone() }

// Close zeroes the object key held by r. Reads of parts not yet opened fail
// afterwards.
func (r *ObjectReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.oek != nil {
		clear(r.oek[:])
	}
	r.oek = nil
	r.closed = true
	return nil
}

// ReadAt reads plaintext with io.ReaderAt semantics. An authentication
// failure is an *Error wrapping ErrTampered.
func (r *ObjectReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errInvalidArgument("negative offset")
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= r.size {
			return n, io.EOF
		}
		part := r.partAt(pos)
		ra, err := r.stream(part)
		if err != nil {
			return n, err
		}
		want := min(int64(len(p)-n), part.plainOff+part.plainSize-pos)
		got, err := ra.ReadAt(p[n:n+int(want)], pos-part.plainOff)
		n += got
		if err != nil && !(err == io.EOF && int64(got) == want) {
			if isPayloadAuthError(err) || err == io.EOF {
				return n, errTampered(err)
			}
			return n, err
		}
	}
	return n, nil
}

// partAt returns the part holding plaintext offset pos < r.size.
func (r *ObjectReader) partAt(pos int64) *objectPart {
	i := sort.Search(len(r.parts), func(i int) bool {
		p := r.parts[i]
		return p.plainOff+p.plainSize > pos
	})
	return r.parts[i]
}

// Head checks the request's SSE-C key against an object (SSE-C: the key must
// open the sealed object key; no KMS call for SSE-S3/SSE-KMS) and returns the
// SSE response headers for HEAD.
func (e *Encryptor) Head(ctx context.Context, bucket, object string, meta map[string]string, key *CustomerKey) (http.Header, error) {
	m, err := decodeMeta(meta)
	if err != nil {
		return nil, err
	}
	if m == nil {
		if key != nil {
			return nil, errNotApplicable()
		}
		return http.Header{}, nil
	}
	if m.kind == KindC {
		oek, err := e.openKey(ctx, bucket, object, m, key, msgEncryptedObject)
		if err != nil {
			return nil, err
		}
		clear(oek)
	} else if key != nil {
		return nil, errNotApplicable()
	}
	return responseHeaders(m, key), nil
}

// ResponseHeaders returns the SSE response headers of an object with meta
// (empty when it is not encrypted); key, if given, adds the SSE-C key MD5.
// It reads only the internal entries, never client-settable ones.
func ResponseHeaders(meta map[string]string, key *CustomerKey) http.Header {
	m, err := decodeMeta(meta)
	if err != nil || m == nil {
		return http.Header{}
	}
	return responseHeaders(m, key)
}

func responseHeaders(m *objectMeta, key *CustomerKey) http.Header {
	h := http.Header{}
	switch m.kind {
	case KindS3:
		h.Set(HeaderSSE, string(KindS3))
	case KindKMS:
		h.Set(HeaderSSE, string(KindKMS))
		h.Set(HeaderKMSKeyID, m.kmsKeyID)
		if m.bucketKey {
			h.Set(HeaderBucketKeyEnabled, "true")
		}
		if len(m.kmsContext) > 0 {
			h.Set(HeaderKMSContext, encodeContext(m.kmsContext))
		}
	case KindC:
		h.Set(HeaderCustomerAlg, algorithmAES256)
		if key != nil {
			h.Set(HeaderCustomerKeyMD5, key.KeyMD5())
		}
	}
	return h
}

// Operation names an S3 operation whose response carries SSE headers, for
// OperationHeaders.
type Operation int

// Operations with SSE response headers.
const (
	OpPutObject               Operation = iota // also GetObject, HeadObject, CreateMultipartUpload
	OpCopyObject                               // CopyObject (the destination's headers)
	OpUploadPart                               // UploadPart
	OpUploadPartCopy                           // UploadPartCopy (the destination upload's headers)
	OpCompleteMultipartUpload                  // CompleteMultipartUpload
)

// OperationHeaders returns the SSE response headers of op for an object, a
// part or an upload with metadata meta, as S3 returns them (key: the
// request's SSE-C key, for the destination in copies):
//
//	operation                           SSE  KMS key id  context  bucket key  customer algorithm, key MD5
//	PutObject, CopyObject, Create...     ✓       ✓          ✓         ✓                  ✓
//	UploadPart, UploadPartCopy           ✓       ✓          –         ✓                  ✓
//	CompleteMultipartUpload              ✓       ✓          –         ✓                  –
//
// (S3's CompleteMultipartUpload takes no SSE-C headers and returns none.)
func OperationHeaders(op Operation, meta map[string]string, key *CustomerKey) http.Header {
	h := ResponseHeaders(meta, key)
	switch op {
	case OpUploadPart, OpUploadPartCopy:
		h.Del(HeaderKMSContext)
	case OpCompleteMultipartUpload:
		h.Del(HeaderKMSContext)
		h.Del(HeaderCustomerAlg)
		h.Del(HeaderCustomerKeyMD5)
	}
	return h
}
