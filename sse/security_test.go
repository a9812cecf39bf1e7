package sse

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/stream"
	"github.com/stretchr/testify/require"
)

var ctx = context.Background()

// TestSwapObjectsDetected: two objects' stored bytes and metadata swapped
// (or moved to another path) never decrypt.
func TestSwapObjectsDetected(t *testing.T) {
	e, _ := newTestEncryptor(t)
	key := testKey(t)
	for name, req := range requests(key) {
		if req.Kind == KindNone {
			continue
		}
		t.Run(name, func(t *testing.T) {
			var k *CustomerKey
			if req.Kind == KindC {
				k = key
			}
			a, b := randBytes(700), randBytes(700)
			sa, ma := put(t, e, "bkt", "a", req, a)
			sb, mb := put(t, e, "bkt", "b", req, b)
			// Data and metadata of b served at a.
			_, err := get(e, "bkt", "a", mb, k, sb)
			requireDetected(t, req.Kind, err)
			// Same object name in another bucket.
			_, err = get(e, "other", "b", mb, k, sb)
			requireDetected(t, req.Kind, err)
			// Data swapped, metadata kept.
			_, err = get(e, "bkt", "a", ma, k, sb)
			requireSSEError(t, err, "InternalError", http.StatusInternalServerError, ErrTampered)
			// Unchanged still works.
			got, err := get(e, "bkt", "a", ma, k, sa)
			require.NoError(t, err)
			require.Equal(t, a, got)
		})
	}
}

// requireDetected: moved metadata is a tamper error, or for SSE-C (where a
// wrong key and moved metadata can't be told apart) AccessDenied.
func requireDetected(t *testing.T, kind Kind, err error) {
	t.Helper()
	if kind == KindC {
		requireSSEError(t, err, "AccessDenied", http.StatusForbidden, ErrWrongCustomerKey)
		return
	}
	requireSSEError(t, err, "InternalError", http.StatusInternalServerError, ErrTampered)
}

func TestSwapPartsDetected(t *testing.T) {
	e, _ := newTestEncryptor(t)
	_, stored, meta := multipartObject(t, e, "b", "o", &Request{Kind: KindS3}, nil, []int{500, 500, 500})
	n := len(stored) / 3
	swapped := append(append(append([]byte{}, stored[n:2*n]...), stored[:n]...), stored[2*n:]...)
	_, err := get(e, "b", "o", meta, nil, swapped)
	requireSSEError(t, err, "InternalError", http.StatusInternalServerError, ErrTampered)

	// Renumbering parts in the metadata.
	renum := maps.Clone(meta)
	renum[metaParts] = "2-6:500"
	renum[metaParts] = "2:500,4:500,6:500"
	_, err = get(e, "b", "o", renum, nil, stored)
	requireSSEError(t, err, "InternalError", http.StatusInternalServerError, ErrTampered)

	// A part of another upload of the same object (same number, other key).
	_, stored2, _ := multipartObject(t, e, "b", "o", &Request{Kind: KindS3}, nil, []int{500, 500, 500})
	mixed := append(append([]byte{}, stored2[:n]...), stored[n:]...)
	_, err = get(e, "b", "o", meta, nil, mixed)
	requireSSEError(t, err, "InternalError", http.StatusInternalServerError, ErrTampered)
}

// TestTamperEveryByte flips each stored byte of a single-part and a
// multipart object: every read fails, none returns wrong plaintext.
func TestTamperEveryByte(t *testing.T) {
	e, _ := newTestEncryptor(t)
	key := testKey(t)
	data := randBytes(600)
	single, sm := put(t, e, "b", "s", &Request{Kind: KindC, CustomerKey: key}, data)
	_, multi, mm := multipartObject(t, e, "b", "m", &Request{Kind: KindKMS}, nil, []int{300, 200})
	for _, c := range []struct {
		name, obj string
		stored    []byte
		meta      map[string]string
		key       *CustomerKey
	}{{"single", "s", single, sm, key}, {"multipart", "m", multi, mm, nil}} {
		t.Run(c.name, func(t *testing.T) {
			for i := range c.stored {
				bad := bytes.Clone(c.stored)
				bad[i] ^= 0x01
				_, err := get(e, "b", c.obj, c.meta, c.key, bad)
				requireSSEError(t, err, "InternalError", http.StatusInternalServerError, ErrTampered)
			}
		})
	}
}

// TestTruncation: a stored object cut at any length, or extended, never
// reads as a clean object.
func TestTruncation(t *testing.T) {
	e, _ := newTestEncryptor(t)
	data := randBytes(3*testSegment + 10)
	single, sm := put(t, e, "b", "s", &Request{Kind: KindS3}, data)
	_, multi, mm := multipartObject(t, e, "b", "m", &Request{Kind: KindS3}, nil, []int{300, 300})
	for _, c := range []struct {
		obj    string
		stored []byte
		meta   map[string]string
	}{{"s", single, sm}, {"m", multi, mm}} {
		for n := 0; n < len(c.stored); n++ {
			_, err := get(e, "b", c.obj, c.meta, nil, c.stored[:n])
			requireSSEError(t, err, "InternalError", http.StatusInternalServerError, ErrTampered)
			_, err = DecryptedSize(c.meta, int64(n))
			if c.obj == "m" {
				require.ErrorIs(t, err, ErrTampered)
			}
		}
		_, err := get(e, "b", c.obj, c.meta, nil, append(bytes.Clone(c.stored), 0))
		requireSSEError(t, err, "InternalError", http.StatusInternalServerError, ErrTampered)
	}
}

func TestCustomerKeyErrors(t *testing.T) {
	e, _ := newTestEncryptor(t)
	key, wrong := testKey(t), testKey(t)
	stored, meta := put(t, e, "b", "o", &Request{Kind: KindC, CustomerKey: key}, []byte("secret"))
	s3stored, s3meta := put(t, e, "b", "p", &Request{Kind: KindS3}, []byte("x"))
	plainStored, plainMeta := put(t, e, "b", "q", nil, []byte("plain"))

	// GET
	_, err := get(e, "b", "o", meta, wrong, stored)
	requireSSEError(t, err, "AccessDenied", http.StatusForbidden, ErrWrongCustomerKey)
	_, err = get(e, "b", "o", meta, nil, stored)
	requireSSEError(t, err, "InvalidRequest", http.StatusBadRequest, ErrMissingCustomerKey)
	_, err = get(e, "b", "p", s3meta, key, s3stored)
	requireSSEError(t, err, "InvalidRequest", http.StatusBadRequest, ErrNotApplicable)
	_, err = get(e, "b", "q", plainMeta, key, plainStored)
	requireSSEError(t, err, "InvalidRequest", http.StatusBadRequest, ErrNotApplicable)
	got, err := get(e, "b", "q", plainMeta, nil, plainStored)
	require.NoError(t, err)
	require.Equal(t, "plain", string(got))

	// HEAD
	_, err = e.Head(ctx, "b", "o", meta, wrong)
	requireSSEError(t, err, "AccessDenied", http.StatusForbidden, ErrWrongCustomerKey)
	_, err = e.Head(ctx, "b", "o", meta, nil)
	requireSSEError(t, err, "InvalidRequest", http.StatusBadRequest, ErrMissingCustomerKey)
	_, err = e.Head(ctx, "b", "p", s3meta, key)
	requireSSEError(t, err, "InvalidRequest", http.StatusBadRequest, ErrNotApplicable)
	h, err := e.Head(ctx, "b", "o", meta, key)
	require.NoError(t, err)
	require.Equal(t, "AES256", h.Get(HeaderCustomerAlg))
	require.Equal(t, key.KeyMD5(), h.Get(HeaderCustomerKeyMD5))

	// UploadPart
	mp, err := e.InitiateMultipart(ctx, "b", "m", &Request{Kind: KindC, CustomerKey: key})
	require.NoError(t, err)
	_, err = e.EncryptPart(ctx, "b", "m", mp, nil, 1, &bytes.Buffer{})
	requireSSEError(t, err, "InvalidRequest", http.StatusBadRequest, ErrMissingCustomerKey)
	_, err = e.EncryptPart(ctx, "b", "m", mp, wrong, 1, &bytes.Buffer{})
	requireSSEError(t, err, "AccessDenied", http.StatusForbidden, ErrWrongCustomerKey)
	for _, pn := range []int{0, -1, 10001} {
		_, err = e.EncryptPart(ctx, "b", "m", mp, key, pn, &bytes.Buffer{})
		requireSSEError(t, err, "InvalidArgument", http.StatusBadRequest, ErrInvalidArgument)
	}
	s3mp, err := e.InitiateMultipart(ctx, "b", "m", &Request{Kind: KindS3})
	require.NoError(t, err)
	_, err = e.EncryptPart(ctx, "b", "m", s3mp, key, 1, &bytes.Buffer{})
	requireSSEError(t, err, "InvalidRequest", http.StatusBadRequest, ErrNotApplicable)
}

func TestKMSErrors(t *testing.T) {
	e, km := newTestEncryptor(t)
	_, err := e.EncryptObject(ctx, "b", "o", &Request{Kind: KindKMS, KMSKeyID: "missing"}, &bytes.Buffer{})
	requireSSEError(t, err, "KMS.NotFoundException", http.StatusBadRequest, ErrKMSKeyNotFound)
	km.disabled["other"] = true
	_, err = e.InitiateMultipart(ctx, "b", "o", &Request{Kind: KindKMS, KMSKeyID: "other"})
	requireSSEError(t, err, "KMS.DisabledException", http.StatusBadRequest, ErrKMSKeyDisabled)
	_, err = e.EncryptObject(ctx, "b", "o", &Request{Kind: KindKMS, KMSContext: map[string]string{contextKeyARN: "arn:aws:s3:::b/other"}}, &bytes.Buffer{})
	requireSSEError(t, err, "InvalidArgument", http.StatusBadRequest, ErrInvalidArgument)
	// The object's own ARN in the context is accepted (and not duplicated).
	stored, meta := put(t, e, "b", "o", &Request{Kind: KindKMS, KMSContext: map[string]string{contextKeyARN: "arn:aws:s3:::b/o", "x": "y"}}, []byte("hi"))
	got, err := get(e, "b", "o", meta, nil, stored)
	require.NoError(t, err)
	require.Equal(t, "hi", string(got))

	noKMS, err := New(nil)
	require.NoError(t, err)
	_, err = noKMS.EncryptObject(ctx, "b", "o", &Request{Kind: KindS3}, &bytes.Buffer{})
	requireSSEError(t, err, "ServiceUnavailable", http.StatusServiceUnavailable, ErrKMS)
	_, err = get(noKMS, "b", "o", meta, nil, stored)
	requireSSEError(t, err, "ServiceUnavailable", http.StatusServiceUnavailable, ErrKMS)
	// SSE-C works without a KMS.
	key := testKey(t)
	stored, meta = put(t, noKMS, "b", "c", &Request{Kind: KindC, CustomerKey: key}, []byte("c"))
	got, err = get(noKMS, "b", "c", meta, key, stored)
	require.NoError(t, err)
	require.Equal(t, "c", string(got))
}

// TestMetadataInjection: a request carrying internal-looking headers (the
// attack that made objects unreadable on other servers) cannot write
// internal entries once the server calls StripInternalHeaders.
func TestMetadataInjection(t *testing.T) {
	e, _ := newTestEncryptor(t)
	evil := http.Header{}
	evil.Set("X-Envkms-Internal-Version", "2")
	evil.Set("x-envkms-internal-sealed-key", "AAAA")
	evil["x-envkms-INTERNAL-kind"] = []string{"SSE-C"} // non-canonical spelling
	evil.Set("X-Amz-Meta-X-Envkms-Internal-Parts", "1:1")
	evil.Set("X-Amz-Meta-Color", "blue")
	evil.Set("Content-Type", "text/plain")

	// A naive server that copies request headers into the object metadata.
	store := func(h http.Header, meta map[string]string) map[string]string {
		out := maps.Clone(meta)
		for k, v := range h {
			if strings.HasPrefix(strings.ToLower(k), "x-") {
				out[strings.TrimPrefix(k, "X-Amz-Meta-")] = v[0]
			}
		}
		return out
	}
	data := []byte("payload")
	stored, meta := put(t, e, "b", "o", &Request{Kind: KindS3}, data)

	// Without stripping the attack works: the object becomes unreadable.
	_, err := get(e, "b", "o", store(evil, meta), nil, stored)
	require.Error(t, err)

	StripInternalHeaders(evil)
	for k := range evil {
		require.False(t, IsInternal(k), k)
		require.False(t, IsInternal(strings.TrimPrefix(k, "X-Amz-Meta-")), k)
	}
	require.Equal(t, "blue", evil.Get("X-Amz-Meta-Color"))
	require.Equal(t, "text/plain", evil.Get("Content-Type"))
	got, err := get(e, "b", "o", store(evil, meta), nil, stored)
	require.NoError(t, err)
	require.Equal(t, data, got)

	// Responses never show internal entries.
	pub := FilterInternal(meta)
	for k := range pub {
		require.False(t, IsInternal(k))
	}
	require.Equal(t, "AES256", pub[HeaderSSE])
	for _, n := range []string{"X-Envkms-Internal-", "x-envkms-internal-kind", "X-ENVKMS-INTERNAL-X"} {
		require.True(t, IsInternal(n), n)
	}
	for _, n := range []string{"X-Envkms-Interna", "X-Amz-Meta-X-Envkms-Internal-A", ""} {
		require.False(t, IsInternal(n), n)
	}
}

// TestPublicEntriesNotTrusted: client-visible public entries don't steer
// decryption or response headers.
func TestPublicEntriesNotTrusted(t *testing.T) {
	e, _ := newTestEncryptor(t)
	stored, meta := put(t, e, "b", "o", &Request{Kind: KindKMS, KMSKeyID: "other"}, []byte("x"))
	m := maps.Clone(meta)
	m[HeaderSSE] = "AES256"
	m[HeaderKMSKeyID] = "evil\r\nX-Injected: 1"
	h := ResponseHeaders(m, nil)
	require.Equal(t, "aws:kms", h.Get(HeaderSSE))
	require.Equal(t, "other", h.Get(HeaderKMSKeyID))
	_, err := get(e, "b", "o", m, nil, stored)
	require.NoError(t, err)
}

// TestNoKeyMaterialLeaks looks for the customer key, object keys and data
// keys in metadata, stored bytes, errors and formatted values.
func TestNoKeyMaterialLeaks(t *testing.T) {
	e, km := newTestEncryptor(t)
	rec := &recordingKMS{fakeKMS: km}
	e.km = rec
	raw := randBytes(32)
	key, _ := NewCustomerKey(raw)
	wrong := testKey(t)

	var secrets [][]byte
	var texts []string
	collect := func(meta map[string]string, stored []byte, errs ...error) {
		for k, v := range meta {
			texts = append(texts, k+"="+v)
		}
		texts = append(texts, string(stored))
		for _, err := range errs {
			if err != nil {
				texts = append(texts, err.Error(), fmt.Sprintf("%v|%+v|%#v", err, err, err))
			}
		}
	}
	for name, req := range requests(key) {
		stored, meta := put(t, e, "b", name, req, []byte("data"))
		_, err1 := get(e, "b", name, meta, wrong, stored)
		_, err2 := get(e, "b", name, meta, nil, stored[:len(stored)-1])
		_, err3 := e.Rekey(ctx, "b", name, meta, wrong, &Request{Kind: KindS3})
		collect(meta, stored, err1, err2, err3)
		if m, err := decodeMeta(meta); err == nil && m != nil {
			oek, err := e.openKey(ctx, "b", name, m, map[bool]*CustomerKey{true: key}[req.Kind == KindC], "")
			require.NoError(t, err)
			secrets = append(secrets, oek)
		}
	}
	_, err := ParsePut(ssecHeaders(raw), false)
	collect(nil, nil, err)
	h := ssecHeaders(raw)
	h.Set(HeaderCustomerKeyMD5, "AAAAAAAAAAAAAAAAAAAAAA==")
	_, err = ParsePut(h, true)
	collect(nil, nil, err)
	texts = append(texts, fmt.Sprintf("%v %+v %#v %s %x", key, key, key, key, key))
	req := &Request{Kind: KindC, CustomerKey: key}
	texts = append(texts, fmt.Sprintf("%v %+v %#v", req, *req, req))

	secrets = append(secrets, raw)
	secrets = append(secrets, rec.plaintexts...)
	require.NotEmpty(t, rec.plaintexts)
	all := strings.Join(texts, "\n")
	for _, s := range secrets {
		for _, enc := range []string{string(s), hex.EncodeToString(s), base64.StdEncoding.EncodeToString(s),
			base64.RawStdEncoding.EncodeToString(s), base64.URLEncoding.EncodeToString(s), fmt.Sprint(s)} {
			require.NotContains(t, all, enc)
		}
	}
	// Nor the key's MD5 (stored metadata would allow linking objects).
	require.NotContains(t, all, "="+key.KeyMD5())
}

type recordingKMS struct {
	*fakeKMS
	plaintexts [][]byte
}

func (r *recordingKMS) GenerateDataKey(c context.Context, id string, ec backend.EncryptionContext) (backend.DataKey, error) {
	dk, err := r.fakeKMS.GenerateDataKey(c, id, ec)
	if err == nil {
		r.plaintexts = append(r.plaintexts, bytes.Clone(dk.Plaintext))
	}
	return dk, err
}

// TestNoNonceReuse: re-uploading a part, or re-encrypting an object, never
// repeats a stream header (salt and nonce prefix) or an object key.
func TestNoNonceReuse(t *testing.T) {
	e, _ := newTestEncryptor(t)
	key := testKey(t)
	for name, req := range requests(key) {
		if req.Kind == KindNone {
			continue
		}
		t.Run(name, func(t *testing.T) {
			var k *CustomerKey
			if req.Kind == KindC {
				k = key
			}
			mp, err := e.InitiateMultipart(ctx, "b", "o", req)
			require.NoError(t, err)
			seen := map[string]bool{}
			for i := 0; i < 20; i++ {
				var buf bytes.Buffer
				w, err := e.EncryptPart(ctx, "b", "o", mp, k, 1, &buf)
				require.NoError(t, err)
				_, _ = w.Write([]byte(fmt.Sprint("content ", i)))
				require.NoError(t, w.Close())
				hdr := string(buf.Bytes()[:stream.HeaderSize])
				require.False(t, seen[hdr], "stream header repeated")
				seen[hdr] = true
			}
			sealed := map[string]bool{}
			for i := 0; i < 20; i++ {
				stored, meta := put(t, e, "b", "o", req, []byte("same"))
				hdr := string(stored[:stream.HeaderSize])
				require.False(t, seen[hdr] || sealed[meta[metaSealedKey]])
				seen[hdr], sealed[meta[metaSealedKey]] = true, true
			}
		})
	}
}

func TestRekey(t *testing.T) {
	e, km := newTestEncryptor(t)
	k1, k2 := testKey(t), testKey(t)
	data := randBytes(1000)
	type step struct {
		name string
		req  *Request
		key  *CustomerKey
	}
	steps := []step{
		{"sse-c", &Request{Kind: KindC, CustomerKey: k1}, k1},
		{"sse-c new key", &Request{Kind: KindC, CustomerKey: k2}, k2},
		{"sse-s3", &Request{Kind: KindS3}, nil},
		{"sse-kms", &Request{Kind: KindKMS, KMSKeyID: "other", KMSContext: map[string]string{"a": "b"}}, nil},
		{"rotate", &Request{Kind: KindKMS, KMSKeyID: "other", KMSContext: map[string]string{"a": "b"}}, nil},
		{"back to sse-c", &Request{Kind: KindC, CustomerKey: k1}, k1},
	}
	for _, multipart := range []bool{false, true} {
		var stored []byte
		var meta map[string]string
		var plain []byte
		if multipart {
			plain, stored, meta = multipartObject(t, e, "b", "o", steps[0].req, k1, []int{400, 600})
		} else {
			plain = data
			stored, meta = put(t, e, "b", "o", steps[0].req, data)
		}
		meta["X-Amz-Meta-Keep"] = "me"
		payload := bytes.Clone(stored)
		prev := steps[0]
		for _, s := range steps[1:] {
			gen := km.gen
			nm, err := e.Rekey(ctx, "b", "o", meta, prev.key, s.req)
			require.NoError(t, err, s.name)
			require.Equal(t, s.req.Kind, KindOf(nm))
			require.Equal(t, "me", nm["X-Amz-Meta-Keep"])
			switch {
			case s.req.Kind == KindC:
			case e.useBucketKey(s.req): // at most one bucket key per kind and context
				require.LessOrEqual(t, km.gen, gen+1)
			default:
				require.Equal(t, gen+1, km.gen)
			}
			got, err := get(e, "b", "o", nm, s.key, stored)
			require.NoError(t, err, s.name)
			require.Equal(t, plain, got)
			if prev.key != nil && s.key != prev.key {
				_, err = get(e, "b", "o", nm, prev.key, stored)
				require.Error(t, err)
			}
			if s.req.Kind == KindC {
				require.NotContains(t, nm, HeaderSSE)
				require.NotContains(t, nm, metaKMSDataKey)
			} else {
				require.NotContains(t, nm, HeaderCustomerAlg)
			}
			meta, prev = nm, s
		}
		require.Equal(t, payload, stored, "payload untouched")
	}

	// Wrong old key, unencrypted objects, removing encryption.
	stored, meta := put(t, e, "b", "o", &Request{Kind: KindC, CustomerKey: k1}, data)
	_ = stored
	_, err := e.Rekey(ctx, "b", "o", meta, k2, &Request{Kind: KindS3})
	requireSSEError(t, err, "AccessDenied", http.StatusForbidden, ErrWrongCustomerKey)
	_, err = e.Rekey(ctx, "b", "o", meta, nil, &Request{Kind: KindS3})
	requireSSEError(t, err, "InvalidRequest", http.StatusBadRequest, ErrMissingCustomerKey)
	_, err = e.Rekey(ctx, "b", "o", meta, k1, &Request{})
	requireSSEError(t, err, "InvalidArgument", http.StatusBadRequest, ErrInvalidArgument)
	_, err = e.Rekey(ctx, "b", "o", map[string]string{"A": "b"}, nil, &Request{Kind: KindS3})
	requireSSEError(t, err, "InvalidRequest", http.StatusBadRequest, ErrNotEncrypted)
	// Re-sealing for another path is not possible: the seal is path-bound.
	_, err = e.Rekey(ctx, "b", "elsewhere", meta, k1, &Request{Kind: KindS3})
	requireSSEError(t, err, "AccessDenied", http.StatusForbidden, ErrWrongCustomerKey)
}

// TestMetadataTamper alters single internal entries.
func TestMetadataTamper(t *testing.T) {
	e, _ := newTestEncryptor(t)
	stored, meta := put(t, e, "b", "o", &Request{Kind: KindKMS, KMSContext: map[string]string{"a": "b"}}, randBytes(900))
	cases := map[string]struct {
		key, value string
		sentinel   error
	}{
		"kind label":         {metaKind, kindNameS3, ErrCorruptMetadata}, // context entry only valid for SSE-KMS
		"context":            {metaKMSContext, encodeContext(map[string]string{"a": "c"}), ErrTampered},
		"segment size":       {metaSegmentSize, "512", ErrTampered},
		"version":            {metaVersion, "5", ErrUnsupportedVersion},
		"version 2 label":    {metaVersion, "2", ErrCorruptMetadata}, // no Kms-Bucket-Key
		"sealed key":         {metaSealedKey, base64.StdEncoding.EncodeToString(make([]byte, sealedSize)), ErrTampered},
		"sealed key length":  {metaSealedKey, "AAAA", ErrCorruptMetadata},
		"data key":           {metaKMSDataKey, base64.StdEncoding.EncodeToString([]byte("junk")), ErrTampered},
		"key id":             {metaKMSKeyID, "../x", ErrCorruptMetadata},
		"unknown entry":      {InternalPrefix + "Extra", "1", ErrCorruptMetadata},
		"parts on single":    {metaParts, "1:10", ErrCorruptMetadata}, // the ETag has no -1,
		"bad parts":          {metaParts, "x", ErrCorruptMetadata},
		"bucket key garbage": {metaBucketKey, "yes", ErrCorruptMetadata},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			m := maps.Clone(meta)
			m[c.key] = c.value
			_, err := get(e, "b", "o", m, nil, stored)
			require.ErrorIs(t, err, c.sentinel)
			var se *Error
			require.ErrorAs(t, err, &se)
			require.Equal(t, http.StatusInternalServerError, se.HTTPStatus)
		})
	}
	// Kind changed SSE-KMS -> SSE-S3 with the KMS-only entries removed.
	m := maps.Clone(meta)
	m[metaKind] = kindNameS3
	delete(m, metaKMSContext)
	delete(m, metaETag) // SSE-S3 answers its sealed MD5
	_, err := get(e, "b", "o", m, nil, stored)
	require.ErrorIs(t, err, ErrTampered)
	// Version missing.
	m = maps.Clone(meta)
	delete(m, metaVersion)
	_, err = get(e, "b", "o", m, nil, stored)
	require.ErrorIs(t, err, ErrCorruptMetadata)
	// Duplicate spelling.
	m = maps.Clone(meta)
	m[strings.ToLower(metaKind)] = meta[metaKind]
	_, err = get(e, "b", "o", m, nil, stored)
	require.ErrorIs(t, err, ErrCorruptMetadata)
	// Lower-cased keys (a server that lower-cases metadata names) still work.
	m = map[string]string{}
	for k, v := range meta {
		m[strings.ToLower(k)] = v
	}
	_, err = get(e, "b", "o", m, nil, stored)
	require.NoError(t, err)
}

// TestFormatHidesKeys: printing a multipart *ObjectReader (which holds the
// object key until Close) or a CustomerKey value shows no key bytes.
func TestFormatHidesKeys(t *testing.T) {
	e, _ := newTestEncryptor(t)
	key := testKey(t)
	_, stored, meta := multipartObject(t, e, "b", "mp", &Request{Kind: KindC, CustomerKey: key}, key, []int{300, 400})
	r, err := e.DecryptObject(ctx, "b", "mp", meta, key, bytes.NewReader(stored), int64(len(stored)))
	require.NoError(t, err)
	defer r.Close()
	m, err := decodeMeta(meta)
	require.NoError(t, err)
	oek, err := e.openKey(ctx, "b", "mp", m, key, "")
	require.NoError(t, err)
	raw := key.bytes()
	all := fmt.Sprintf("%v %+v %#v", r, r, r) + fmt.Sprintf("%v %+v %#v %s %x", *key, *key, *key, *key, *key)
	for _, s := range [][]byte{oek, raw} {
		for _, enc := range []string{string(s), hex.EncodeToString(s), fmt.Sprint(s), fmt.Sprintf("%#v", s)} {
			require.NotContains(t, all, enc)
		}
	}
}

// TestKMSKeyIDBound: the KMS key id shown to clients is the key that
// actually wraps the data key; a metadata edit naming another key fails.
func TestKMSKeyIDBound(t *testing.T) {
	e, _ := newTestEncryptor(t)
	for _, req := range []*Request{{Kind: KindKMS, KMSKeyID: "other"}, {Kind: KindS3}} {
		stored, meta := put(t, e, "b", "o", req, randBytes(500))
		m := maps.Clone(meta)
		if m[metaKMSKeyID] == "other" {
			m[metaKMSKeyID] = "default"
		} else {
			m[metaKMSKeyID] = "other"
		}
		_, err := get(e, "b", "o", m, nil, stored)
		require.ErrorIs(t, err, ErrTampered)
		_, err = e.Rekey(ctx, "b", "o", m, nil, &Request{Kind: KindS3})
		require.ErrorIs(t, err, ErrTampered)
		got, err := get(e, "b", "o", meta, nil, stored)
		require.NoError(t, err)
		require.Len(t, got, 500)
	}
}
