package sigv4_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/sigv4"
)

const (
	adminAK  = "AKIAADMINEXAMPLE"
	adminSK  = "admin-secret-key-0123456789abcdefghij"
	userAK   = "AKIAUSEREXAMPLE0"
	userSK   = "user-secret-key-0123456789abcdefghijk"
	region   = "us-east-1"
	emptyHex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func lookup(ak string) (string, bool) {
	switch ak {
	case adminAK:
		return adminSK, true
	case userAK:
		return userSK, true
	}
	return "", false
}

func newVerifier(opts ...sigv4.Option) *sigv4.Verifier {
	return sigv4.NewVerifier(lookup, append([]sigv4.Option{sigv4.WithClock(func() time.Time { return testNow })}, opts...)...)
}

// sentinels are the package's error kinds, for kindOf.
var sentinels = []error{
	sigv4.ErrNotSigned, sigv4.ErrMalformedRequest, sigv4.ErrUnsupported, sigv4.ErrUnknownAccessKey,
	sigv4.ErrRequestTime, sigv4.ErrSignatureMismatch, sigv4.ErrPayloadNotSigned, sigv4.ErrPayloadMismatch,
	sigv4.ErrMalformedBody,
}

// kindOf returns the one sentinel err wraps, failing the test unless err is
// an *sigv4.Error wrapping exactly one.
func kindOf(t testing.TB, err error) error {
	t.Helper()
	var se *sigv4.Error
	require.ErrorAs(t, err, &se)
	var kind error
	for _, s := range sentinels {
		if errors.Is(err, s) {
			require.Nil(t, kind, "%v wraps two sentinels", err)
			kind = s
		}
	}
	require.NotNil(t, kind, "%v wraps no sentinel", err)
	return kind
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// signOpts says how a test request is signed.
type signOpts struct {
	ak, sk      string
	service     string
	at          time.Time
	payloadHash string // "" = sha256 of the body
	hashHeader  bool   // send x-amz-content-sha256
}

func defaultSign() signOpts {
	return signOpts{ak: adminAK, sk: adminSK, service: "s3", at: testNow, hashHeader: true}
}

// signReq signs req with the AWS SDK's v4 signer, as awscurl does.
func signReq(t testing.TB, req *http.Request, body []byte, o signOpts) {
	t.Helper()
	ph := o.payloadHash
	if ph == "" {
		ph = sha256Hex(body)
	}
	if o.hashHeader {
		req.Header.Set("X-Amz-Content-Sha256", ph)
	}
	s := v4.NewSigner(func(so *v4.SignerOptions) { so.DisableURIPathEscaping = o.service == "s3" })
	err := s.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: o.ak, SecretAccessKey: o.sk}, req, ph, o.service, region, o.at)
	require.NoError(t, err)
}

func newReq(t testing.TB, method, u string, body []byte) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	require.NoError(t, err)
	return req
}

type echo struct {
	AccessKey string `json:"ak"`
	Region    string `json:"region"`
	Service   string `json:"service"`
	Body      string `json:"body"`
	Err       string `json:"err"`
	Kind      string `json:"kind"` // the sentinel's text
}

// verifierServer verifies with v, then reads the whole body.
func verifierServer(t testing.TB, v *sigv4.Verifier, mount string) *httptest.Server {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := v.Verify(r)
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(echo{Err: err.Error(), Kind: kindOf(t, err).Error()})
			return
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(echo{Err: err.Error(), Kind: kindOf(t, err).Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(echo{AccessKey: id.AccessKey, Region: id.Region, Service: id.Service, Body: string(b)})
	})
	var root http.Handler = h
	if mount != "" {
		mux := http.NewServeMux()
		mux.Handle(mount, http.StripPrefix(strings.TrimSuffix(mount, "/"), h))
		root = mux
	}
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)
	return srv
}

func do(t testing.TB, req *http.Request) (int, echo) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var e echo
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	return resp.StatusCode, e
}

func TestSigV4Accepts(t *testing.T) {
	srv := verifierServer(t, newVerifier(), "/admin/v3/")
	body := []byte(`{"key_id":"k1","encryption_context":{"bucket":"b"}}`)
	cases := []struct {
		name   string
		method string
		path   string
		body   []byte
		opts   func(*signOpts)
	}{
		{name: "s3 GET", method: "GET", path: "/admin/v3/kms/status"},
		{name: "s3 POST hex payload", method: "POST", path: "/admin/v3/kms/generate-data-key", body: body},
		{name: "query needing canonical encoding", method: "GET",
			path: "/admin/v3/kms/keys?marker=key%20with%20space&limit=10&z=a%2Fb%2Bc&tilde=~x&star=%2A&empty=&b=2&b=1"},
		{name: "execute-api with content hash header", method: "POST", path: "/admin/v3/kms/keys", body: body,
			opts: func(o *signOpts) { o.service = "execute-api" }},
		{name: "no content hash header and no body", method: "GET", path: "/admin/v3/kms/status",
			opts: func(o *signOpts) { o.hashHeader = false }},
		{name: "execute-api GET escaped path", method: "GET", path: "/admin/v3/kms/keys/a%20b",
			opts: func(o *signOpts) { o.service = "execute-api" }},
		{name: "unsigned payload", method: "POST", path: "/admin/v3/kms/decrypt", body: body,
			opts: func(o *signOpts) { o.payloadHash = "UNSIGNED-PAYLOAD" }},
		{name: "clock skew within 15 min", method: "GET", path: "/admin/v3/kms/status",
			opts: func(o *signOpts) { o.at = testNow.Add(-14 * time.Minute) }},
		{name: "clock ahead within 15 min", method: "GET", path: "/admin/v3/kms/status",
			opts: func(o *signOpts) { o.at = testNow.Add(14 * time.Minute) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := newReq(t, tc.method, srv.URL+tc.path, tc.body)
			req.Header.Set("Content-Type", "application/json")
			o := defaultSign()
			if tc.opts != nil {
				tc.opts(&o)
			}
			signReq(t, req, tc.body, o)
			code, e := do(t, req)
			require.Equal(t, http.StatusOK, code, e.Err)
			require.Equal(t, adminAK, e.AccessKey)
			require.Equal(t, string(tc.body), e.Body)
		})
	}
}

func TestVerifyReturnsIdentity(t *testing.T) {
	srv := verifierServer(t, newVerifier(), "")
	req := newReq(t, "GET", srv.URL+"/kms/status", nil)
	o := defaultSign()
	o.ak, o.sk, o.service = userAK, userSK, "execute-api"
	signReq(t, req, nil, o)
	code, e := do(t, req)
	require.Equal(t, http.StatusOK, code, e.Err)
	require.Equal(t, echo{AccessKey: userAK, Region: region, Service: "execute-api"}, e)
}

func TestSigV4Refuses(t *testing.T) {
	srv := verifierServer(t, newVerifier(sigv4.WithRegions(region)), "/admin/v3/")
	body := []byte(`{"key_id":"k1"}`)
	u := srv.URL + "/admin/v3/kms/keys?limit=10&marker=a"
	cases := []struct {
		name string
		mk   func(t *testing.T) *http.Request
		want string
		kind error
	}{
		{"unsigned", func(t *testing.T) *http.Request { return newReq(t, "POST", u, body) }, "not signed", sigv4.ErrNotSigned},
		{"wrong secret", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			o := defaultSign()
			o.sk = "not-the-secret"
			signReq(t, r, body, o)
			return r
		}, "signature does not match", sigv4.ErrSignatureMismatch},
		{"unknown access key", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			o := defaultSign()
			o.ak = "AKIAUNKNOWN"
			signReq(t, r, body, o)
			return r
		}, "unknown access key", sigv4.ErrUnknownAccessKey},
		{"tampered signed header", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			r.Header.Set("Content-Type", "application/json")
			signReq(t, r, body, defaultSign())
			r.Header.Set("Content-Type", "text/plain")
			return r
		}, "signature does not match", sigv4.ErrSignatureMismatch},
		{"tampered x-amz-date", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			signReq(t, r, body, defaultSign())
			r.Header.Set("X-Amz-Date", testNow.Add(time.Second).Format("20060102T150405Z"))
			return r
		}, "signature does not match", sigv4.ErrSignatureMismatch},
		{"tampered query", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			signReq(t, r, body, defaultSign())
			r.URL.RawQuery = "limit=11&marker=a"
			return r
		}, "signature does not match", sigv4.ErrSignatureMismatch},
		{"added query parameter", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			signReq(t, r, body, defaultSign())
			r.URL.RawQuery += "&extra=1"
			return r
		}, "signature does not match", sigv4.ErrSignatureMismatch},
		{"tampered path", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			signReq(t, r, body, defaultSign())
			r.URL.Path = "/admin/v3/kms/keyz"
			return r
		}, "signature does not match", sigv4.ErrSignatureMismatch},
		{"tampered method", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			signReq(t, r, body, defaultSign())
			r.Method = "PUT"
			return r
		}, "signature does not match", sigv4.ErrSignatureMismatch},
		{"tampered body with hex hash", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			signReq(t, r, body, defaultSign())
			evil := []byte(`{"key_id":"k2"}`)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(evil)), int64(len(evil))
			return r
		}, "payload does not match", sigv4.ErrPayloadMismatch},
		{"tampered body without hash header", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			o := defaultSign()
			o.service, o.hashHeader = "execute-api", false
			signReq(t, r, body, o)
			evil := []byte(`{"key_id":"k2"}`)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(evil)), int64(len(evil))
			return r
		}, "missing x-amz-content-sha256", sigv4.ErrMalformedRequest},
		{"hash header swapped to UNSIGNED-PAYLOAD", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			signReq(t, r, body, defaultSign())
			r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			return r
		}, "signature does not match", sigv4.ErrSignatureMismatch},
		{"skew beyond 15 min (replayed later)", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			o := defaultSign()
			o.at = testNow.Add(-16 * time.Minute)
			signReq(t, r, body, o)
			return r
		}, "too skewed", sigv4.ErrRequestTime},
		{"skew beyond 15 min in the future", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			o := defaultSign()
			o.at = testNow.Add(16 * time.Minute)
			signReq(t, r, body, o)
			return r
		}, "too skewed", sigv4.ErrRequestTime},
		{"region not accepted", func(t *testing.T) *http.Request {
			r := newReq(t, "GET", u, nil)
			signReq(t, r, nil, defaultSign())
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/us-east-1/", "/eu-west-1/", 1))
			return r
		}, "region not accepted", sigv4.ErrMalformedRequest},
		{"header and query signature", func(t *testing.T) *http.Request {
			r := newReq(t, "GET", u+"&X-Amz-Signature=00", nil)
			signReq(t, r, nil, defaultSign())
			return r
		}, "both", sigv4.ErrMalformedRequest},
		{"other scheme", func(t *testing.T) *http.Request {
			r := newReq(t, "GET", u, nil)
			r.Header.Set("Authorization", "Basic YWRtaW46YWRtaW4=")
			return r
		}, "unsupported authorization scheme", sigv4.ErrUnsupported},
		{"host not signed", func(t *testing.T) *http.Request {
			r := newReq(t, "GET", u, nil)
			signReq(t, r, nil, defaultSign())
			a := r.Header.Get("Authorization")
			a = strings.Replace(a, "SignedHeaders=host;", "SignedHeaders=", 1)
			r.Header.Set("Authorization", a)
			return r
		}, "host header must be signed", sigv4.ErrMalformedRequest},
		{"signed header missing", func(t *testing.T) *http.Request {
			r := newReq(t, "GET", u, nil)
			r.Header.Set("X-Amz-Meta-Foo", "bar")
			signReq(t, r, nil, defaultSign())
			r.Header.Del("X-Amz-Meta-Foo")
			return r
		}, "signed header is missing", sigv4.ErrMalformedRequest},
		{"trailer streaming mode", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			o := defaultSign()
			o.payloadHash = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
			signReq(t, r, body, o)
			return r
		}, "unsupported streaming", sigv4.ErrUnsupported},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, e := do(t, tc.mk(t))
			require.Equal(t, http.StatusUnauthorized, code)
			require.Contains(t, e.Err, tc.want)
			require.Equal(t, tc.kind.Error(), e.Kind)
			require.NotContains(t, e.Err, adminSK)
		})
	}
}

// presign returns a presigned URL for method+u, signed by the SDK.
func presign(t testing.TB, method, u string, at time.Time, expires time.Duration, sk string) string {
	t.Helper()
	req := newReq(t, method, u, nil)
	q := req.URL.Query()
	q.Set("X-Amz-Expires", strconv.Itoa(int(expires/time.Second)))
	req.URL.RawQuery = q.Encode()
	s := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	signed, _, err := s.PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: adminAK, SecretAccessKey: sk},
		req, "UNSIGNED-PAYLOAD", "s3", region, at)
	require.NoError(t, err)
	return signed
}

func TestSigV4Presigned(t *testing.T) {
	srv := verifierServer(t, newVerifier(), "/admin/v3/")
	base := srv.URL + "/admin/v3/kms/keys?limit=5&marker=x%20y"

	t.Run("valid", func(t *testing.T) {
		code, e := do(t, newReq(t, "GET", presign(t, "GET", base, testNow.Add(-10*time.Minute), time.Hour, adminSK), nil))
		require.Equal(t, http.StatusOK, code, e.Err)
		require.Equal(t, adminAK, e.AccessKey)
	})
	refuse := []struct {
		name string
		url  func(t *testing.T) string
		want string
		kind error
	}{
		{"expired", func(t *testing.T) string {
			return presign(t, "GET", base, testNow.Add(-2*time.Hour), time.Hour, adminSK)
		}, "expired", sigv4.ErrRequestTime},
		{"future beyond skew", func(t *testing.T) string {
			return presign(t, "GET", base, testNow.Add(20*time.Minute), time.Hour, adminSK)
		}, "future", sigv4.ErrRequestTime},
		{"wrong secret", func(t *testing.T) string {
			return presign(t, "GET", base, testNow, time.Hour, "nope")
		}, "signature does not match", sigv4.ErrSignatureMismatch},
		{"tampered query", func(t *testing.T) string {
			return strings.Replace(presign(t, "GET", base, testNow, time.Hour, adminSK), "limit=5", "limit=6", 1)
		}, "signature does not match", sigv4.ErrSignatureMismatch},
		{"extended expiry", func(t *testing.T) string {
			return strings.Replace(presign(t, "GET", base, testNow.Add(-2*time.Hour), time.Hour, adminSK), "X-Amz-Expires=3600", "X-Amz-Expires=86400", 1)
		}, "signature does not match", sigv4.ErrSignatureMismatch},
		{"expiry beyond 7 days", func(t *testing.T) string {
			return presign(t, "GET", base, testNow, 8*24*time.Hour, adminSK)
		}, "X-Amz-Expires", sigv4.ErrMalformedRequest},
		{"missing signature", func(t *testing.T) string {
			u, _ := url.Parse(presign(t, "GET", base, testNow, time.Hour, adminSK))
			q := u.Query()
			q.Del("X-Amz-Signature")
			u.RawQuery = q.Encode()
			return u.String()
		}, "X-Amz-Signature", sigv4.ErrMalformedRequest},
	}
	for _, tc := range refuse {
		t.Run(tc.name, func(t *testing.T) {
			code, e := do(t, newReq(t, "GET", tc.url(t), nil))
			require.Equal(t, http.StatusUnauthorized, code)
			require.Contains(t, e.Err, tc.want)
			require.Equal(t, tc.kind.Error(), e.Kind)
		})
	}
	t.Run("other method", func(t *testing.T) {
		code, _ := do(t, newReq(t, "DELETE", presign(t, "GET", base, testNow, time.Hour, adminSK), nil))
		require.Equal(t, http.StatusUnauthorized, code)
	})
}

// chunkedBody encodes payload as aws-chunked, signing each chunk with the
// SDK's stream signer chained from seed.
func chunkedBody(t testing.TB, payload []byte, chunk int, seed string, at time.Time) []byte {
	t.Helper()
	seedB, err := hex.DecodeString(seed)
	require.NoError(t, err)
	ss := v4.NewStreamSigner(aws.Credentials{AccessKeyID: adminAK, SecretAccessKey: adminSK}, "s3", region, seedB)
	var out bytes.Buffer
	for {
		n := min(chunk, len(payload))
		data := payload[:n]
		payload = payload[n:]
		sig, err := ss.GetSignature(context.Background(), nil, data, at)
		require.NoError(t, err)
		fmt.Fprintf(&out, "%x;chunk-signature=%x\r\n", n, sig)
		out.Write(data)
		out.WriteString("\r\n")
		if n == 0 {
			return out.Bytes()
		}
	}
}

// streamingRequest is a STREAMING-AWS4-HMAC-SHA256-PAYLOAD POST of payload
// in chunks of chunk bytes; tamper may change the encoded body.
func streamingRequest(t testing.TB, u string, payload []byte, chunk int, tamper func([]byte)) *http.Request {
	t.Helper()
	// Sign the headers first to get the seed signature, as SDK uploaders do;
	// the content length is that of the encoded body, so compute it first.
	probe := newReq(t, "POST", u, nil)
	probe.Header.Set("Content-Encoding", "aws-chunked")
	probe.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(payload)))
	// The encoded length does not depend on signature values.
	encLen := len(chunkedBody(t, payload, chunk, strings.Repeat("00", 32), testNow))
	probe.ContentLength = int64(encLen)
	o := defaultSign()
	o.payloadHash = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	signReq(t, probe, nil, o)
	seed := probe.Header.Get("Authorization")
	seed = seed[strings.LastIndex(seed, "Signature=")+len("Signature="):]
	body := chunkedBody(t, payload, chunk, seed, testNow)
	require.Len(t, body, encLen)
	if tamper != nil {
		tamper(body)
	}
	probe.Body = io.NopCloser(bytes.NewReader(body))
	return probe
}

// bigJSON is a JSON document of about n bytes.
func bigJSON(n int) []byte {
	return []byte(`{"key_id":"k1","pad":"` + strings.Repeat("p", n) + `"}`)
}

func TestSigV4StreamingChunks(t *testing.T) {
	srv := verifierServer(t, newVerifier(), "")
	u := srv.URL + "/kms/generate-data-key"
	payload := bigJSON(20_000) // chunks of 8192, 8192 and the rest

	code, e := do(t, streamingRequest(t, u, payload, 8192, nil))
	require.Equal(t, http.StatusOK, code, e.Err)
	require.Equal(t, string(payload), e.Body)

	// One chunk under 8 KiB is fine when it is the only one.
	small := []byte(`{"key_id":"k1"}`)
	code, e = do(t, streamingRequest(t, u, small, 8192, nil))
	require.Equal(t, http.StatusOK, code, e.Err)
	require.Equal(t, string(small), e.Body)

	for _, tc := range []struct {
		name    string
		payload []byte
		chunk   int
		tamper  func([]byte)
		want    string
		kind    error
	}{
		{"tampered chunk data", payload, 8192, func(b []byte) { b[bytes.Index(b, []byte("k1"))+1] = '2' },
			"chunk signature does not match", sigv4.ErrSignatureMismatch},
		{"tampered last chunk", payload, 8192, func(b []byte) { b[len(b)-100] ^= 1 },
			"chunk signature does not match", sigv4.ErrSignatureMismatch},
		{"chunk under 8 KiB before the last", payload, 4096, nil,
			"only the last chunk may be smaller than 8192 bytes", sigv4.ErrMalformedBody},
		{"chunk over 1 MiB", bigJSON(1<<20 + 10), 1<<20 + 100, nil,
			"chunk larger than 1 MiB", sigv4.ErrMalformedBody},
		{"signature dropped", small, 8192, func(b []byte) {
			i := bytes.Index(b, []byte(";chunk-signature="))
			copy(b[i:], strings.Repeat("0", 81)) // ";chunk-signature=" + 64 hex
		}, "malformed chunk size", sigv4.ErrMalformedBody},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, e := do(t, streamingRequest(t, u, tc.payload, tc.chunk, tc.tamper))
			require.Equal(t, http.StatusUnauthorized, code)
			require.Contains(t, e.Err, tc.want)
			require.Equal(t, tc.kind.Error(), e.Kind)
		})
	}
}

// STREAMING-UNSIGNED-PAYLOAD-TRAILER bodies are decoded by the Verifier:
// r.Body yields the payload and Trailer the checksum.
func TestSigV4UnsignedTrailerDecoded(t *testing.T) {
	v := newVerifier()
	payload := bigJSON(100_000)
	body := encodeChunked(payload, 65536, "x-amz-checksum-crc32:AAAAAA==")
	req := httptest.NewRequest("PUT", "http://s3.example/b/k", bytes.NewReader(body))
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
	req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(payload)))
	o := defaultSign()
	o.payloadHash = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	signReq(t, req, nil, o)
	_, err := v.Verify(req)
	require.NoError(t, err)
	cr, ok := req.Body.(*sigv4.ChunkedReader)
	require.True(t, ok, "r.Body is %T", req.Body)
	got, err := io.ReadAll(cr)
	require.NoError(t, err)
	require.Equal(t, payload, got)
	require.Equal(t, "AAAAAA==", cr.Trailer().Get("X-Amz-Checksum-Crc32"))
}

func TestSigV4BodyMismatchIsErrPayloadMismatch(t *testing.T) {
	v := newVerifier()
	body := []byte(`{"a":1}`)
	req := httptest.NewRequest("POST", "http://kms.example/kms/decrypt", bytes.NewReader(body))
	signReq(t, req, body, defaultSign())
	req.Body = io.NopCloser(strings.NewReader(`{"a":2}`))
	_, err := v.Verify(req)
	require.NoError(t, err)
	_, err = io.ReadAll(req.Body)
	require.ErrorIs(t, err, sigv4.ErrPayloadMismatch)
	// Sticky.
	_, err2 := req.Body.Read(make([]byte, 1))
	require.ErrorIs(t, err2, sigv4.ErrPayloadMismatch)
}

func FuzzSigV4Authorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAADMINEXAMPLE/20250601/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature="+strings.Repeat("a", 64), "20250601T120000Z", "limit=1")
	f.Add("AWS4-HMAC-SHA256 Credential=/", "x", "X-Amz-Signature=1&X-Amz-Credential=a/b")
	f.Add("AWS4-HMAC-SHA256 ,,,=", "", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAADMINEXAMPLE%2F20250601%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250601T120000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature="+strings.Repeat("0", 64))
	v := newVerifier()
	f.Fuzz(func(t *testing.T, authz, date, rawQuery string) {
		req := httptest.NewRequest("GET", "http://kms.example/kms/status", nil)
		req.URL.RawQuery = rawQuery
		req.RequestURI = "/kms/status?" + rawQuery
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		req.Header.Set("X-Amz-Date", date)
		id, err := v.Verify(req)
		if err == nil {
			t.Fatalf("forged request verified as %+v", id)
		}
		kindOf(t, err)
		if strings.Contains(err.Error(), adminSK) {
			t.Fatal("secret in error")
		}
	})
}
