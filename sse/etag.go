package sse

// S3 ETags (format version 3 and 4, FORMAT.md "ETags"). The plaintext MD5 is
// computed while the object is written (md5Pipe, beside the cipher) and
// stored only sealed under a key derived from the object key:
//
//	md5 key  = HKDF-SHA256(OEK, salt = "", info = bind("envkms/sse/v3/md5-key", "", bucket, object))
//	sealed   = nonce(12, random) || AES-256-GCM(md5 key, nonce, digest(16), aad)      44 bytes
//	aad      = bind("envkms/sse/v3/md5", "", bucket, object) || uint32_be(part) || form
//	form     = 0: MD5 of the plaintext (part 0: the object, else that part)
//	           1: a multipart object's MD5 of its part MD5s
//
// SSE-KMS and SSE-C answer an opaque ETag instead, stored in the clear:
//
//	etag key = HKDF-SHA256(OEK, salt = "", info = bind("envkms/sse/v3/etag-key", "", bucket, object))
//	opaque   = hex(HMAC-SHA256(etag key, digest)[:16])
//
// The kind is not bound, so Rekey keeps both. Parts of one upload share the
// OEK, so identical part content gets the same part ETag.

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/envkms/kms/internal/hkdf256"
)

const (
	md5Size         = md5.Size
	sealedMD5Size   = sealNonceSize + md5Size + 16
	formPlainMD5    = 0
	formCompositeMD = 1
	// pipeChunk is how much plaintext md5Pipe gathers before it hashes it
	// on another goroutine while the cipher encrypts it.
	pipeChunk = 256 << 10
	// pipeDirect: writes at least this large are hashed in parallel as they
	// are, without gathering.
	pipeDirect = 64 << 10
)

// etagKeys are the keys derived from an object key for its ETag entries.
// Both are HKDF-SHA256 of the object key with an empty salt and their own
// info, so they share one HKDF-Extract (prk); the opaque ETag's key is only
// expanded when it is used (SSE-KMS and SSE-C). An etagKeys is used by one
// goroutine.
type etagKeys struct {
	prk            [hkdf256.Size]byte // HKDF-Extract(salt = "", OEK)
	mac            []byte             // HMAC key of the opaque ETag, once expanded
	bucket, object string
	aead           cipher.AEAD // seals the MD5
	aad            []byte      // bind("envkms/sse/v3/md5", "", bucket, object)
}

func newETagKeys(oek []byte, bucket, object string) (*etagKeys, error) {
	// Extract and Expand are crypto/hkdf's two steps with fewer allocations
	// (see sealAEAD); the vectors of format v3 pin the bytes.
	k := &etagKeys{bucket: bucket, object: object, aad: bindingLabel("envkms/sse/v3/md5", "", bucket, object)}
	k.prk = hkdf256.Extract(oek, nil)
	mk := hkdf256.Expand(&k.prk, bindingLabel("envkms/sse/v3/md5-key", "", bucket, object))
	defer clear(mk[:])
	block, err := aes.NewCipher(mk[:])
	if err != nil {
		return nil, err
	}
	if k.aead, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *etagKeys) zero() {
	clear(k.prk[:])
	clear(k.mac)
}

func (k *etagKeys) md5AAD(part int, form byte) []byte {
	a := binary.BigEndian.AppendUint32(append([]byte(nil), k.aad...), uint32(part))
	return append(a, form)
}

func (k *etagKeys) sealMD5(digest []byte, part int, form byte) []byte {
	out := make([]byte, sealNonceSize, sealedMD5Size)
	_, _ = rand.Read(out)
	return k.aead.Seal(out, out, digest, k.md5AAD(part, form))
}

func (k *etagKeys) openMD5(sealed []byte, part int, form byte) ([]byte, error) {
	if len(sealed) != sealedMD5Size {
		return nil, errSealOpen
	}
	d, err := k.aead.Open(nil, sealed[:sealNonceSize], sealed[sealNonceSize:], k.md5AAD(part, form))
	if err != nil {
		return nil, errSealOpen
	}
	return d, nil
}

// opaque is the ETag of SSE-KMS and SSE-C content with MD5 digest.
func (k *etagKeys) opaque(digest []byte) string {
	if k.mac == nil {
		mac := hkdf256.Expand(&k.prk, bindingLabel("envkms/sse/v3/etag-key", "", k.bucket, k.object))
		k.mac = mac[:]
	}
	m := hmac.New(sha256.New, k.mac)
	m.Write(digest)
	return hex.EncodeToString(m.Sum(nil)[:md5Size])
}

// answersMD5 reports whether kind k answers the MD5 (or MD5 of part MD5s)
// as its ETag, as S3 does for SSE-S3 and unencrypted objects.
func answersMD5(k Kind) bool { return k == KindS3 || k == KindNone }

// validETag reports whether s is 32 lower-case hex digits, optionally
// followed by "-N" with N a part count (multipart).
func validETag(s string) bool {
	h, n, multi := strings.Cut(s, "-")
	if len(h) != 2*md5Size || strings.ToLower(h) != h {
		return false
	}
	if _, err := hex.DecodeString(h); err != nil {
		return false
	}
	if multi {
		c, err := strconv.Atoi(n)
		if err != nil || c < 1 || c > MaxPartNumber || strconv.Itoa(c) != n {
			return false
		}
	}
	return true
}

// legacyETag is the ETag of an object written before format version 3,
// which recorded none: derived from its sealed key, so stable while the
// object is, and unrelated to its plaintext.
func legacyETag(m *objectMeta) string {
	h := sha256.New()
	h.Write([]byte("envkms/sse/legacy-etag"))
	h.Write(m.sealed)
	e := hex.EncodeToString(h.Sum(nil)[:md5Size])
	if m.parts != nil {
		e += "-" + strconv.Itoa(len(m.parts))
	}
	return e
}

// ETag returns the ETag to answer for the stored object (or the uploaded
// part) whose metadata is meta: for HEAD, GET, listings, conditional
// requests, copy results and CompleteMultipartUpload, and for a part in
// ListParts and when CompleteMultipartUpload matches the client's part
// list. It is one of two places ETags come from; the other is
// ObjectWriter.ETag, for the PUT, UploadPart or copy that just wrote it. A
// server never derives an ETag from the stored bytes.
//
//   - SSE-S3: the hex MD5 of the plaintext (multipart: MD5 of the part MD5s,
//     "-N"), unsealed with the object key, so this calls the KMS unless the
//     bucket key is cached.
//   - SSE-KMS and SSE-C: the opaque ETag recorded in the clear; no key is
//     needed, also not the SSE-C key.
//   - Metadata written before format version 3: a value derived from the
//     sealed object key (FORMAT.md), with "-N" for N parts.
//   - No encryption entries: ("", ErrNotEncrypted): the server keeps the
//     MD5 of an unencrypted object itself (ObjectWriter.ETag).
//
// The MD5 of an encrypted object is never in an error or a log.
func (e *Encryptor) ETag(ctx context.Context, bucket, object string, meta map[string]string) (string, error) {
	m, err := decodeMeta(meta)
	if err != nil {
		return "", err
	}
	if m == nil {
		return "", errInvalidRequest(ErrNotEncrypted, msgNotEncrypted)
	}
	if m.etag != "" || m.sealedMD5 == nil {
		return m.etagWith(nil, bucket, object)
	}
	// SSE-S3 (m.etag is set for the other kinds): open the sealed MD5.
	oek, err := e.openKey(ctx, bucket, object, m, nil, msgEncryptedObject)
	if err != nil {
		return "", err
	}
	defer clear(oek)
	return m.etagWith(oek, bucket, object)
}

// etagWith returns m's ETag (see Encryptor.ETag); oek, the opened object
// key, is needed only to open a sealed MD5.
func (m *objectMeta) etagWith(oek []byte, bucket, object string) (string, error) {
	if m.etag != "" {
		return m.etag, nil
	}
	if m.sealedMD5 == nil {
		return legacyETag(m), nil
	}
	keys, err := newETagKeys(oek, bucket, object)
	if err != nil {
		return "", errTampered(err)
	}
	defer keys.zero()
	d, err := m.openSealedMD5(keys)
	if err != nil {
		return "", err
	}
	return m.md5ETag(d), nil
}

// openSealedMD5 opens m's sealed MD5 (of the object, a part, or a
// multipart object's composite).
func (m *objectMeta) openSealedMD5(keys *etagKeys) ([]byte, error) {
	form := byte(formPlainMD5)
	if m.parts != nil {
		form = formCompositeMD
	}
	d, err := keys.openMD5(m.sealedMD5, m.partNumber, form)
	if err != nil {
		return nil, errTampered(err)
	}
	return d, nil
}

// md5ETag formats digest as an MD5-style ETag of m ("-N" for multipart).
func (m *objectMeta) md5ETag(digest []byte) string {
	s := hex.EncodeToString(digest)
	if m.parts != nil {
		s += "-" + strconv.Itoa(len(m.parts))
	}
	return s
}

// etagEntries sets m's ETag entries for kind, from the digest (MD5 of the
// plaintext, or a multipart object's MD5 of part MD5s), and returns the
// ETag to answer.
func (m *objectMeta) etagEntries(keys *etagKeys, digest []byte) string {
	form := byte(formPlainMD5)
	if m.parts != nil {
		form = formCompositeMD
	}
	m.sealedMD5 = keys.sealMD5(digest, m.partNumber, form)
	m.etag = ""
	if answersMD5(m.kind) {
		return m.md5ETag(digest)
	}
	m.etag = keys.opaque(digest)
	if m.parts != nil {
		m.etag += "-" + strconv.Itoa(len(m.parts))
	}
	return m.etag
}

// md5Pipe hashes the plaintext going to dst with MD5, on another goroutine
// while dst (the cipher) takes the same bytes, so the hash costs wall time
// only where it is slower than the cipher. The first pipeInline bytes go
// through a pipeSmall buffer in the pipe itself and are hashed inline: a
// small object never takes a pipeChunk buffer from the pool, so a
// concurrent small PUT holds only its own size and a few KiB.
type md5Pipe struct {
	dst   io.Writer
	h     hash.Hash
	buf   []byte // gathered plaintext, not yet hashed or written: small[:n] or a pooled chunk
	big   bool   // buf is a pooled pipeChunk buffer
	early int64  // bytes flushed from small (hashed inline)
	pool  *sync.Pool
	wg    sync.WaitGroup
	small [pipeSmall]byte
}

// pipeSmall is the pipe's own buffer; pipeInline how many bytes of an
// object go through it, hashed inline, before it takes a pooled chunk.
const (
	pipeSmall  = 4 << 10
	pipeInline = 64 << 10
)

func newMD5Pipe(dst io.Writer, pool *sync.Pool) *md5Pipe {
	return &md5Pipe{dst: dst, h: md5.New(), pool: pool}
}

// both hashes b beside dst.Write(b) and returns when both are done.
func (p *md5Pipe) both(b []byte) (int, error) {
	p.wg.Add(1)
	go p.hash(b)
	n, err := p.dst.Write(b)
	p.wg.Wait()
	return n, err
}

func (p *md5Pipe) hash(b []byte) {
	p.h.Write(b)
	p.wg.Done()
}

// room returns buf's spare capacity: the small buffer first (flushed
// inline when full, for the first pipeInline bytes), then a pooled chunk
// holding what small had.
func (p *md5Pipe) room() ([]byte, error) {
	if p.buf == nil {
		p.buf = p.small[:0]
	}
	if len(p.buf) == cap(p.buf) && !p.big && p.early < pipeInline {
		p.early += int64(len(p.buf))
		if err := p.flushBuf(); err != nil {
			return nil, err
		}
	}
	if len(p.buf) == cap(p.buf) && !p.big {
		var nb []byte
		if v, ok := p.pool.Get().(*[]byte); ok {
			nb = (*v)[:0]
		} else {
			nb = make([]byte, 0, pipeChunk)
		}
		nb = append(nb, p.buf...)
		clear(p.small[:])
		p.buf, p.big = nb, true
	}
	return p.buf[len(p.buf):cap(p.buf)], nil
}

// flushBuf writes the gathered bytes (in parallel when there are enough).
func (p *md5Pipe) flushBuf() error {
	if len(p.buf) == 0 {
		return nil
	}
	var err error
	if len(p.buf) >= pipeDirect {
		_, err = p.both(p.buf)
	} else {
		p.h.Write(p.buf)
		_, err = p.dst.Write(p.buf)
	}
	clear(p.buf)
	p.buf = p.buf[:0]
	return err
}

// flushIfFull writes a full pooled chunk.
func (p *md5Pipe) flushIfFull() error {
	if p.big && len(p.buf) == cap(p.buf) {
		return p.flushBuf()
	}
	return nil
}

func (p *md5Pipe) Write(b []byte) (int, error) {
	n := len(b)
	if len(b) >= pipeDirect {
		if err := p.flushBuf(); err != nil {
			return 0, err
		}
		if _, err := p.both(b); err != nil {
			return 0, err
		}
		return n, nil
	}
	for len(b) > 0 {
		r, err := p.room()
		if err != nil {
			return 0, err
		}
		c := copy(r, b)
		p.buf = p.buf[:len(p.buf)+c]
		b = b[c:]
		if err := p.flushIfFull(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// ReadFrom reads src straight into the gathering buffer (io.Copy uses it).
func (p *md5Pipe) ReadFrom(src io.Reader) (int64, error) {
	var total int64
	for {
		r, rerr := p.room()
		if rerr != nil {
			return total, rerr
		}
		n, err := src.Read(r)
		p.buf = p.buf[:len(p.buf)+n]
		total += int64(n)
		if ferr := p.flushIfFull(); ferr != nil {
			return total, ferr
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// finish writes what is left and returns the MD5; it releases the buffer.
func (p *md5Pipe) finish() ([]byte, error) {
	err := p.flushBuf()
	p.release()
	return p.h.Sum(nil), err
}

func (p *md5Pipe) release() {
	clear(p.buf) // flushBuf cleared all it wrote; this is what was never written
	if p.big {
		b := p.buf[:0]
		p.pool.Put(&b)
	}
	p.buf, p.big = nil, false
}

// parseContentMD5 decodes a Content-MD5 header value.
func parseContentMD5(v string) ([]byte, error) {
	want, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(want) != md5Size {
		return nil, newError(ErrInvalidDigest, "InvalidDigest", http.StatusBadRequest, msgInvalidDigest)
	}
	return want, nil
}

func errBadDigest() *Error {
	return newError(ErrBadDigest, "BadDigest", http.StatusBadRequest, msgBadDigest)
}

func equalDigest(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

func hexETag(b []byte) string { return hex.EncodeToString(b) }

// compositeETagBytes decodes the 16 bytes of a part ETag (hex, no "-N").
func compositeETagBytes(etag string) ([]byte, bool) {
	if len(etag) != 2*md5Size {
		return nil, false
	}
	b, err := hex.DecodeString(etag)
	return b, err == nil && bytes.Equal([]byte(hex.EncodeToString(b)), []byte(etag))
}
