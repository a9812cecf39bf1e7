package sigv4_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/sigv4"
)

// An x-amz-* header the client did not sign could be added or changed by
// whoever holds the request (a replayed request, or a presigned URL handed to
// a third party): e.g. X-Amz-Copy-Source turns a presigned PUT into a copy of
// another object. Such requests are refused, as S3 does.
func TestSigV4RefusesUnsignedAmzHeaders(t *testing.T) {
	srv := verifierServer(t, newVerifier(), "/admin/v3/")
	u := srv.URL + "/admin/v3/bucket/obj"

	t.Run("header form", func(t *testing.T) {
		r := newReq(t, "PUT", u, []byte("x"))
		signReq(t, r, []byte("x"), defaultSign())
		r.Header.Set("X-Amz-Copy-Source", "secret-bucket/secret")
		code, e := do(t, r)
		require.Equal(t, http.StatusUnauthorized, code)
		require.Contains(t, e.Err, "not signed")
	})
	t.Run("presigned", func(t *testing.T) {
		r := newReq(t, "PUT", presign(t, "PUT", u, testNow, time.Hour, adminSK), nil)
		r.Header.Set("X-Amz-Copy-Source", "secret-bucket/secret")
		code, e := do(t, r)
		require.Equal(t, http.StatusUnauthorized, code)
		require.Contains(t, e.Err, "not signed")
	})
	t.Run("signed x-amz header is fine", func(t *testing.T) {
		r := newReq(t, "PUT", u, nil)
		r.Header.Set("X-Amz-Copy-Source", "b/o")
		signReq(t, r, nil, defaultSign())
		code, e := do(t, r)
		require.Equal(t, http.StatusOK, code, e.Err)
	})
	t.Run("unsigned x-amz-content-sha256 (awscurl) is fine", func(t *testing.T) {
		body := []byte(`{"a":1}`)
		r := newReq(t, "POST", u, body)
		o := defaultSign()
		o.hashHeader = false
		signReq(t, r, body, o)
		r.Header.Set("X-Amz-Content-Sha256", sha256Hex(body))
		code, e := do(t, r)
		require.Equal(t, http.StatusOK, code, e.Err)
		require.Equal(t, string(body), e.Body)
	})
}

// X-Amz-Expires so large that seconds→Duration overflows must be refused,
// not wrapped around into a small, "valid" lifetime.
func TestSigV4PresignedExpiresOverflow(t *testing.T) {
	srv := verifierServer(t, newVerifier(), "/admin/v3/")
	req := newReq(t, "GET", srv.URL+"/admin/v3/kms/status", nil)
	q := req.URL.Query()
	q.Set("X-Amz-Expires", "18446744074") // *1e9 wraps to ~0.29 s
	req.URL.RawQuery = q.Encode()
	s := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	signed, _, err := s.PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: adminAK, SecretAccessKey: adminSK},
		req, "UNSIGNED-PAYLOAD", "s3", region, testNow)
	require.NoError(t, err)
	code, e := do(t, newReq(t, "GET", signed, nil))
	require.Equal(t, http.StatusUnauthorized, code)
	require.Contains(t, e.Err, "X-Amz-Expires")
}

// A signature over the raw path ".../x%2520y" (S3 rule: path signed as is)
// must not authenticate ".../x%20y", whose path escaped once more gives the
// same canonical URI but names another resource ("x y", not "x%20y").
func TestSigV4PathEscapingFallbackIsNotAmbiguous(t *testing.T) {
	srv := verifierServer(t, newVerifier(), "/admin/v3/")
	signed := newReq(t, "GET", srv.URL+"/admin/v3/kms/keys/x%2520y", nil)
	signReq(t, signed, nil, defaultSign())

	// The original request is accepted...
	code, e := do(t, signed)
	require.Equal(t, http.StatusOK, code, e.Err)

	// ...its headers replayed on another path are not.
	replay := newReq(t, "GET", srv.URL+"/admin/v3/kms/keys/x%20y", nil)
	require.Equal(t, "/admin/v3/kms/keys/x%20y", replay.URL.EscapedPath())
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Content-Sha256"} {
		replay.Header.Set(h, signed.Header.Get(h))
	}
	code, _ = do(t, replay)
	require.Equal(t, http.StatusUnauthorized, code)

	// The fallback still helps a client that used the other rule on a path
	// without percent-escapes (e.g. S3 signed with path escaping on).
	colon := newReq(t, "GET", srv.URL+"/admin/v3/kms/keys/a:b", nil)
	o := defaultSign()
	o.service = "execute-api"
	signReq(t, colon, nil, o)
	code, e = do(t, colon)
	require.Equal(t, http.StatusOK, code, e.Err)
}

// The canonical form joins repeated header lines with ",", so a signed value
// "a,b" could be resent as two lines "a" and "b" and Header.Get (what the
// handlers use) would see "a": e.g. X-Amz-Copy-Source "b/k,x" → "b/k".
func TestSigV4RefusesRepeatedSignedHeaders(t *testing.T) {
	srv := verifierServer(t, newVerifier(), "/admin/v3/")
	r := newReq(t, "PUT", srv.URL+"/admin/v3/bucket/obj", nil)
	r.Header.Set("X-Amz-Copy-Source", "src/key,with,commas")
	signReq(t, r, nil, defaultSign())
	r.Header["X-Amz-Copy-Source"] = []string{"src/key", "with,commas"}
	code, e := do(t, r)
	require.Equal(t, http.StatusUnauthorized, code)
	require.Contains(t, e.Err, "repeated")
}

// With WithSignedPayload a captured request can't be replayed with another
// body: unsigned payload modes are refused when there is a body, and a hashed
// body still works.
func TestSigV4WithSignedPayload(t *testing.T) {
	srv := verifierServer(t, newVerifier(sigv4.WithSignedPayload()), "")
	u := srv.URL + "/kms/decrypt"
	body := []byte(`{"ciphertext_blob":"AAAA"}`)

	for _, ph := range []string{"UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"} {
		r := newReq(t, "POST", u, body)
		o := defaultSign()
		o.payloadHash = ph
		signReq(t, r, body, o)
		code, e := do(t, r)
		require.Equal(t, http.StatusUnauthorized, code, ph)
		require.Contains(t, e.Err, "payload must be signed")
		require.Equal(t, sigv4.ErrPayloadNotSigned.Error(), e.Kind)
	}

	r := newReq(t, "POST", u, body)
	signReq(t, r, body, defaultSign())
	code, e := do(t, r)
	require.Equal(t, http.StatusOK, code, e.Err)
	require.Equal(t, string(body), e.Body)

	// No body: nothing to bind, UNSIGNED-PAYLOAD is fine.
	r = newReq(t, "GET", srv.URL+"/kms/status", nil)
	o := defaultSign()
	o.payloadHash = "UNSIGNED-PAYLOAD"
	signReq(t, r, nil, o)
	code, e = do(t, r)
	require.Equal(t, http.StatusOK, code, e.Err)

	// Without the option the unsigned body is accepted (S3 semantics).
	plain := verifierServer(t, newVerifier(), "")
	r = newReq(t, "POST", plain.URL+"/kms/decrypt", body)
	o = defaultSign()
	o.payloadHash = "UNSIGNED-PAYLOAD"
	signReq(t, r, body, o)
	code, e = do(t, r)
	require.Equal(t, http.StatusOK, code, e.Err)
}

// A presigned URL that repeats X-Amz-Content-Sha256 is refused: it used to
// be taken as absent, so the body was accepted unbound (UNSIGNED-PAYLOAD)
// whatever hash either value named.
func TestSigV4PresignedRepeatedContentSHA256(t *testing.T) {
	body := []byte(`{"key_id":"k1"}`)
	req := newReq(t, "PUT", "http://kms.example/bucket/obj", nil)
	q := req.URL.Query()
	q.Set("X-Amz-Expires", "3600")
	q["X-Amz-Content-Sha256"] = []string{sha256Hex(body), sha256Hex([]byte("other"))}
	req.URL.RawQuery = q.Encode()
	s := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	signed, _, err := s.PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: adminAK, SecretAccessKey: adminSK},
		req, "UNSIGNED-PAYLOAD", "s3", region, testNow)
	require.NoError(t, err)
	r := httptest.NewRequest("PUT", signed, bytes.NewReader([]byte("a body nobody signed")))
	_, err = newVerifier().Verify(r)
	require.ErrorIs(t, err, sigv4.ErrMalformedRequest)
	require.Contains(t, err.Error(), "repeated X-Amz-Content-Sha256")
}
