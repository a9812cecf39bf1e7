package admin_test

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

	"github.com/envkms/kms/admin"
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

func lookup(ak string) (string, bool, bool) {
	switch ak {
	case adminAK:
		return adminSK, true, true
	case userAK:
		return userSK, false, true
	}
	return "", false, false
}

func newVerifier(opts ...admin.SigV4Option) *admin.SigV4Verifier {
	return admin.NewSigV4Verifier(lookup, append([]admin.SigV4Option{admin.WithClock(func() time.Time { return testNow })}, opts...)...)
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
	Admin     bool   `json:"admin"`
	Body      string `json:"body"`
	Err       string `json:"err"`
}

// verifierServer authenticates with v, then reads the whole body.
func verifierServer(t testing.TB, v admin.Authenticator, mount string) *httptest.Server {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := v.Authenticate(r)
		if err != nil {
			require.ErrorIs(t, err, admin.ErrUnauthenticated)
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(echo{Err: err.Error()})
			return
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			require.ErrorIs(t, err, admin.ErrUnauthenticated)
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(echo{Err: err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(echo{AccessKey: p.AccessKey, Admin: p.Admin, Body: string(b)})
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
		{name: "execute-api without content hash header", method: "POST", path: "/admin/v3/kms/keys", body: body,
			opts: func(o *signOpts) { o.service = "execute-api"; o.hashHeader = false }},
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
			require.True(t, e.Admin)
			require.Equal(t, string(tc.body), e.Body)
		})
	}
}

func TestSigV4NonAdminIsAuthenticatedButNotAdmin(t *testing.T) {
	srv := verifierServer(t, newVerifier(), "")
	req := newReq(t, "GET", srv.URL+"/kms/status", nil)
	o := defaultSign()
	o.ak, o.sk = userAK, userSK
	signReq(t, req, nil, o)
	code, e := do(t, req)
	require.Equal(t, http.StatusOK, code, e.Err)
	require.Equal(t, userAK, e.AccessKey)
	require.False(t, e.Admin)
}

func TestSigV4Refuses(t *testing.T) {
	srv := verifierServer(t, newVerifier(admin.WithRegions(region)), "/admin/v3/")
	body := []byte(`{"key_id":"k1"}`)
	u := srv.URL + "/admin/v3/kms/keys?limit=10&marker=a"
	cases := []struct {
		name string
		mk   func(t *testing.T) *http.Request
		want string
	}{
		{"unsigned", func(t *testing.T) *http.Request { return newReq(t, "POST", u, body) }, "not signed"},
		{"wrong secret", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			o := defaultSign()
			o.sk = "not-the-secret"
			signReq(t, r, body, o)
			return r
		}, "signature does not match"},
		{"unknown access key", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			o := defaultSign()
			o.ak = "AKIAUNKNOWN"
			signReq(t, r, body, o)
			return r
		}, "unknown access key"},
		{"tampered signed header", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			r.Header.Set("Content-Type", "application/json")
			signReq(t, r, body, defaultSign())
			r.Header.Set("Content-Type", "text/plain")
			return r
		}, "signature does not match"},
		{"tampered x-amz-date", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			signReq(t, r, body, defaultSign())
			r.Header.Set("X-Amz-Date", testNow.Add(time.Second).Format("20060102T150405Z"))
			return r
		}, "signature does not match"},
		{"tampered query", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			signReq(t, r, body, defaultSign())
			r.URL.RawQuery = "limit=11&marker=a"
			return r
		}, "signature does not match"},
		{"added query parameter", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			signReq(t, r, body, defaultSign())
			r.URL.RawQuery += "&extra=1"
			return r
		}, "signature does not match"},
		{"tampered path", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			signReq(t, r, body, defaultSign())
			r.URL.Path = "/admin/v3/kms/keyz"
			return r
		}, "signature does not match"},
		{"tampered method", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			signReq(t, r, body, defaultSign())
			r.Method = "PUT"
			return r
		}, "signature does not match"},
		{"tampered body with hex hash", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			signReq(t, r, body, defaultSign())
			evil := []byte(`{"key_id":"k2"}`)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(evil)), int64(len(evil))
			return r
		}, "payload does not match"},
		{"tampered body without hash header", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			o := defaultSign()
			o.service, o.hashHeader = "execute-api", false
			signReq(t, r, body, o)
			evil := []byte(`{"key_id":"k2"}`)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(evil)), int64(len(evil))
			return r
		}, "signature does not match"},
		{"hash header swapped to UNSIGNED-PAYLOAD", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			signReq(t, r, body, defaultSign())
			r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			return r
		}, "signature does not match"},
		{"skew beyond 15 min (replayed later)", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			o := defaultSign()
			o.at = testNow.Add(-16 * time.Minute)
			signReq(t, r, body, o)
			return r
		}, "too skewed"},
		{"skew beyond 15 min in the future", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			o := defaultSign()
			o.at = testNow.Add(16 * time.Minute)
			signReq(t, r, body, o)
			return r
		}, "too skewed"},
		{"region not accepted", func(t *testing.T) *http.Request {
			r := newReq(t, "GET", u, nil)
			signReq(t, r, nil, defaultSign())
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/us-east-1/", "/eu-west-1/", 1))
			return r
		}, "region not accepted"},
		{"header and query signature", func(t *testing.T) *http.Request {
			r := newReq(t, "GET", u+"&X-Amz-Signature=00", nil)
			signReq(t, r, nil, defaultSign())
			return r
		}, "both"},
		{"other scheme", func(t *testing.T) *http.Request {
			r := newReq(t, "GET", u, nil)
			r.Header.Set("Authorization", "Basic YWRtaW46YWRtaW4=")
			return r
		}, "unsupported authorization scheme"},
		{"host not signed", func(t *testing.T) *http.Request {
			r := newReq(t, "GET", u, nil)
			signReq(t, r, nil, defaultSign())
			a := r.Header.Get("Authorization")
			a = strings.Replace(a, "SignedHeaders=host;", "SignedHeaders=", 1)
			r.Header.Set("Authorization", a)
			return r
		}, "host header must be signed"},
		{"signed header missing", func(t *testing.T) *http.Request {
			r := newReq(t, "GET", u, nil)
			r.Header.Set("X-Amz-Meta-Foo", "bar")
			signReq(t, r, nil, defaultSign())
			r.Header.Del("X-Amz-Meta-Foo")
			return r
		}, "signed header is missing"},
		{"trailer streaming mode", func(t *testing.T) *http.Request {
			r := newReq(t, "POST", u, body)
			o := defaultSign()
			o.payloadHash = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
			signReq(t, r, body, o)
			return r
		}, "unsupported streaming"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, e := do(t, tc.mk(t))
			require.Equal(t, http.StatusUnauthorized, code)
			require.Contains(t, e.Err, tc.want)
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
	}{
		{"expired", func(t *testing.T) string {
			return presign(t, "GET", base, testNow.Add(-2*time.Hour), time.Hour, adminSK)
		}, "expired"},
		{"future beyond skew", func(t *testing.T) string {
			return presign(t, "GET", base, testNow.Add(20*time.Minute), time.Hour, adminSK)
		}, "future"},
		{"wrong secret", func(t *testing.T) string {
			return presign(t, "GET", base, testNow, time.Hour, "nope")
		}, "signature does not match"},
		{"tampered query", func(t *testing.T) string {
			return strings.Replace(presign(t, "GET", base, testNow, time.Hour, adminSK), "limit=5", "limit=6", 1)
		}, "signature does not match"},
		{"extended expiry", func(t *testing.T) string {
			return strings.Replace(presign(t, "GET", base, testNow.Add(-2*time.Hour), time.Hour, adminSK), "X-Amz-Expires=3600", "X-Amz-Expires=86400", 1)
		}, "signature does not match"},
		{"expiry beyond 7 days", func(t *testing.T) string {
			return presign(t, "GET", base, testNow, 8*24*time.Hour, adminSK)
		}, "X-Amz-Expires"},
		{"missing signature", func(t *testing.T) string {
			u, _ := url.Parse(presign(t, "GET", base, testNow, time.Hour, adminSK))
			q := u.Query()
			q.Del("X-Amz-Signature")
			u.RawQuery = q.Encode()
			return u.String()
		}, "X-Amz-Signature"},
	}
	for _, tc := range refuse {
		t.Run(tc.name, func(t *testing.T) {
			code, e := do(t, newReq(t, "GET", tc.url(t), nil))
			require.Equal(t, http.StatusUnauthorized, code)
			require.Contains(t, e.Err, tc.want)
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

func streamingRequest(t testing.TB, u string, payload []byte, tamper func([]byte)) *http.Request {
	t.Helper()
	// Sign the headers first to get the seed signature, as SDK uploaders do;
	// the content length is that of the encoded body, so compute it first.
	probe := newReq(t, "POST", u, nil)
	probe.Header.Set("Content-Encoding", "aws-chunked")
	probe.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(payload)))
	// The encoded length does not depend on signature values.
	encLen := len(chunkedBody(t, payload, 16, strings.Repeat("00", 32), testNow))
	probe.ContentLength = int64(encLen)
	o := defaultSign()
	o.payloadHash = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	signReq(t, probe, nil, o)
	seed := probe.Header.Get("Authorization")
	seed = seed[strings.LastIndex(seed, "Signature=")+len("Signature="):]
	body := chunkedBody(t, payload, 16, seed, testNow)
	require.Len(t, body, encLen)
	if tamper != nil {
		tamper(body)
	}
	probe.Body = io.NopCloser(bytes.NewReader(body))
	return probe
}

func TestSigV4StreamingChunks(t *testing.T) {
	srv := verifierServer(t, newVerifier(), "")
	payload := []byte(`{"key_id":"k1","encryption_context":{"bucket":"b","object":"o"}}`)

	code, e := do(t, streamingRequest(t, srv.URL+"/kms/generate-data-key", payload, nil))
	require.Equal(t, http.StatusOK, code, e.Err)
	require.Equal(t, string(payload), e.Body)

	code, e = do(t, streamingRequest(t, srv.URL+"/kms/generate-data-key", payload, func(b []byte) {
		i := bytes.Index(b, []byte("k1"))
		b[i+1] = '2'
	}))
	require.Equal(t, http.StatusUnauthorized, code)
	require.Contains(t, e.Err, "chunk signature does not match")
}

func TestSigV4BodyMismatchIsErrUnauthenticated(t *testing.T) {
	v := newVerifier()
	body := []byte(`{"a":1}`)
	req := httptest.NewRequest("POST", "http://kms.example/kms/decrypt", bytes.NewReader(body))
	signReq(t, req, body, defaultSign())
	req.Body = io.NopCloser(strings.NewReader(`{"a":2}`))
	_, err := v.Authenticate(req)
	require.NoError(t, err)
	_, err = io.ReadAll(req.Body)
	require.ErrorIs(t, err, admin.ErrUnauthenticated)
	// Sticky.
	_, err2 := req.Body.Read(make([]byte, 1))
	require.True(t, errors.Is(err2, admin.ErrUnauthenticated))
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
		p, err := v.Authenticate(req)
		if err == nil {
			t.Fatalf("forged request authenticated as %+v", p)
		}
		if !errors.Is(err, admin.ErrUnauthenticated) {
			t.Fatalf("error does not wrap ErrUnauthenticated: %v", err)
		}
		if strings.Contains(err.Error(), adminSK) {
			t.Fatal("secret in error")
		}
	})
}
