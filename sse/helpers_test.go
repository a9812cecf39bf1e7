package sse

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// testSegment is a small segment size so tests cross many segment borders.
const testSegment = 256

func newTestEncryptor(t testing.TB, opts ...Option) (*Encryptor, *fakeKMS) {
	t.Helper()
	km := newFakeKMS("other")
	e, err := New(km, append([]Option{WithSegmentSize(testSegment)}, opts...)...)
	require.NoError(t, err)
	return e, km
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func testKey(t testing.TB) *CustomerKey {
	t.Helper()
	k, err := NewCustomerKey(randBytes(32))
	require.NoError(t, err)
	return k
}

// ssecHeaders returns the SSE-C request headers for raw.
func ssecHeaders(raw []byte) http.Header {
	sum := md5.Sum(raw)
	h := http.Header{}
	h.Set(HeaderCustomerAlg, "AES256")
	h.Set(HeaderCustomerKey, base64.StdEncoding.EncodeToString(raw))
	h.Set(HeaderCustomerKeyMD5, base64.StdEncoding.EncodeToString(sum[:]))
	return h
}

// requests returns one request of every kind (SSE-C with key).
func requests(key *CustomerKey) map[string]*Request {
	return map[string]*Request{
		"none":    {Kind: KindNone},
		"sse-s3":  {Kind: KindS3},
		"sse-kms": {Kind: KindKMS, KMSKeyID: "other", KMSContext: map[string]string{"app": "test"}, BucketKeyEnabled: true},
		"sse-c":   {Kind: KindC, CustomerKey: key},
	}
}

// put encrypts data as bucket/object and returns the stored bytes and metadata.
func put(t testing.TB, e *Encryptor, bucket, object string, req *Request, data []byte) ([]byte, map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	w, err := e.EncryptObject(context.Background(), bucket, object, req, &buf)
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes(), w.Metadata()
}

// get decrypts stored bytes fully, through Range.
func get(e *Encryptor, bucket, object string, meta map[string]string, key *CustomerKey, stored []byte) ([]byte, error) {
	r, err := e.DecryptObject(context.Background(), bucket, object, meta, key, bytes.NewReader(stored), int64(len(stored)))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out bytes.Buffer
	_, err = io.Copy(&out, r.Range(0, r.Size())) // through WriteTo
	return append([]byte{}, out.Bytes()...), err
}

// readerETag is the ETag DecryptObject's reader answers for the object.
func readerETag(t testing.TB, e *Encryptor, bucket, object string, meta map[string]string, key *CustomerKey, stored []byte) string {
	t.Helper()
	r, err := e.DecryptObject(context.Background(), bucket, object, meta, key, bytes.NewReader(stored), int64(len(stored)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return r.ETag()
}

// requireSSEError checks err is an *Error with the code, status and sentinel.
func requireSSEError(t testing.TB, err error, code string, status int, sentinel error) {
	t.Helper()
	require.Error(t, err)
	var se *Error
	require.True(t, errors.As(err, &se), "not an *sse.Error: %v", err)
	require.Equal(t, code, se.Code, "%v", err)
	require.Equal(t, status, se.HTTPStatus, "%v", err)
	if sentinel != nil {
		require.ErrorIs(t, err, sentinel)
	}
}
