package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/require"

	"github.com/envkms/kms"
	"github.com/envkms/kms/admin"
	"github.com/envkms/kms/internal/s3srv"
	"github.com/envkms/kms/sigv4"
)

// admClient signs admin API requests with the AWS SDK's v4 signer, the way
// awscurl --service s3 does: x-amz-content-sha256 and Authorization headers.
type admClient struct {
	t      *testing.T
	base   string // server URL + mount prefix
	hc     *http.Client
	ak, sk string
	at     func() time.Time // signing time
}

type admResp struct {
	code int
	body []byte
}

func (r admResp) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), string(r.body))
	return m
}

func (c *admClient) req(method, path, body string, sign bool) *http.Request {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	require.NoError(c.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if sign {
		ph := sha256Hex([]byte(body))
		req.Header.Set("X-Amz-Content-Sha256", ph)
		s := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		at := time.Now()
		if c.at != nil {
			at = c.at()
		}
		require.NoError(c.t, s.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: c.ak, SecretAccessKey: c.sk},
			req, ph, "s3", s3Region, at))
	}
	return req
}

func (c *admClient) send(req *http.Request) admResp {
	c.t.Helper()
	resp, err := c.hc.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return admResp{code: resp.StatusCode, body: b}
}

func (c *admClient) do(method, path, body string) admResp {
	c.t.Helper()
	return c.send(c.req(method, path, body, true))
}

func (c *admClient) ok(method, path, body string) map[string]any {
	c.t.Helper()
	r := c.do(method, path, body)
	require.Equal(c.t, http.StatusOK, r.code, "%s %s: %s", method, path, r.body)
	return r.obj(c.t)
}

func admRequireError(t *testing.T, r admResp, status int, code string) {
	t.Helper()
	require.Equal(t, status, r.code, string(r.body))
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	require.NoError(t, json.Unmarshal(r.body, &e), string(r.body))
	require.Equal(t, code, e.Code)
	require.NotEmpty(t, e.Message)
}

// TestAdminQuickStartSigV4 walks the quick start over the admin API mounted
// in examples/s3server, every request signed with the SDK's v4 signer.
func TestAdminQuickStartSigV4(t *testing.T) {
	env := startS3(t, s3EnvOpts{})
	c := &admClient{t: t, base: env.url + s3srv.AdminPrefix, hc: env.http, ak: env.ak, sk: env.sk}
	masterKey := "e2e-master-" + randomString(24)
	keyDir := t.TempDir()
	cfg := fmt.Sprintf(`{"backend_type":"local","key_dir":%q,"master_key":%q,"default_key_id":"quickstart","enable_cache":true,"cache_ttl_seconds":300,"max_cached_keys":100}`, keyDir, masterKey)

	// s3server starts its Manager itself: configure is refused while it runs.
	require.Equal(t, "Running", c.ok("GET", "kms/status", "")["status"])
	admRequireError(t, c.do("POST", "kms/configure", cfg), http.StatusConflict, "Conflict")
	require.Equal(t, "Configured", c.ok("POST", "kms/stop", "")["status"])

	// Quick start: configure local → start → status Running → create key →
	// generate data key → decrypt.
	r := c.ok("POST", "kms/configure", cfg)
	require.Equal(t, true, r["success"])
	require.Equal(t, "Configured", r["status"])
	require.Equal(t, "Running", c.ok("POST", "kms/start", "")["status"])

	st := c.do("GET", "kms/status", "")
	require.Equal(t, http.StatusOK, st.code)
	require.NotContains(t, string(st.body), masterKey)
	so := st.obj(t)
	require.Equal(t, "Running", so["status"])
	require.Equal(t, true, so["healthy"])
	require.Equal(t, "local", so["backend_type"])

	ck := c.ok("POST", "kms/keys", `{"KeyUsage":"ENCRYPT_DECRYPT","Description":"quick start key","Tags":{"env":"e2e"}}`)
	keyID := ck["key_id"].(string)
	require.NotEmpty(t, keyID)
	require.Equal(t, true, ck["key_metadata"].(map[string]any)["enabled"])

	desc := c.ok("GET", "kms/keys/"+keyID, "")
	require.Equal(t, keyID, desc["key_metadata"].(map[string]any)["key_id"])
	list := c.ok("GET", "kms/keys?limit=10", "")
	require.Len(t, list["keys"], 1)

	dk := c.ok("POST", "kms/generate-data-key", fmt.Sprintf(`{"key_id":%q,"key_spec":"AES_256","encryption_context":{"bucket":"photos","object":"cat.jpg"}}`, keyID))
	pt, err := base64.StdEncoding.DecodeString(dk["plaintext_key"].(string))
	require.NoError(t, err)
	require.Len(t, pt, 32)
	dec := c.ok("POST", "kms/decrypt", fmt.Sprintf(`{"ciphertext_blob":%q,"encryption_context":{"bucket":"photos","object":"cat.jpg"}}`, dk["ciphertext_blob"]))
	require.Equal(t, keyID, dec["key_id"])
	require.Equal(t, dk["plaintext_key"], dec["plaintext"])
	admRequireError(t, c.do("POST", "kms/decrypt", fmt.Sprintf(`{"ciphertext_blob":%q,"encryption_context":{"bucket":"other"}}`, dk["ciphertext_blob"])),
		http.StatusBadRequest, "InvalidRequest")

	// A presigned URL (query form) works too.
	preq, err := http.NewRequest("GET", c.base+"kms/service-status?X-Amz-Expires=300", nil)
	require.NoError(t, err)
	signed, _, err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).PresignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: env.ak, SecretAccessKey: env.sk}, preq, "UNSIGNED-PAYLOAD", "s3", s3Region, time.Now())
	require.NoError(t, err)
	pr, err := http.NewRequest("GET", signed, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, c.send(pr).code)

	// The server's logs carry the audit trail and no secret.
	logs := env.logText()
	require.Contains(t, logs, "kms:GenerateDataKey")
	require.Contains(t, logs, env.ak)
	for _, s := range []string{masterKey, dk["plaintext_key"].(string), "plaintext_key", env.sk} {
		require.NotContains(t, logs, s)
	}
}

// TestAdminRefusesSigV4 shows that unsigned, wrongly signed, tampered and
// replayed-after-skew requests are refused by the admin API in s3server.
func TestAdminRefusesSigV4(t *testing.T) {
	env := startS3(t, s3EnvOpts{})
	good := &admClient{t: t, base: env.url + s3srv.AdminPrefix, hc: env.http, ak: env.ak, sk: env.sk}
	body := `{"KeyUsage":"ENCRYPT_DECRYPT","Description":"should not exist"}`

	// Unsigned.
	admRequireError(t, good.send(good.req("POST", "kms/keys", body, false)), http.StatusUnauthorized, "AccessDenied")
	// Wrong secret.
	wrong := *good
	wrong.sk = "not-" + env.sk
	admRequireError(t, wrong.do("POST", "kms/keys", body), http.StatusUnauthorized, "AccessDenied")
	// Unknown access key.
	unknown := *good
	unknown.ak = "AKUNKNOWNACCESSKEY"
	admRequireError(t, unknown.do("GET", "kms/status", ""), http.StatusUnauthorized, "AccessDenied")
	// Replayed after the 15-minute window (and from too far in the future).
	for _, skew := range []time.Duration{-16 * time.Minute, 16 * time.Minute} {
		replay := *good
		replay.at = func() time.Time { return time.Now().Add(skew) }
		admRequireError(t, replay.do("GET", "kms/status", ""), http.StatusUnauthorized, "AccessDenied")
	}
	// Body swapped after signing: detected when the body is read, before the
	// key is created.
	req := good.req("POST", "kms/keys", body, true)
	evil := `{"KeyUsage":"ENCRYPT_DECRYPT","Description":"tampered"}`
	req.Body, req.ContentLength = io.NopCloser(strings.NewReader(evil)), int64(len(evil))
	admRequireError(t, good.send(req), http.StatusUnauthorized, "AccessDenied")
	// Signed over the body's hash without x-amz-content-sha256 (as curl 7.88
	// signs a body): refused before the body is read, as S3 refuses it.
	req, err := http.NewRequest("POST", good.base+"kms/keys", strings.NewReader(body))
	require.NoError(t, err)
	require.NoError(t, v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: env.ak, SecretAccessKey: env.sk}, req, sha256Hex([]byte(body)), "s3", s3Region, time.Now()))
	r := good.send(req)
	admRequireError(t, r, http.StatusUnauthorized, "AccessDenied")
	require.Contains(t, string(r.body), "missing x-amz-content-sha256")
	// A field given twice, here in two cases: encoding/json would take the
	// last.
	r = good.do("POST", "kms/keys", `{"KeyId":"first","KEYID":"second"}`)
	admRequireError(t, r, http.StatusBadRequest, "InvalidRequest")
	require.Contains(t, string(r.body), "given twice")
	// Query changed after signing.
	req = good.req("GET", "kms/keys?limit=1", "", true)
	req.URL.RawQuery = "limit=2"
	admRequireError(t, good.send(req), http.StatusUnauthorized, "AccessDenied")

	// None of the refused calls did anything: only the server's default key.
	list := good.ok("GET", "kms/keys", "")
	require.Len(t, list["keys"], 1, string(mustJSON(t, list)))
	require.Contains(t, env.logText(), `outcome=denied`)
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// TestAdminNonAdminForbidden: an authenticated caller that is not an admin
// gets 403. s3server has a single (admin) credential, so this mounts
// admin.NewHandler with a two-user sigv4.Verifier under /admin/v3/.
func TestAdminNonAdminForbidden(t *testing.T) {
	const (
		adminAK, adminSK = "AKADMINE2E", "admin-secret-e2e-0123456789"
		userAK, userSK   = "AKREADERE2E", "reader-secret-e2e-0123456789"
	)
	verifier := admin.SigV4(sigv4.NewVerifier(func(ak string) (string, bool) {
		switch ak {
		case adminAK:
			return adminSK, true
		case userAK:
			return userSK, true
		}
		return "", false
	}, sigv4.WithSignedPayload()), func(ak string) bool { return ak == adminAK })
	var logs admLogBuffer
	mux := http.NewServeMux()
	mux.Handle("/admin/v3/", http.StripPrefix("/admin/v3", admin.NewHandler(kms.NewManager(),
		admin.WithAuthenticator(verifier), admin.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	user := &admClient{t: t, base: srv.URL + "/admin/v3/", hc: srv.Client(), ak: userAK, sk: userSK}
	adm := &admClient{t: t, base: srv.URL + "/admin/v3/", hc: srv.Client(), ak: adminAK, sk: adminSK}
	for _, p := range []struct{ method, path, body string }{
		{"GET", "kms/status", ""},
		{"POST", "kms/configure", `{"backend_type":"local","key_dir":"/tmp/x","master_key":"m"}`},
		{"POST", "kms/generate-data-key", `{"key_id":"k"}`},
	} {
		admRequireError(t, user.do(p.method, p.path, p.body), http.StatusForbidden, "AccessDenied")
	}
	require.Equal(t, "NotConfigured", adm.ok("GET", "kms/status", "")["status"])
	require.Contains(t, logs.String(), `"principal":"`+userAK+`"`)
	require.Contains(t, logs.String(), `"status":403`)
}

// TestAdminStreamingSigned sends an aws-chunked body whose chunks are signed
// with the SDK's stream signer; the verifier checks every chunk. (S3 wants
// every chunk but the last to hold 8 KiB, hence the padded description.)
func TestAdminStreamingSigned(t *testing.T) {
	env := startS3(t, s3EnvOpts{})
	c := &admClient{t: t, base: env.url + s3srv.AdminPrefix, hc: env.http, ak: env.ak, sk: env.sk}
	pad := strings.Repeat(" ", 9000)
	payload := []byte(`{"KeyUsage":"ENCRYPT_DECRYPT",` + pad + `"Description":"streamed"}`)
	now := time.Now()

	build := func(tamper bool) *http.Request {
		encLen := len(admChunked(t, payload, 8192, make([]byte, 32), aws.Credentials{}, now))
		req, err := http.NewRequest("POST", c.base+"kms/keys", nil)
		require.NoError(t, err)
		req.ContentLength = int64(encLen)
		req.Header.Set("Content-Encoding", "aws-chunked")
		req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(payload)))
		req.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
		creds := aws.Credentials{AccessKeyID: env.ak, SecretAccessKey: env.sk}
		require.NoError(t, v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(),
			creds, req, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "s3", s3Region, now))
		a := req.Header.Get("Authorization")
		seed := a[strings.LastIndex(a, "Signature=")+len("Signature="):]
		seedB, err := hex.DecodeString(seed)
		require.NoError(t, err)
		body := admChunked(t, payload, 8192, seedB, creds, now)
		if tamper {
			i := bytes.Index(body, []byte("streamed"))
			body[i] = 'S'
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		return req
	}
	r := c.send(build(false))
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	require.Equal(t, "streamed", r.obj(t)["key_metadata"].(map[string]any)["description"])
	admRequireError(t, c.send(build(true)), http.StatusUnauthorized, "AccessDenied")
}

// admChunked encodes payload as aws-chunked with chunk signatures from the
// SDK's stream signer.
func admChunked(t *testing.T, payload []byte, chunk int, seed []byte, creds aws.Credentials, at time.Time) []byte {
	t.Helper()
	ss := v4.NewStreamSigner(creds, "s3", s3Region, seed)
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

// admLogBuffer is a goroutine-safe log sink.
type admLogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *admLogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *admLogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
