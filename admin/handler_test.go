package admin_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms"
	"github.com/envkms/kms/admin"
)

const testMasterKey = "correct-horse-battery-staple-master-key-7f3a9c"

// testAuth authenticates by the X-Test-User header: admin, user (not an
// admin), forbidden (ErrForbidden); anything else is unauthenticated.
var testAuth = admin.AuthenticatorFunc(func(r *http.Request) (admin.Principal, error) {
	switch r.Header.Get("X-Test-User") {
	case "admin":
		return admin.Principal{AccessKey: "test-admin", Admin: true}, nil
	case "user":
		return admin.Principal{AccessKey: "test-user"}, nil
	case "forbidden":
		return admin.Principal{}, fmt.Errorf("%w: policy says no", admin.ErrForbidden)
	}
	return admin.Principal{}, errors.New("custom authenticator failure with detail s3cr3t")
})

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type env struct {
	t    *testing.T
	m    *kms.Manager
	h    http.Handler
	logs *syncBuffer
	dir  string
}

func newEnv(t *testing.T, opts ...admin.Option) *env {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := kms.NewManager(kms.WithLogger(logger))
	h := admin.NewHandler(m, append([]admin.Option{admin.WithAuthenticator(testAuth), admin.WithLogger(logger)}, opts...)...)
	return &env{t: t, m: m, h: h, logs: logs, dir: t.TempDir()}
}

func (e *env) localConfig() string {
	return fmt.Sprintf(`{"backend_type":"local","key_dir":%q,"master_key":%q,"default_key_id":"default","enable_cache":true,"cache_ttl_seconds":120,"max_cached_keys":50}`,
		e.dir, testMasterKey)
}

type resp struct {
	code int
	hdr  http.Header
	body []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), string(r.body))
	return m
}

// call sends a request as user (see testAuth) to path under /admin/v3/.
func (e *env) call(method, path, body, user string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "http://kms.example/admin/v3/"+path, rd)
	if user != "" {
		req.Header.Set("X-Test-User", user)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return resp{code: rec.Code, hdr: rec.Header(), body: rec.Body.Bytes()}
}

func (e *env) ok(method, path, body string) map[string]any {
	e.t.Helper()
	r := e.call(method, path, body, "admin")
	require.Equal(e.t, http.StatusOK, r.code, "%s %s: %s", method, path, r.body)
	require.Equal(e.t, "application/json", r.hdr.Get("Content-Type"))
	require.Equal(e.t, "no-store", r.hdr.Get("Cache-Control"))
	return r.json(e.t)
}

// fails asserts an error response with the given status and code.
func (e *env) fails(method, path, body, user string, status int, code string) string {
	e.t.Helper()
	r := e.call(method, path, body, user)
	require.Equal(e.t, status, r.code, "%s %s: %s", method, path, r.body)
	m := r.json(e.t)
	require.Equal(e.t, code, m["code"], string(r.body))
	require.Len(e.t, m, 2, "error body is exactly {code,message}: %s", r.body)
	msg, _ := m["message"].(string)
	require.NotEmpty(e.t, msg)
	require.NotContains(e.t, msg, "goroutine", "no stack traces")
	require.NotContains(e.t, msg, testMasterKey)
	return msg
}

func (e *env) startLocal() {
	e.t.Helper()
	e.ok("POST", "kms/configure", e.localConfig())
	e.ok("POST", "kms/start", "")
}

func TestQuickStartWalk(t *testing.T) {
	e := newEnv(t)

	st := e.ok("GET", "kms/status", "")
	require.Equal(t, "NotConfigured", st["status"])

	// A vault configuration (validated, not started) never shows its token.
	const vaultToken = "hvs.TESTTOKEN-do-not-print-4711"
	e.ok("POST", "kms/configure", `{"backend_type":"vault","address":"https://vault.example:8200","auth_method":{"token":"`+vaultToken+`"},"default_key_id":"default"}`)
	for _, p := range []string{"kms/status", "kms/config"} {
		raw := e.call("GET", p, "", "admin")
		require.Equal(t, http.StatusOK, raw.code, string(raw.body))
		require.NotContains(t, string(raw.body), vaultToken)
	}

	r := e.ok("POST", "kms/configure", e.localConfig())
	require.Equal(t, map[string]any{"success": true, "message": "KMS configured successfully", "status": "Configured"}, r)

	cfg := e.ok("GET", "kms/config", "")
	require.Equal(t, map[string]any{"backend": "local", "cache_enabled": true, "cache_max_keys": float64(50),
		"cache_ttl_seconds": float64(120), "default_key_id": "default"}, cfg)

	r = e.ok("POST", "kms/start", "")
	require.Equal(t, true, r["success"])
	require.Equal(t, "Running", r["status"])

	for _, p := range []string{"kms/status", "kms/service-status"} {
		raw := e.call("GET", p, "", "admin")
		require.Equal(t, http.StatusOK, raw.code)
		require.NotContains(t, string(raw.body), testMasterKey)
		st = raw.json(t)
		require.Equal(t, "Running", st["status"])
		require.Equal(t, "local", st["backend_type"])
		require.Equal(t, true, st["healthy"])
		cs := st["config_summary"].(map[string]any)
		require.Equal(t, "default", cs["default_key_id"])
		require.Equal(t, map[string]any{"max_keys": float64(50), "ttl_seconds": float64(120), "enable_metrics": cs["cache_summary"].(map[string]any)["enable_metrics"]}, cs["cache_summary"])
		require.NotNil(t, cs["backend_summary"])
	}

	// Create keys: the reference PascalCase body, snake_case, and an empty body.
	ck := e.ok("POST", "kms/keys", `{"KeyUsage":"ENCRYPT_DECRYPT","Description":"app key","Tags":{"team":"storage"},"KeyId":"app-key"}`)
	require.Equal(t, "app-key", ck["key_id"])
	md := ck["key_metadata"].(map[string]any)
	require.Equal(t, "app-key", md["key_id"])
	require.Equal(t, "app key", md["description"])
	require.Equal(t, true, md["enabled"])
	require.Equal(t, "ENCRYPT_DECRYPT", md["key_usage"])
	require.NotEmpty(t, md["creation_date"])
	require.Nil(t, md["deletion_date"])
	require.Contains(t, md, "deletion_date")
	require.Equal(t, map[string]any{"team": "storage"}, md["tags"])

	e.ok("POST", "kms/keys", `{"key_usage":"EncryptDecrypt","description":"default","key_id":"default"}`)
	gen := e.ok("POST", "kms/keys", "")
	genID := gen["key_id"].(string)
	require.Len(t, genID, 36, "generated UUID")

	// List with pagination.
	l := e.ok("GET", "kms/keys?limit=2", "")
	require.Equal(t, true, l["truncated"])
	keys := l["keys"].([]any)
	require.Len(t, keys, 2)
	require.Contains(t, keys[0], "key_id")
	require.Contains(t, keys[0], "description")
	l2 := e.ok("GET", "kms/keys?limit=2&marker="+l["next_marker"].(string), "")
	require.Equal(t, false, l2["truncated"])
	require.Nil(t, l2["next_marker"])
	require.Len(t, l2["keys"].([]any), 1)

	d := e.ok("GET", "kms/keys/app-key", "")
	require.Equal(t, "app-key", d["key_metadata"].(map[string]any)["key_id"])

	// Data keys.
	dk := e.ok("POST", "kms/generate-data-key", `{"key_id":"app-key","key_spec":"AES_256","encryption_context":{"bucket":"b1","object":"o1"}}`)
	require.Equal(t, "app-key", dk["key_id"])
	pt, err := base64.StdEncoding.DecodeString(dk["plaintext_key"].(string))
	require.NoError(t, err)
	require.Len(t, pt, 32)
	ct := dk["ciphertext_blob"].(string)
	_, err = base64.StdEncoding.DecodeString(ct)
	require.NoError(t, err)

	dec := e.ok("POST", "kms/decrypt", fmt.Sprintf(`{"ciphertext_blob":%q,"encryption_context":{"object":"o1","bucket":"b1"}}`, ct))
	require.Equal(t, "app-key", dec["key_id"])
	require.Equal(t, dk["plaintext_key"], dec["plaintext"])
	e.ok("POST", "kms/decrypt", fmt.Sprintf(`{"ciphertext_blob":%q,"encryption_context":{"object":"o1","bucket":"b1"},"key_id":"app-key"}`, ct))
	e.fails("POST", "kms/decrypt", fmt.Sprintf(`{"ciphertext_blob":%q,"encryption_context":{"object":"o1","bucket":"b1"},"key_id":"default"}`, ct), "admin", 400, "InvalidRequest")
	e.fails("POST", "kms/decrypt", fmt.Sprintf(`{"ciphertext_blob":%q,"encryption_context":{"bucket":"b2"}}`, ct), "admin", 400, "InvalidRequest")

	// Default key when key_id is empty.
	dd := e.ok("POST", "kms/generate-data-key", `{"encryption_context":{}}`)
	require.Equal(t, "default", dd["key_id"])

	// Rotate: old ciphertexts still decrypt.
	rot := e.ok("POST", "kms/keys/app-key/rotate", "")
	require.Equal(t, float64(2), rot["key_metadata"].(map[string]any)["version"])
	e.ok("POST", "kms/decrypt", fmt.Sprintf(`{"ciphertext_blob":%q,"encryption_context":{"object":"o1","bucket":"b1"}}`, ct))

	// Disable / enable.
	dis := e.ok("POST", "kms/keys/app-key/disable", "")
	require.Equal(t, false, dis["key_metadata"].(map[string]any)["enabled"])
	e.fails("POST", "kms/generate-data-key", `{"key_id":"app-key"}`, "admin", 409, "Conflict")
	en := e.ok("POST", "kms/keys/app-key/enable", "")
	require.Equal(t, true, en["key_metadata"].(map[string]any)["enabled"])

	// Schedule deletion and cancel it.
	del := e.ok("DELETE", "kms/keys/delete", `{"key_id":"app-key","pending_window_in_days":10}`)
	require.Equal(t, "app-key", del["key_id"])
	require.Equal(t, float64(10), del["pending_window_in_days"])
	require.NotEmpty(t, del["deletion_date"])
	require.Equal(t, "PendingDeletion", del["key_metadata"].(map[string]any)["key_state"])
	e.fails("DELETE", "kms/keys/delete", `{"key_id":"app-key","pending_window_in_days":3}`, "admin", 400, "InvalidRequest")
	// The default key cannot be scheduled for deletion: 409 saying why.
	e.fails("DELETE", "kms/keys/delete", `{"key_id":"default","pending_window_in_days":7}`, "admin", 409, "Conflict")
	can := e.ok("POST", "kms/keys/cancel-deletion", `{"key_id":"app-key"}`)
	require.Equal(t, "app-key", can["key_id"])
	require.Nil(t, can["key_metadata"].(map[string]any)["deletion_date"])
	// Query-parameter form with an empty body.
	delq := e.ok("DELETE", "kms/keys/delete?keyId="+genID, "")
	require.Equal(t, float64(7), delq["pending_window_in_days"])

	// Cache, reconfigure, stop, forced restart.
	r2 := e.call("POST", "kms/clear-cache", "", "admin")
	require.Equal(t, http.StatusNoContent, r2.code)
	require.Empty(t, r2.body)
	rc := e.ok("POST", "kms/reconfigure", `{"cache_ttl_seconds":60}`)
	require.Equal(t, "Running", rc["status"])
	require.Equal(t, float64(60), e.ok("GET", "kms/config", "")["cache_ttl_seconds"])
	rs := e.ok("POST", "kms/start", `{"force":true}`)
	require.Equal(t, "KMS service restarted successfully", rs["message"])
	sp := e.ok("POST", "kms/stop", "")
	require.Equal(t, "Configured", sp["status"])
	e.fails("POST", "kms/generate-data-key", `{"key_id":"default"}`, "admin", 409, "Conflict")

	// Nothing secret reached the audit log.
	logs := e.logs.String()
	for _, secret := range []string{testMasterKey, vaultToken, dk["plaintext_key"].(string), "plaintext_key", base64.StdEncoding.EncodeToString(pt)} {
		require.NotContains(t, logs, secret)
	}
	require.Contains(t, logs, `"action":"kms:GenerateDataKey"`)
	require.Contains(t, logs, `"key_id":"app-key"`)
	require.Contains(t, logs, `"principal":"test-admin"`)
	require.Contains(t, logs, `"outcome":"success"`)
}

func TestErrorClasses(t *testing.T) {
	e := newEnv(t, admin.WithMaxBodyBytes(1024))

	// Before configuration.
	e.fails("POST", "kms/start", "", "admin", 409, "Conflict")
	e.fails("GET", "kms/config", "", "admin", 409, "Conflict")
	e.fails("POST", "kms/stop", "", "admin", 409, "Conflict")
	e.fails("POST", "kms/generate-data-key", `{"key_id":"k"}`, "admin", 409, "Conflict")
	e.fails("GET", "kms/keys", "", "admin", 409, "Conflict")

	// Invalid configuration lists the field.
	msg := e.fails("POST", "kms/configure", `{"backend_type":"local","key_dir":"relative/dir","master_key":"x"}`, "admin", 400, "InvalidRequest")
	require.Contains(t, msg, "key_dir")
	msg = e.fails("POST", "kms/configure", `{"backend_type":"nope"}`, "admin", 400, "InvalidRequest")
	require.Contains(t, msg, "backend_type")

	e.startLocal()
	e.ok("POST", "kms/keys", `{"KeyId":"k1"}`)

	cases := []struct {
		name, method, path, body, user string
		status                         int
		code, contains                 string
	}{
		{"unauthenticated", "GET", "kms/status", "", "", 401, "AccessDenied", "authentication required"},
		{"forbidden", "GET", "kms/status", "", "forbidden", 403, "AccessDenied", "admin access required"},
		{"not an admin", "POST", "kms/keys", `{}`, "user", 403, "AccessDenied", "admin access required"},
		{"unknown endpoint", "GET", "kms/nope", "", "admin", 404, "NotFound", ""},
		{"unknown endpoint unauthenticated", "GET", "kms/nope", "", "", 401, "AccessDenied", ""},
		{"outside kms", "GET", "other", "", "admin", 404, "NotFound", ""},
		{"wrong method", "GET", "kms/configure", "", "admin", 405, "MethodNotAllowed", ""},
		{"bad JSON", "POST", "kms/generate-data-key", `{"key_id":`, "admin", 400, "InvalidRequest", "truncated"},
		{"syntax error", "POST", "kms/generate-data-key", `{"key_id" "k1"}`, "admin", 400, "InvalidRequest", "offset"},
		{"unknown field", "POST", "kms/generate-data-key", `{"key_id":"k1","nope":1}`, "admin", 400, "InvalidRequest", `unknown field "nope"`},
		{"trailing data", "POST", "kms/generate-data-key", `{"key_id":"k1"} {}`, "admin", 400, "InvalidRequest", "after the JSON"},
		{"wrong type", "POST", "kms/generate-data-key", `{"key_id":123456789}`, "admin", 400, "InvalidRequest", "key_id"},
		{"not an object", "POST", "kms/decrypt", `[1,2]`, "admin", 400, "InvalidRequest", ""},
		{"empty body", "POST", "kms/decrypt", ``, "admin", 400, "InvalidRequest", "required"},
		{"body too large", "POST", "kms/decrypt", `{"ciphertext_blob":"` + strings.Repeat("A", 2000) + `"}`, "admin", 400, "InvalidRequest", "exceeds 1024 bytes"},
		{"missing ciphertext", "POST", "kms/decrypt", `{"encryption_context":{}}`, "admin", 400, "InvalidRequest", "ciphertext_blob is required"},
		{"bad base64", "POST", "kms/decrypt", `{"ciphertext_blob":"!!!"}`, "admin", 400, "InvalidRequest", "base64"},
		{"garbage ciphertext", "POST", "kms/decrypt", `{"ciphertext_blob":"AAAA"}`, "admin", 400, "InvalidRequest", ""},
		{"bad key_spec", "POST", "kms/generate-data-key", `{"key_id":"k1","key_spec":"AES_128"}`, "admin", 400, "InvalidRequest", "AES_256"},
		{"unknown key data key", "POST", "kms/generate-data-key", `{"key_id":"nope"}`, "admin", 404, "NotFound", ""},
		{"unknown key describe", "GET", "kms/keys/nope", "", "admin", 404, "NotFound", ""},
		{"unknown key enable", "POST", "kms/keys/nope/enable", "", "admin", 404, "NotFound", ""},
		{"unknown key rotate", "POST", "kms/keys/nope/rotate", "", "admin", 404, "NotFound", ""},
		{"unknown key delete", "DELETE", "kms/keys/delete", `{"key_id":"nope"}`, "admin", 404, "NotFound", ""},
		{"unknown key cancel", "POST", "kms/keys/cancel-deletion", `{"key_id":"nope"}`, "admin", 404, "NotFound", ""},
		{"invalid key id", "GET", "kms/keys/-bad", "", "admin", 400, "InvalidRequest", ""},
		{"delete without key_id", "DELETE", "kms/keys/delete", `{"pending_window_in_days":7}`, "admin", 400, "InvalidRequest", "key_id is required"},
		{"delete without anything", "DELETE", "kms/keys/delete", ``, "admin", 400, "InvalidRequest", "key_id is required"},
		{"cancel without body", "POST", "kms/keys/cancel-deletion", ``, "admin", 400, "InvalidRequest", ""},
		{"cancel without key_id", "POST", "kms/keys/cancel-deletion", `{}`, "admin", 400, "InvalidRequest", "key_id is required"},
		{"duplicate key", "POST", "kms/keys", `{"KeyId":"k1"}`, "admin", 409, "Conflict", ""},
		{"bad key usage", "POST", "kms/keys", `{"KeyUsage":"SIGN_VERIFY"}`, "admin", 400, "InvalidRequest", "ENCRYPT_DECRYPT"},
		{"field twice", "POST", "kms/keys", `{"Description":"a","description":"b"}`, "admin", 400, "InvalidRequest", "twice"},
		{"bad limit", "GET", "kms/keys?limit=abc", "", "admin", 400, "InvalidRequest", "limit"},
		{"negative limit", "GET", "kms/keys?limit=-1", "", "admin", 400, "InvalidRequest", "limit"},
		{"configure while running", "POST", "kms/configure", e.localConfig(), "admin", 409, "Conflict", ""},
		{"start while running", "POST", "kms/start", "", "admin", 409, "Conflict", ""},
		{"stop with unknown field", "POST", "kms/stop", `{"now":true}`, "admin", 400, "InvalidRequest", "unknown field"},
		{"reconfigure invalid", "POST", "kms/reconfigure", `{"max_cached_keys":-5}`, "admin", 400, "InvalidRequest", "max_cached_keys"},
		{"reconfigure empty", "POST", "kms/reconfigure", ``, "admin", 400, "InvalidRequest", "required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := e.fails(tc.method, tc.path, tc.body, tc.user, tc.status, tc.code)
			require.Contains(t, msg, tc.contains)
			require.NotContains(t, msg, "s3cr3t", "custom authenticator messages are not echoed")
			require.NotContains(t, msg, "123456789", "values are not echoed")
		})
	}

	r := e.call("GET", "kms/configure", "", "admin")
	require.Equal(t, "POST", r.hdr.Get("Allow"))

	logs := e.logs.String()
	require.Contains(t, logs, `"outcome":"denied"`)
	require.Contains(t, logs, `"outcome":"failure"`)
	require.NotContains(t, logs, testMasterKey)
}

func TestNoAuthenticatorDeniesAll(t *testing.T) {
	m := kms.NewManager()
	h := admin.NewHandler(m, admin.WithLogger(slog.New(slog.DiscardHandler)))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/kms/status", nil))
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.JSONEq(t, `{"code":"AccessDenied","message":"authentication required"}`, rec.Body.String())
}

func TestInternalErrorHasNoStack(t *testing.T) {
	// A nil Manager makes the handler panic; the client sees a plain 500.
	logs := &syncBuffer{}
	h := admin.NewHandler(nil, admin.WithAuthenticator(testAuth), admin.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
	req := httptest.NewRequest("GET", "/kms/status", nil)
	req.Header.Set("X-Test-User", "admin")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.JSONEq(t, `{"code":"InternalError","message":"internal error"}`, rec.Body.String())
	require.Contains(t, logs.String(), `"outcome":"error"`)
	require.NotContains(t, logs.String(), "goroutine")
}

func TestConfigureSecretsNeverEchoed(t *testing.T) {
	e := newEnv(t)
	bodies := []string{
		`{"backend_type":"local","key_dir":"/tmp/x","master_key":987654321012345}`,
		`{"backend_type":"local","key_dir":"/tmp/x","master_key":["987654321012345"]}`,
		`{"backend_type":"vault","address":"http://v","auth_method":{"token":987654321012345}}`,
		`{"backend_type":"vault","address":"http://v","auth_method":{"approle":{"role_id":"r","secret_id":987654321012345}}}`,
		`{"backend_type":"local","key_dir":987654321012345}`,
		`{"backend_type":"local","master_key":"987654321012345","key_dir":"rel"}`,
		`{"backend_type":"local","master_key":"987654321012345" x}`,
		`{"backend_type":"local","master_key":"987654321012345","bogus":1}`,
	}
	for _, b := range bodies {
		for _, p := range []string{"kms/configure", "kms/reconfigure"} {
			r := e.call("POST", p, b, "admin")
			require.Contains(t, []int{http.StatusBadRequest, http.StatusConflict}, r.code, "%s %s: %s", p, b, r.body)
			require.NotContains(t, string(r.body), "987654321012345", b)
		}
	}
	require.NotContains(t, e.logs.String(), "987654321012345")
}

func TestMounting(t *testing.T) {
	m := kms.NewManager(kms.WithLogger(slog.New(slog.DiscardHandler)))
	opts := []admin.Option{admin.WithAuthenticator(testAuth), admin.WithLogger(slog.New(slog.DiscardHandler))}
	plain := admin.NewHandler(m, opts...)
	prefixed := admin.NewHandler(m, append(opts, admin.WithPrefix("/admin/v3"))...)

	mux := http.NewServeMux()
	mux.Handle("/admin/v3/", plain)
	mux.Handle("/stripped/", http.StripPrefix("/stripped/", plain))
	mux.Handle("/strict/", http.StripPrefix("/strict", prefixed))
	mux.Handle("/", prefixed)

	cases := []struct {
		path string
		code int
	}{
		{"/admin/v3/kms/status", 200},
		{"/stripped/kms/status", 200},
		{"/kms/status", 404}, // the strict handler wants /admin/v3/
		{"/admin/v3/kms/status/", 404},
		{"/strict/admin/v3/kms/status", 200},
		{"/admin/v3/kms/keys/x/y/z", 404},
	}
	for _, tc := range cases {
		req := httptest.NewRequest("GET", tc.path, nil)
		req.Header.Set("X-Test-User", "admin")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		require.Equal(t, tc.code, rec.Code, tc.path+": "+rec.Body.String())
	}
	// Directly, without any mux.
	req := httptest.NewRequest("GET", "/kms/service-status", nil)
	req.Header.Set("X-Test-User", "admin")
	rec := httptest.NewRecorder()
	plain.ServeHTTP(rec, req)
	require.Equal(t, 200, rec.Code)
}

func TestConcurrentDataKeys(t *testing.T) {
	e := newEnv(t)
	e.startLocal()
	e.ok("POST", "kms/keys", `{"KeyId":"default"}`)
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				ec := fmt.Sprintf(`{"obj":"%d-%d"}`, i, j)
				r := e.call("POST", "kms/generate-data-key", `{"encryption_context":`+ec+`}`, "admin")
				if r.code != 200 {
					errs <- string(r.body)
					return
				}
				var dk map[string]string
				_ = json.Unmarshal(r.body, &dk)
				r = e.call("POST", "kms/decrypt", fmt.Sprintf(`{"ciphertext_blob":%q,"encryption_context":%s}`, dk["ciphertext_blob"], ec), "admin")
				var pt map[string]string
				_ = json.Unmarshal(r.body, &pt)
				if r.code != 200 || pt["plaintext"] != dk["plaintext_key"] {
					errs <- string(r.body)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
}

// A hot swap (or start) with a master key that does not open key_dir is the
// caller's mistake: 400 naming the problem, never the key, and the running
// backend keeps serving.
func TestWrongMasterKeyIs400(t *testing.T) {
	e := newEnv(t)
	e.startLocal()
	msg := e.fails("POST", "kms/reconfigure", `{"master_key":"not the master key of this dir"}`, "admin", 400, "InvalidRequest")
	require.Contains(t, msg, "master key")
	require.NotContains(t, msg, "not the master key of this dir")
	st := e.ok("GET", "kms/status", "")
	require.Equal(t, "Running", st["status"])
}
