package sigv4_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/sigv4"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingReader) Close() error { return nil }

// gatedBody is a request body whose bytes arrive only when the test sends
// them on gate (closing gate ends the body), as from a client that stalls.
// started is closed at the first Read.
type gatedBody struct {
	started chan struct{}
	once    sync.Once
	gate    chan []byte
	buf     []byte
	n       atomic.Int64
}

func newGatedBody(t *testing.T) *gatedBody {
	g := &gatedBody{started: make(chan struct{}), gate: make(chan []byte)}
	t.Cleanup(func() {
		defer func() { _ = recover() }() // already closed by the test
		close(g.gate)
	})
	return g
}

func (g *gatedBody) Read(p []byte) (int, error) {
	g.once.Do(func() { close(g.started) })
	for len(g.buf) == 0 {
		b, ok := <-g.gate
		if !ok {
			return 0, io.EOF
		}
		g.buf = b
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	g.n.Add(int64(n))
	return n, nil
}

func (g *gatedBody) Close() error { return nil }

func (g *gatedBody) wasRead() bool {
	select {
	case <-g.started:
		return true
	default:
		return false
	}
}

// verifyAsync runs v.Verify(r) and returns its result, failing the test if
// it does not return within a few seconds (it would be blocked reading a
// body that never comes).
func verifyAsync(t *testing.T, v *sigv4.Verifier, r *http.Request) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := v.Verify(r)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Verify did not return: it is waiting for the body")
		return nil
	}
}

// headerSignedWithBody is a header-form request signed over body's hash
// without an x-amz-content-sha256 header (as SDK signers of services other
// than s3, and curl 7.88, send it), whose body is then replaced by g.
func headerSignedWithBody(t *testing.T, service string, body []byte, contentLength int64, g io.ReadCloser) *http.Request {
	t.Helper()
	r := httptest.NewRequest("POST", "http://kms.example/kms/generate-data-key", bytes.NewReader(body))
	r.ContentLength = contentLength // as signed (the SDK signs Content-Length)
	o := defaultSign()
	o.service, o.hashHeader = service, false
	signReq(t, r, body, o)
	r.Body = g
	return r
}

// A header-form request with a body and no x-amz-content-sha256 is refused,
// as S3 refuses it, before a byte of the body is read: checking its
// signature would need the whole body, and reading it before authentication
// lets anyone who knows an access key pin memory.
func TestSigV4BodyNeedsContentSHA256(t *testing.T) {
	v := newVerifier()
	body := []byte(`{"key_id":"k1"}`)
	for _, tc := range []struct {
		name          string
		service       string
		contentLength int64
	}{
		{"s3", "s3", int64(len(body))},
		{"execute-api", "execute-api", int64(len(body))},
		{"chunked transfer (unknown length)", "s3", -1},
		{"announced 1 GiB", "s3", 1 << 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGatedBody(t)
			r := headerSignedWithBody(t, tc.service, body, tc.contentLength, g)
			err := verifyAsync(t, v, r)
			require.ErrorIs(t, err, sigv4.ErrMalformedRequest)
			require.Equal(t, sigv4.ErrMalformedRequest, kindOf(t, err))
			require.Contains(t, err.Error(), "missing x-amz-content-sha256")
			require.False(t, g.wasRead(), "the body was read before authentication")
		})
	}

	// Without a body the header is not needed (curl 7.88 sends none).
	r := httptest.NewRequest("GET", "http://kms.example/kms/status", nil)
	o := defaultSign()
	o.hashHeader = false
	signReq(t, r, nil, o)
	require.NoError(t, verifyAsync(t, v, r))

	// With the header, the signature is checked before the body is read,
	// and the body is verified as it is read.
	g := newGatedBody(t)
	r = httptest.NewRequest("POST", "http://kms.example/kms/generate-data-key", bytes.NewReader(body))
	signReq(t, r, body, defaultSign())
	r.Body = g
	require.NoError(t, verifyAsync(t, v, r))
	require.False(t, g.wasRead())
	go func() { g.gate <- body; close(g.gate) }()
	got, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	require.Equal(t, body, got)

	// Presigned URLs sign UNSIGNED-PAYLOAD implicitly: a body is accepted
	// unread (and unbound), as in S3.
	g = newGatedBody(t)
	r = httptest.NewRequest("PUT", presign(t, "PUT", "http://kms.example/bucket/obj", testNow, time.Hour, adminSK), nil)
	r.Body, r.ContentLength = g, int64(len(body))
	require.NoError(t, verifyAsync(t, v, r))
	require.False(t, g.wasRead())
	go func() { g.gate <- body; close(g.gate) }()
	got, err = io.ReadAll(r.Body)
	require.NoError(t, err)
	require.Equal(t, body, got)
}

// WithMaxBufferedBody reads and hashes bodies without x-amz-content-sha256,
// within a per-request and a total limit, both enforced before reading.
func TestSigV4BufferedBodyLimits(t *testing.T) {
	body := []byte(`{"key_id":"k1"}`) // 15 bytes
	v := newVerifier(sigv4.WithMaxBufferedBody(16, 32))

	// Within the limits: accepted, and the body is the one signed.
	cr := &countingReader{r: bytes.NewReader(body)}
	r := headerSignedWithBody(t, "execute-api", body, int64(len(body)), cr)
	require.NoError(t, verifyAsync(t, v, r))
	got, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	require.Equal(t, body, got)

	// Another body than the one signed: the signature does not match.
	evil := []byte(`{"key_id":"k2"}`)
	r = headerSignedWithBody(t, "execute-api", body, int64(len(evil)), io.NopCloser(bytes.NewReader(evil)))
	require.ErrorIs(t, verifyAsync(t, v, r), sigv4.ErrSignatureMismatch)

	// Announced longer than 16 bytes: refused unread.
	g := newGatedBody(t)
	r = headerSignedWithBody(t, "s3", body, 17, g)
	err = verifyAsync(t, v, r)
	require.ErrorIs(t, err, sigv4.ErrUnsupported)
	require.Contains(t, err.Error(), "too large")
	require.False(t, g.wasRead())

	// Unknown length and longer than 16 bytes: refused after 17 bytes.
	long := bytes.Repeat([]byte("x"), 40)
	cr = &countingReader{r: bytes.NewReader(long)}
	r = headerSignedWithBody(t, "s3", long, -1, cr)
	err = verifyAsync(t, v, r)
	require.ErrorIs(t, err, sigv4.ErrUnsupported)
	require.LessOrEqual(t, cr.n.Load(), int64(17))

	// Two stalled bodies take the whole budget (one of unknown length counts
	// as 16 bytes): a third is refused unread, and the budget comes back
	// when they end.
	stalled := make([]*gatedBody, 2)
	results := make(chan error, 2)
	for i, n := range []int64{-1, 16} {
		stalled[i] = newGatedBody(t)
		r := headerSignedWithBody(t, "s3", body, n, stalled[i])
		go func() { _, err := v.Verify(r); results <- err }()
		<-stalled[i].started
	}
	g = newGatedBody(t)
	r = headerSignedWithBody(t, "s3", body, 1, g)
	err = verifyAsync(t, v, r)
	require.ErrorIs(t, err, sigv4.ErrUnsupported)
	require.Contains(t, err.Error(), "at once")
	require.False(t, g.wasRead())
	for _, s := range stalled {
		s.gate <- body
		close(s.gate)
	}
	for range stalled {
		err := <-results
		// The second announced 16 bytes and sent 15.
		if err != nil && !errors.Is(err, sigv4.ErrSignatureMismatch) {
			t.Fatalf("stalled request: %v", err)
		}
	}
	r = headerSignedWithBody(t, "s3", body, int64(len(body)), io.NopCloser(bytes.NewReader(body)))
	require.NoError(t, verifyAsync(t, v, r))
}
