package sse

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func md5Hex(b []byte) string {
	d := md5.Sum(b)
	return hex.EncodeToString(d[:])
}

// requireNoMD5 checks that no metadata value holds the MD5 of any of
// plains in the clear (hex or base64, any case).
func requireNoMD5(t *testing.T, meta map[string]string, plains ...[]byte) {
	t.Helper()
	for _, p := range plains {
		d := md5.Sum(p)
		for _, enc := range []string{hex.EncodeToString(d[:]), base64.StdEncoding.EncodeToString(d[:])} {
			for k, v := range meta {
				require.NotContains(t, strings.ToLower(v), strings.ToLower(enc), "%s holds the plaintext MD5", k)
			}
		}
	}
}

// putETag writes data with chunks of the given write sizes (0: ReadFrom)
// and returns the writer's ETag, the metadata and the stored bytes.
func putETag(t *testing.T, e *Encryptor, object string, req *Request, data []byte, chunk int) (string, map[string]string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w, err := e.EncryptObject(context.Background(), "b", object, req, &buf)
	require.NoError(t, err)
	require.Empty(t, w.ETag(), "no ETag before Close")
	if chunk == 0 {
		_, err = io.Copy(w, bytes.NewReader(data)) // ReadFrom
		require.NoError(t, err)
	} else {
		for p := data; len(p) > 0; {
			n := min(chunk, len(p))
			_, err := w.Write(p[:n])
			require.NoError(t, err)
			p = p[n:]
		}
	}
	require.NoError(t, w.Close())
	return w.ETag(), w.Metadata(), buf.Bytes()
}

// TestETagSingle: SSE-S3 and unencrypted objects answer the plaintext MD5;
// SSE-KMS and SSE-C an opaque value that is not the MD5, the same from the
// writer and from the stored metadata (without the SSE-C key), and never
// stored in the clear.
func TestETagSingle(t *testing.T) {
	ctx := context.Background()
	e, _ := newTestEncryptor(t)
	key := testKey(t)
	data := randBytes(3<<20 + 17) // crosses md5Pipe's chunks and direct writes
	for name, req := range requests(key) {
		for _, chunk := range []int{0, 1000, pipeDirect, 1 << 20} {
			t.Run(fmt.Sprint(name, "/", chunk), func(t *testing.T) {
				etag, meta, stored := putETag(t, e, "o", req, data, chunk)
				got, err := get(e, "b", "o", meta, customerKeyFor(req), stored)
				require.NoError(t, err)
				require.Equal(t, data, got)
				if req.Kind == KindNone {
					require.Equal(t, md5Hex(data), etag)
					_, err := e.ETag(ctx, "b", "o", meta)
					require.ErrorIs(t, err, ErrNotEncrypted)
					require.Empty(t, readerETag(t, e, "b", "o", meta, nil, stored))
					return
				}
				stored2, err := e.ETag(ctx, "b", "o", meta)
				require.NoError(t, err)
				require.Equal(t, etag, stored2, "writer and metadata agree")
				require.Equal(t, etag, readerETag(t, e, "b", "o", meta, customerKeyFor(req), stored), "reader and metadata agree")
				require.True(t, validETag(etag), etag)
				requireNoMD5(t, meta, data)
				if req.Kind == KindS3 {
					require.Equal(t, md5Hex(data), etag)
				} else {
					require.NotEqual(t, md5Hex(data), etag)
				}
			})
		}
	}
}

func customerKeyFor(req *Request) *CustomerKey {
	if req == nil {
		return nil
	}
	return req.CustomerKey
}

// TestETagOpaqueKeyed: the opaque ETag depends on the object key, so the
// same content in two objects has two ETags, and it is stable for one
// stored object (also after a Rekey between SSE-KMS and SSE-C).
func TestETagOpaqueKeyed(t *testing.T) {
	ctx := context.Background()
	e, _ := newTestEncryptor(t)
	key := testKey(t)
	data := []byte("same content")
	a, metaA, _ := putETag(t, e, "o", &Request{Kind: KindKMS}, data, 0)
	b, _, _ := putETag(t, e, "o", &Request{Kind: KindKMS}, data, 0)
	require.NotEqual(t, a, b)

	// SSE-KMS -> SSE-C -> SSE-S3 -> SSE-KMS in place.
	toC, err := e.Rekey(ctx, "b", "o", metaA, nil, &Request{Kind: KindC, CustomerKey: key})
	require.NoError(t, err)
	got, err := e.ETag(ctx, "b", "o", toC)
	require.NoError(t, err)
	require.Equal(t, a, got, "same object key, same opaque ETag")
	toS3, err := e.Rekey(ctx, "b", "o", toC, key, &Request{Kind: KindS3})
	require.NoError(t, err)
	got, err = e.ETag(ctx, "b", "o", toS3)
	require.NoError(t, err)
	require.Equal(t, md5Hex(data), got, "SSE-S3 answers the MD5")
	requireNoMD5(t, toS3, data)
	back, err := e.Rekey(ctx, "b", "o", toS3, nil, &Request{Kind: KindKMS})
	require.NoError(t, err)
	got, err = e.ETag(ctx, "b", "o", back)
	require.NoError(t, err)
	require.Equal(t, a, got)
	requireNoMD5(t, back, data)
}

// uploadParts uploads parts (number -> content) and returns their writers'
// ETags and metadata.
func uploadParts(t *testing.T, e *Encryptor, up map[string]string, key *CustomerKey, nums []int, contents [][]byte) ([]string, []Part) {
	t.Helper()
	var etags []string
	var parts []Part
	for i, n := range nums {
		w, err := e.EncryptPart(context.Background(), "b", "mp", up, key, n, io.Discard)
		require.NoError(t, err)
		_, err = w.Write(contents[i])
		require.NoError(t, err)
		require.NoError(t, w.Close())
		etags = append(etags, w.ETag())
		parts = append(parts, Part{Number: n, Size: int64(len(contents[i])), Meta: w.Metadata()})
	}
	return etags, parts
}

// TestETagMultipart: part ETags (MD5 for SSE-S3 and unencrypted, opaque
// otherwise), identical content gets the identical part ETag within an
// upload, and the object's ETag is S3's MD5 of the binary part ETags, "-N".
func TestETagMultipart(t *testing.T) {
	ctx := context.Background()
	e, _ := newTestEncryptor(t)
	key := testKey(t)
	p1, p2 := randBytes(1000), randBytes(77)
	for name, req := range requests(key) {
		t.Run(name, func(t *testing.T) {
			up, err := e.InitiateMultipart(ctx, "b", "mp", req)
			require.NoError(t, err)
			ck := customerKeyFor(req)
			etags, parts := uploadParts(t, e, up, ck, []int{1, 2}, [][]byte{p1, p2})
			// The same content again, as part 1 (re-upload) and as part 3.
			again, againParts := uploadParts(t, e, up, ck, []int{1, 3}, [][]byte{p1, p1})
			require.Equal(t, etags[0], again[0], "re-uploaded part: same ETag")
			require.Equal(t, etags[0], again[1], "same content, other part number: same ETag")
			if req.Kind != KindNone {
				require.NotEqual(t, againParts[0].Meta, parts[0].Meta, "fresh seal (random nonce) per upload")
			}
			if answersMD5(req.Kind) {
				require.Equal(t, []string{md5Hex(p1), md5Hex(p2)}, etags)
			} else {
				require.NotEqual(t, md5Hex(p1), etags[0])
				require.NotEqual(t, md5Hex(p2), etags[1])
			}
			for i, p := range parts {
				if req.Kind == KindNone {
					require.Empty(t, p.Meta)
					continue
				}
				requireNoMD5(t, p.Meta, p1, p2)
				got, err := e.ETag(ctx, "b", "mp", p.Meta)
				require.NoError(t, err)
				require.Equal(t, etags[i], got, "a part's stored ETag")
			}
			meta, err := e.CompleteUpload(ctx, "b", "mp", up, parts)
			require.NoError(t, err)
			composite := md5.New()
			for _, et := range etags {
				raw, _ := hex.DecodeString(et)
				composite.Write(raw)
			}
			want := hex.EncodeToString(composite.Sum(nil)) + "-2"
			if req.Kind == KindNone {
				require.Empty(t, meta)
				return
			}
			got, err := e.ETag(ctx, "b", "mp", meta)
			require.NoError(t, err)
			require.Equal(t, want, got)
			requireNoMD5(t, meta, p1, p2, append(bytes.Clone(p1), p2...))

			// Parts of another upload, or in another place, are refused.
			swapped := []Part{parts[1], parts[0]}
			swapped[0].Number, swapped[1].Number = 1, 2
			_, err = e.CompleteUpload(ctx, "b", "mp", up, swapped)
			require.ErrorIs(t, err, ErrInvalidArgument)
			other, err := e.InitiateMultipart(ctx, "b", "mp", req)
			require.NoError(t, err)
			_, err = e.CompleteUpload(ctx, "b", "mp", other, parts)
			require.ErrorIs(t, err, ErrInvalidArgument)
		})
	}
}

// TestContentMD5: a Content-MD5 is checked against the plaintext in the
// ETag's MD5 pass: BadDigest 400 on mismatch, InvalidDigest 400 when
// malformed; the error never holds either digest.
func TestContentMD5(t *testing.T) {
	e, _ := newTestEncryptor(t)
	key := testKey(t)
	data := randBytes(200_000)
	good := md5.Sum(data)
	bad := md5.Sum(data[1:])
	for name, req := range requests(key) {
		t.Run(name, func(t *testing.T) {
			w, err := e.EncryptObject(context.Background(), "b", "o", req, io.Discard)
			require.NoError(t, err)
			require.NoError(t, w.ExpectContentMD5(base64.StdEncoding.EncodeToString(good[:])))
			_, err = io.Copy(w, bytes.NewReader(data))
			require.NoError(t, err)
			require.NoError(t, w.Close())

			w, err = e.EncryptObject(context.Background(), "b", "o", req, io.Discard)
			require.NoError(t, err)
			requireSSEError(t, w.ExpectContentMD5("bm9wZQ=="), "InvalidDigest", 400, ErrInvalidDigest)
			require.NoError(t, w.ExpectContentMD5(base64.StdEncoding.EncodeToString(bad[:])))
			_, err = w.Write(data)
			require.NoError(t, err)
			err = w.Close()
			requireSSEError(t, err, "BadDigest", 400, ErrBadDigest)
			for _, d := range [][]byte{good[:], bad[:]} {
				require.NotContains(t, err.Error(), hex.EncodeToString(d))
				require.NotContains(t, err.Error(), base64.StdEncoding.EncodeToString(d))
			}
			require.Empty(t, w.ETag(), "no ETag for a refused object")
			require.ErrorIs(t, w.Close(), ErrBadDigest, "Close stays failed")
			_, err = w.Write([]byte("x"))
			require.ErrorIs(t, err, ErrClosed)
		})
	}
	// Only before the first Write.
	w, err := e.EncryptObject(context.Background(), "b", "o", &Request{Kind: KindS3}, io.Discard)
	require.NoError(t, err)
	_, _ = w.Write([]byte("x"))
	require.Error(t, w.ExpectContentMD5(base64.StdEncoding.EncodeToString(good[:])))
	require.NoError(t, w.Close())
}

// TestETagTamper: a sealed MD5 altered, or moved to another object or
// part, fails authentication (SSE-S3 opens it for every ETag); malformed
// entries are corrupt metadata; errors name no digest.
func TestETagTamper(t *testing.T) {
	ctx := context.Background()
	e, _ := newTestEncryptor(t)
	data := []byte("tamper")
	_, meta, _ := putETag(t, e, "o", &Request{Kind: KindS3}, data, 0)
	_, other, _ := putETag(t, e, "o2", &Request{Kind: KindS3}, data, 0)

	bad := maps.Clone(meta)
	bad[metaSealedMD5] = flipB64(bad[metaSealedMD5])
	_, err := e.ETag(ctx, "b", "o", bad)
	require.ErrorIs(t, err, ErrTampered)
	require.NotContains(t, err.Error(), md5Hex(data))

	moved := maps.Clone(meta)
	moved[metaSealedMD5] = other[metaSealedMD5]
	_, err = e.ETag(ctx, "b", "o", moved)
	require.ErrorIs(t, err, ErrTampered)

	for name, edit := range map[string]func(map[string]string){
		"short sealed md5":       func(m map[string]string) { m[metaSealedMD5] = "AAAA" },
		"etag beside SSE-S3 md5": func(m map[string]string) { m[metaETag] = md5Hex(nil) },
		"bad etag":               func(m map[string]string) { delete(m, metaSealedMD5); m[metaETag] = "xyz" },
		"part number":            func(m map[string]string) { m[metaPartNumber] = "0" },
		"etag in version 1":      func(m map[string]string) { m[metaVersion] = "1"; delete(m, metaKMSBucketKey) },
	} {
		m := maps.Clone(meta)
		edit(m)
		_, err := e.ETag(ctx, "b", "o", m)
		require.ErrorIs(t, err, ErrCorruptMetadata, name)
	}

	// A part's sealed MD5 names its part number.
	up, err := e.InitiateMultipart(ctx, "b", "mp", &Request{Kind: KindS3})
	require.NoError(t, err)
	_, parts := uploadParts(t, e, up, nil, []int{1, 2}, [][]byte{data, data})
	p := maps.Clone(parts[0].Meta)
	p[metaSealedMD5] = parts[1].Meta[metaSealedMD5]
	_, err = e.ETag(ctx, "b", "mp", p)
	require.ErrorIs(t, err, ErrTampered)
}

// TestETagLegacy: metadata written before format version 3 still decrypts
// and gets a defined ETag, stable and unrelated to the plaintext; an
// upload initiated then completes into such an object.
func TestETagLegacy(t *testing.T) {
	ctx := context.Background()
	e, _ := newTestEncryptor(t)
	data := []byte("legacy object")
	_, meta, stored := putETag(t, e, "o", &Request{Kind: KindKMS}, data, 0)
	old := maps.Clone(meta)
	old[metaVersion] = formatVersion1
	delete(old, metaETag)
	delete(old, metaSealedMD5)
	got, err := get(e, "b", "o", old, nil, stored)
	require.NoError(t, err)
	require.Equal(t, data, got)
	a, err := e.ETag(ctx, "b", "o", old)
	require.NoError(t, err)
	b, err := e.ETag(ctx, "b", "o", old)
	require.NoError(t, err)
	require.Equal(t, a, b)
	require.Equal(t, a, readerETag(t, e, "b", "o", old, nil, stored))
	require.True(t, validETag(a))
	require.NotEqual(t, md5Hex(data), a)

	up, err := e.InitiateMultipart(ctx, "b", "mp", &Request{Kind: KindKMS})
	require.NoError(t, err)
	up[metaVersion] = formatVersion1
	etags, parts := uploadParts(t, e, up, nil, []int{1}, [][]byte{data})
	require.NotEqual(t, md5Hex(data), etags[0])
	done, err := e.CompleteUpload(ctx, "b", "mp", up, parts)
	require.NoError(t, err)
	et, err := e.ETag(ctx, "b", "mp", done)
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(et, "-1"), et)
}
