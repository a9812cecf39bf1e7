package sigv4_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/sigv4"
)

// hexSignedChunked is a PUT whose x-amz-content-sha256 is the hex SHA-256
// of signed, an aws-chunked encoding of a payload of decodedLen bytes, sent
// with the body sent instead.
func hexSignedChunked(t *testing.T, signed []byte, decodedLen int, sent io.Reader) *http.Request {
	t.Helper()
	r := httptest.NewRequest("PUT", "http://s3.example/bkt/obj", bytes.NewReader(signed))
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(decodedLen))
	signReq(t, r, signed, defaultSign())
	r.Body = io.NopCloser(sent)
	return r
}

// readAll reads r as a server does, in small reads, up to the first error,
// which is the verdict (io.EOF: the whole body was read and verified), and
// checks that the verdict is sticky.
func readAll(t *testing.T, r io.Reader) ([]byte, error) {
	t.Helper()
	var data []byte
	buf := make([]byte, 7)
	for {
		n, err := r.Read(buf)
		data = append(data, buf[:n]...)
		if err != nil {
			k, again := r.Read(buf)
			require.Zero(t, k)
			require.Equal(t, err, again, "the verdict is sticky")
			return data, err
		}
	}
}

// An aws-chunked body under a hex x-amz-content-sha256: the hash covers the
// encoded bytes, the Verifier checks it at the body's end, and a server that
// decodes the body with NewChunkedReader (as internal/s3srv does) gets
// io.EOF only once the raw body ended and matched: a swapped body, a body
// cut at its final chunk, and bytes after the final chunk all fail, however
// the bytes arrive.
func TestSigV4HexHashOverAWSChunkedBody(t *testing.T) {
	payload := []byte("the signed payload")
	signed := encodeChunked(payload, 8192)
	swapped := encodeChunked([]byte("a swapped payload!"), 8192)
	require.Len(t, swapped, len(signed))
	withTail := append(bytes.Clone(signed), "extra"...)
	readers := map[string]func([]byte) io.Reader{
		"bytes.Reader":          func(b []byte) io.Reader { return bytes.NewReader(b) },
		"OneByteReader":         func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
		"DataErrReader":         func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) },
		"HalfReader":            func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
		"last byte with io.EOF": func(b []byte) io.Reader { return &slowTail{b: b} },
	}
	for _, tc := range []struct {
		name         string
		signed, sent []byte
		kind         error // nil: accepted
	}{
		{"the signed body", signed, signed, nil},
		{"swapped, same length", signed, swapped, sigv4.ErrPayloadMismatch},
		{"bytes after the final chunk", signed, withTail, sigv4.ErrMalformedBody},
		{"signed with bytes after the final chunk", withTail, withTail, sigv4.ErrMalformedBody},
		{"cut at the final chunk", withTail, signed, sigv4.ErrPayloadMismatch},
		{"cut inside a chunk", signed, signed[:10], sigv4.ErrPayloadMismatch},
	} {
		for name, mk := range readers {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				r := hexSignedChunked(t, tc.signed, len(payload), mk(tc.sent))
				_, err := newVerifier().Verify(r)
				require.NoError(t, err, "the signature covers the headers")
				_, isChunked := r.Body.(*sigv4.ChunkedReader)
				require.False(t, isChunked, "a hex hash covers the encoded body: the Verifier does not decode it")
				got, err := readAll(t, sigv4.NewChunkedReader(r.Body, r.Header))
				if tc.kind == nil {
					require.Equal(t, io.EOF, err)
					require.Equal(t, payload, got)
					return
				}
				require.NotEqual(t, io.EOF, err, "a body that is not the one signed ended as verified")
				require.ErrorIs(t, err, tc.kind)
				require.Equal(t, tc.kind, kindOf(t, err))
			})
		}
	}
}

// slowTail returns its bytes in two parts, the last byte alone and with
// io.EOF, as a connection may deliver them.
type slowTail struct {
	b   []byte
	off int
}

func (s *slowTail) Read(p []byte) (int, error) {
	rest := s.b[s.off:]
	if len(rest) > 1 {
		n := copy(p, rest[:len(rest)-1])
		s.off += n
		return n, nil
	}
	n := copy(p, rest)
	s.off += n
	return n, io.EOF
}

// Nothing is reported verified before the raw body ends: with every byte
// of a well-formed aws-chunked body delivered but the connection still
// open, the decoder waits, since the hash is only known at the end.
func TestSigV4HexHashChunkedWaitsForEOF(t *testing.T) {
	payload := []byte("the signed payload")
	signed := encodeChunked(payload, 8192)
	pr, pw := io.Pipe()
	r := hexSignedChunked(t, signed, len(payload), pr)
	_, err := newVerifier().Verify(r)
	require.NoError(t, err)
	cr := sigv4.NewChunkedReader(r.Body, r.Header)
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(cr)
		done <- err
	}()
	_, err = pw.Write(signed)
	require.NoError(t, err)
	select {
	case err := <-done:
		t.Fatalf("the body was reported complete (%v) before it ended", err)
	case <-time.After(100 * time.Millisecond):
	}
	// The client sends one more byte: the body is not the one signed.
	go func() { _, _ = pw.Write([]byte("x")); _ = pw.Close() }()
	err = <-done
	require.ErrorIs(t, err, sigv4.ErrMalformedBody)

	// Ended right after the final CRLF: accepted.
	pr2, pw2 := io.Pipe()
	r = hexSignedChunked(t, signed, len(payload), pr2)
	_, err = newVerifier().Verify(r)
	require.NoError(t, err)
	go func() { _, _ = pw2.Write(signed); _ = pw2.Close() }()
	got, err := io.ReadAll(sigv4.NewChunkedReader(r.Body, r.Header))
	require.NoError(t, err)
	require.Equal(t, payload, got)
}

// S3 refuses aws-chunked with UNSIGNED-PAYLOAD (400 InvalidArgument, "aws-chunked
// encoding is not supported when x-amz-content-sha256 UNSIGNED-PAYLOAD is
// supplied"), and so does the Verifier, before it reads the body.
func TestSigV4AWSChunkedNeedsStreamingMode(t *testing.T) {
	payload := []byte("hello")
	body := encodeChunked(payload, 8192)
	for _, ce := range []string{"aws-chunked", "gzip, AWS-Chunked"} {
		g := newGatedBody(t)
		r := httptest.NewRequest("PUT", "http://s3.example/bkt/obj", bytes.NewReader(body))
		r.Header.Set("Content-Encoding", ce)
		r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(payload)))
		o := defaultSign()
		o.payloadHash = "UNSIGNED-PAYLOAD"
		signReq(t, r, body, o)
		r.Body = g
		err := verifyAsync(t, newVerifier(), r)
		require.ErrorIs(t, err, sigv4.ErrMalformedRequest, ce)
		require.Equal(t, sigv4.ErrMalformedRequest, kindOf(t, err))
		require.Contains(t, err.Error(), "aws-chunked")
		require.False(t, g.wasRead())
	}

	// UNSIGNED-PAYLOAD without aws-chunked, and the streaming modes with it,
	// are fine.
	r := httptest.NewRequest("PUT", "http://s3.example/bkt/obj", bytes.NewReader(payload))
	r.Header.Set("Content-Encoding", "gzip")
	o := defaultSign()
	o.payloadHash = "UNSIGNED-PAYLOAD"
	signReq(t, r, payload, o)
	_, err := newVerifier().Verify(r)
	require.NoError(t, err)

	r = httptest.NewRequest("PUT", "http://s3.example/bkt/obj", bytes.NewReader(body))
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(payload)))
	o.payloadHash = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	signReq(t, r, body, o)
	_, err = newVerifier().Verify(r)
	require.NoError(t, err)
	got, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	require.Equal(t, payload, got)
}
