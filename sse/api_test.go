package sse

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCompleteMultipartErrors(t *testing.T) {
	e, _ := newTestEncryptor(t)
	mp, err := e.InitiateMultipart(ctx, "b", "o", &Request{Kind: KindS3})
	require.NoError(t, err)
	for _, parts := range [][]Part{nil, {{Number: 0, Size: 1}}, {{Number: 2, Size: 1}, {Number: 1, Size: 1}},
		{{Number: 1, Size: 1}, {Number: 1, Size: 1}}, {{Number: 1, Size: -1}}, {{Number: 10001, Size: 1}},
		{{Number: 1, Size: maxObjectSize}, {Number: 2, Size: 1}}} {
		_, err := CompleteMultipart(mp, parts)
		requireSSEError(t, err, "InvalidArgument", http.StatusBadRequest, ErrInvalidArgument)
	}
	done, err := CompleteMultipart(mp, []Part{{Number: 1, Size: 1}, {Number: 2, Size: 1}, {Number: 3, Size: 2}})
	require.NoError(t, err)
	require.Equal(t, "1-2:1,3:2", done[metaParts])
	require.NotContains(t, mp, metaParts, "input not modified")
	_, err = CompleteMultipart(done, []Part{{Number: 1, Size: 1}})
	requireSSEError(t, err, "InvalidArgument", http.StatusBadRequest, ErrInvalidArgument)
	_, err = e.EncryptPart(ctx, "b", "o", done, nil, 1, io.Discard)
	requireSSEError(t, err, "InvalidArgument", http.StatusBadRequest, ErrInvalidArgument)

	// Unencrypted uploads pass through.
	plain, err := e.InitiateMultipart(ctx, "b", "o", nil)
	require.NoError(t, err)
	var buf bytes.Buffer
	w, err := e.EncryptPart(ctx, "b", "o", plain, nil, 1, &buf)
	require.NoError(t, err)
	_, _ = w.Write([]byte("abc"))
	require.NoError(t, w.Close())
	require.Equal(t, "abc", buf.String())
	require.Empty(t, w.Metadata())
	out, err := CompleteMultipart(map[string]string{"A": "b"}, []Part{{Number: 1, Size: 3}})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"A": "b"}, out)
}

func TestRequestValidate(t *testing.T) {
	e, _ := newTestEncryptor(t)
	key := testKey(t)
	for _, r := range []*Request{
		{Kind: KindS3, KMSKeyID: "k"},
		{Kind: KindNone, KMSContext: map[string]string{"a": "b"}},
		{Kind: KindS3, CustomerKey: key},
		{Kind: KindKMS, CustomerKey: key},
		{Kind: KindKMS, KMSKeyID: "bad/id"},
		{Kind: KindKMS, KMSContext: map[string]string{"aws:x": "y"}},
		{Kind: KindC, CustomerKey: key, BucketKeyEnabled: true},
		{Kind: "AES128"},
	} {
		_, err := e.EncryptObject(ctx, "b", "o", r, io.Discard)
		requireSSEError(t, err, "InvalidArgument", http.StatusBadRequest, ErrInvalidArgument)
		_, err = e.InitiateMultipart(ctx, "b", "o", r)
		require.Error(t, err)
	}
	_, err := e.EncryptObject(ctx, "b", "o", &Request{Kind: KindC}, io.Discard)
	requireSSEError(t, err, "InvalidRequest", http.StatusBadRequest, ErrMissingCustomerKey)
}

func TestWriterAndReaderLifecycle(t *testing.T) {
	e, _ := newTestEncryptor(t)
	var buf bytes.Buffer
	w, err := e.EncryptObject(ctx, "b", "o", &Request{Kind: KindKMS, BucketKeyEnabled: true}, &buf)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, w.Close())
	_, err = w.Write([]byte("x"))
	requireSSEError(t, err, "InternalError", http.StatusInternalServerError, ErrClosed)

	r, err := e.DecryptObject(ctx, "b", "o", w.Metadata(), nil, bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	h := r.Header()
	require.Equal(t, "aws:kms", h.Get(HeaderSSE))
	require.Equal(t, "default", h.Get(HeaderKMSKeyID))
	require.Equal(t, "true", h.Get(HeaderBucketKeyEnabled))
	h.Set(HeaderSSE, "changed")
	require.Equal(t, "aws:kms", r.Header().Get(HeaderSSE), "Header returns a copy")

	// Multipart: parts not opened before Close can't be read after it.
	plain, stored, meta := multipartObject(t, e, "b", "m", &Request{Kind: KindS3}, nil, []int{300, 300})
	r, err = e.DecryptObject(ctx, "b", "m", meta, nil, bytes.NewReader(stored), int64(len(stored)))
	require.NoError(t, err)
	p := make([]byte, 10)
	_, err = r.ReadAt(p, 0)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	_, err = r.ReadAt(p, 0) // part 1 is open
	require.NoError(t, err)
	require.Equal(t, plain[:10], p)
	_, err = r.ReadAt(p, 400)
	require.ErrorIs(t, err, ErrClosed)
	_, err = r.ReadAt(p, -1)
	require.ErrorIs(t, err, ErrInvalidArgument)
	_, err = io.ReadAll(r.Range(-1, 2))
	require.ErrorIs(t, err, ErrInvalidArgument)
}

// failingReaderAt fails the first reads with an I/O error.
type failingReaderAt struct {
	r     io.ReaderAt
	fails int
}

var errDisk = errors.New("disk on fire")

func (f *failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if f.fails > 0 {
		f.fails--
		return 0, errDisk
	}
	return f.r.ReadAt(p, off)
}

// TestIOErrorsPassThrough: errors of the server's storage are returned as
// they are (not as tampering) and are not sticky.
func TestIOErrorsPassThrough(t *testing.T) {
	e, _ := newTestEncryptor(t)
	plain, stored, meta := multipartObject(t, e, "b", "m", &Request{Kind: KindS3}, nil, []int{300, 300})
	src := &failingReaderAt{r: bytes.NewReader(stored), fails: 1}
	r, err := e.DecryptObject(ctx, "b", "m", meta, nil, src, int64(len(stored)))
	require.NoError(t, err)
	p := make([]byte, 20)
	_, err = r.ReadAt(p, 0)
	require.ErrorIs(t, err, errDisk)
	require.NotErrorIs(t, err, ErrTampered)
	_, err = r.ReadAt(p, 0)
	require.NoError(t, err)
	require.Equal(t, plain[:20], p)

	single, sm := put(t, e, "b", "s", &Request{Kind: KindS3}, plain)
	_, err = e.DecryptObject(ctx, "b", "s", sm, nil, &failingReaderAt{r: bytes.NewReader(single), fails: 1}, int64(len(single)))
	require.ErrorIs(t, err, errDisk)
}
