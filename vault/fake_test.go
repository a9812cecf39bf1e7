package vault

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"time"

	"github.com/envkms/kms/backend"
)

// fakeVault is a scripted stand-in for Vault's HTTP API, for what a real
// server cannot easily be made to do (hang, echo secrets, answer garbage).
// The real-server tests live in internal/e2e.
type fakeVault struct {
	t     *testing.T
	srv   *httptest.Server
	mu    sync.Mutex
	token string                                            // accepted token; "" accepts any
	hits  map[string]int                                    // "METHOD path" -> count
	route func(w http.ResponseWriter, r *http.Request) bool // overrides; true if handled
	conns atomic.Int32
}

const fakeKey = "k1"

func newFakeVault(t *testing.T) *fakeVault {
	f := &fakeVault{t: t, hits: map[string]int{}}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.conns.Add(1)
		}
	}
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeVault) count(method, path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[method+" "+path]
}

func vaultErr(w http.ResponseWriter, code int, msgs ...string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": msgs})
}

func vaultData(w http.ResponseWriter, data map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"data": data})
}

func (f *fakeVault) serve(w http.ResponseWriter, r *http.Request) {
	method := r.Method
	if method == "GET" && r.URL.Query().Get("list") == "true" {
		method = "LIST"
	}
	f.mu.Lock()
	f.hits[method+" "+r.URL.Path]++
	token, route := f.token, f.route
	f.mu.Unlock()
	if route != nil && route(w, r) {
		return
	}
	if token != "" && r.Header.Get("X-Vault-Token") != token && !strings.Contains(r.URL.Path, "/login") {
		vaultErr(w, 403, "permission denied")
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/v1/")
	switch {
	case p == "sys/health":
		_, _ = io.WriteString(w, `{"initialized":true,"sealed":false,"standby":false}`)
	case p == "secret/data/envkms/keys/"+fakeKey:
		vaultData(w, map[string]any{
			"data": map[string]any{"format": 1, "key_id": fakeKey, "state": "Enabled",
				"key_usage": "ENCRYPT_DECRYPT", "creation_date": "2025-01-01T00:00:00Z"},
			"metadata": map[string]any{"version": 3},
		})
	case p == "transit/keys/"+fakeKey:
		vaultData(w, map[string]any{"type": "aes256-gcm96", "latest_version": 1})
	case p == "transit/encrypt/"+fakeKey:
		vaultData(w, map[string]any{"ciphertext": "vault:v1:" + base64.StdEncoding.EncodeToString(make([]byte, 60))})
	case p == "transit/decrypt/"+fakeKey:
		vaultData(w, map[string]any{"plaintext": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))})
	case p == "auth/token/revoke-self":
		w.WriteHeader(204)
	default:
		vaultErr(w, 404)
	}
}

// fakeBlob is a well-formed blob for fakeKey.
func fakeBlob() []byte {
	return formatBlob(fakeKey, "vault:v1:"+base64.StdEncoding.EncodeToString(make([]byte, 60)))
}

func newFakeBackend(t *testing.T, f *fakeVault, cfg Config) *Backend {
	t.Helper()
	cfg.Address = f.srv.URL
	if cfg.Token == "" && cfg.TokenFile == "" && cfg.AppRole == nil {
		cfg.Token = "hvs.TESTTOKEN-abcdef"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	b, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestFakeHappyPathReusesConnections(t *testing.T) {
	f := newFakeVault(t)
	b := newFakeBackend(t, f, Config{})
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		dk, err := b.GenerateDataKey(ctx, fakeKey, backend.EncryptionContext{"a": "b"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := b.Decrypt(ctx, dk.Ciphertext, backend.EncryptionContext{"a": "b"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Plaintext) != 32 {
			t.Fatal("bad plaintext")
		}
	}
	if n := f.conns.Load(); n > 2 {
		t.Fatalf("100 sequential calls opened %d connections; keep-alive is broken", n)
	}
	// The state is read from KV once, then cached.
	if n := f.count("GET", "/v1/secret/data/envkms/keys/"+fakeKey); n > 2 {
		t.Fatalf("%d KV reads for 100 data-key calls", n)
	}
}

func TestFakeErrorMapping(t *testing.T) {
	const tok = "hvs.TESTTOKEN-abcdef"
	cases := []struct {
		name   string
		status int
		msgs   []string
		call   func(*Backend) error
		want   error
	}{
		{"403 is access denied", 403, []string{"permission denied"}, generate, backend.ErrAccessDenied},
		{"503 sealed is unavailable", 503, []string{"Vault is sealed"}, generate, backend.ErrUnavailable},
		{"500 is unavailable", 500, []string{"internal error"}, decrypt, backend.ErrUnavailable},
		{"400 auth failure is invalid ciphertext", 400, []string{"cipher: message authentication failed"}, decrypt, backend.ErrInvalidCiphertext},
		{"400 key not found on decrypt", 400, []string{"encryption key not found"}, decrypt, backend.ErrKeyNotFound},
		{"secrets echoed by the server are scrubbed", 403, []string{"bad token " + tok}, generate, backend.ErrAccessDenied},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeVault(t)
			f.route = func(w http.ResponseWriter, r *http.Request) bool {
				if strings.Contains(r.URL.Path, "/transit/") {
					vaultErr(w, tc.status, tc.msgs...)
					return true
				}
				return false
			}
			b := newFakeBackend(t, f, Config{Token: tok, RetryAttempts: -1})
			err := tc.call(b)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var be *backend.Error
			if !errors.As(err, &be) || be.KeyID != fakeKey {
				t.Fatalf("not a *backend.Error naming the key: %#v", err)
			}
			if strings.Contains(err.Error(), tok) {
				t.Fatalf("error reveals the token: %v", err)
			}
		})
	}
}

func generate(b *Backend) error {
	_, err := b.GenerateDataKey(context.Background(), fakeKey, nil)
	return err
}

func decrypt(b *Backend) error {
	_, err := b.Decrypt(context.Background(), fakeBlob(), nil)
	return err
}

func TestFakeRetries(t *testing.T) {
	f := newFakeVault(t)
	var fail atomic.Int32
	fail.Store(2)
	f.route = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/transit/decrypt/") && fail.Add(-1) >= 0 {
			vaultErr(w, 502, "bad gateway")
			return true
		}
		if strings.HasSuffix(r.URL.Path, "/rotate") {
			vaultErr(w, 500, "internal error")
			return true
		}
		return false
	}
	b := newFakeBackend(t, f, Config{RetryAttempts: 2})
	if err := decrypt(b); err != nil {
		t.Fatalf("Decrypt after two 502s: %v", err)
	}
	if n := f.count("PUT", "/v1/transit/decrypt/"+fakeKey); n != 3 {
		t.Fatalf("decrypt tried %d times, want 3", n)
	}
	// Rotation is not idempotent: never retried.
	if _, err := b.RotateKey(context.Background(), fakeKey); !errors.Is(err, backend.ErrUnavailable) {
		t.Fatalf("RotateKey: %v", err)
	}
	if n := f.count("PUT", "/v1/transit/keys/"+fakeKey+"/rotate"); n != 1 {
		t.Fatalf("rotate tried %d times, want 1", n)
	}
}

func TestFakeHangingServerTimesOut(t *testing.T) {
	f := newFakeVault(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.route = func(w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-r.Context().Done():
		case <-release:
		}
		return true
	}
	const timeout = 300 * time.Millisecond
	b := newFakeBackend(t, f, Config{Timeout: timeout, RetryAttempts: 3})
	for name, call := range map[string]func(*Backend) error{
		"GenerateDataKey": generate,
		"Decrypt":         decrypt,
		"Health":          func(b *Backend) error { return b.Health(context.Background()) },
		"ListKeys": func(b *Backend) error {
			_, err := b.ListKeys(context.Background(), backend.ListKeysRequest{})
			return err
		},
	} {
		start := time.Now()
		err := call(b)
		if d := time.Since(start); d > timeout+500*time.Millisecond {
			t.Fatalf("%s took %v with Timeout %v", name, d, timeout)
		}
		if !errors.Is(err, backend.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: %v, want ErrUnavailable and DeadlineExceeded", name, err)
		}
	}
}

func TestFakeConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String()
	l.Close()
	b, err := New(context.Background(), Config{Address: addr, Token: "t", Timeout: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	start := time.Now()
	if err := b.Health(context.Background()); !errors.Is(err, backend.ErrUnavailable) {
		t.Fatalf("Health: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("refused connection took %v", d)
	}
}

func TestFakeMalformedAnswers(t *testing.T) {
	for name, body := range map[string]string{
		"not json":       "<html>",
		"wrong types":    `{"data":{"plaintext":12}}`,
		"short key":      `{"data":{"plaintext":"AAAA"}}`,
		"no data":        `{}`,
		"bad ciphertext": `{"data":{"ciphertext":"vault:v1:xx"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeVault(t)
			f.route = func(w http.ResponseWriter, r *http.Request) bool {
				if strings.Contains(r.URL.Path, "/transit/") {
					_, _ = io.WriteString(w, body)
					return true
				}
				return false
			}
			b := newFakeBackend(t, f, Config{RetryAttempts: -1})
			if err := decrypt(b); err == nil {
				t.Fatal("Decrypt accepted a malformed answer")
			}
			if err := generate(b); err == nil {
				t.Fatal("GenerateDataKey accepted a malformed answer")
			}
		})
	}
}

func TestFakeTokenFileRefreshedOn403(t *testing.T) {
	f := newFakeVault(t)
	f.token = "hvs.NEW"
	path := t.TempDir() + "/token"
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("hvs.OLD\n")
	b := newFakeBackend(t, f, Config{TokenFile: path})
	if err := generate(b); !errors.Is(err, backend.ErrAccessDenied) {
		t.Fatalf("with the old token: %v", err)
	}
	write("hvs.NEW\n") // the agent rotated it
	if err := generate(b); err != nil {
		t.Fatalf("after the token file changed: %v", err)
	}
}

func TestFakeAppRoleLoginRenewRevoke(t *testing.T) {
	f := newFakeVault(t)
	var logins, renewals atomic.Int32
	f.route = func(w http.ResponseWriter, r *http.Request) bool {
		switch r.URL.Path {
		case "/v1/auth/approle/login":
			var body map[string]string
			_ = json.NewDecoder(r.Body).Decode(&body)
			if body["role_id"] != "role" || body["secret_id"] != "SECRET-ID" {
				vaultErr(w, 400, "invalid role or secret ID")
				return true
			}
			if r.Header.Get("X-Vault-Token") != "" {
				t.Errorf("login sent a token")
			}
			logins.Add(1)
			_ = json.NewEncoder(w).Encode(map[string]any{"auth": map[string]any{
				"client_token": "hvs.APPROLE-TOKEN", "lease_duration": 1, "renewable": true}})
			return true
		case "/v1/auth/token/renew-self":
			renewals.Add(1)
			_ = json.NewEncoder(w).Encode(map[string]any{"auth": map[string]any{
				"client_token": "hvs.APPROLE-TOKEN", "lease_duration": 1, "renewable": true}})
			return true
		}
		return false
	}
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := newFakeBackend(t, f, Config{AppRole: &AppRole{RoleID: "role", SecretID: "SECRET-ID"}, Logger: logger})
	time.Sleep(2500 * time.Millisecond)
	if err := generate(b); err != nil {
		t.Fatal(err)
	}
	if logins.Load() != 1 || renewals.Load() < 2 {
		t.Fatalf("logins %d, renewals %d after 2.5s with a 1s lease", logins.Load(), renewals.Load())
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if n := f.count("PUT", "/v1/auth/token/revoke-self"); n != 1 {
		t.Fatalf("revoke-self called %d times on Close", n)
	}
	r1 := renewals.Load()
	time.Sleep(1200 * time.Millisecond)
	if renewals.Load() != r1 {
		t.Fatal("renewal goroutine still running after Close")
	}
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	if strings.Contains(out, "SECRET-ID") || strings.Contains(out, "APPROLE-TOKEN") {
		t.Fatalf("secret in logs:\n%s", out)
	}
	if _, err := New(context.Background(), Config{Address: f.srv.URL, AppRole: &AppRole{RoleID: "role", SecretID: "WRONG-SECRET"}}); err == nil || strings.Contains(err.Error(), "WRONG-SECRET") {
		t.Fatalf("bad secret id: %v", err)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestFakeEnvironmentIgnoredNamespaceSent(t *testing.T) {
	t.Setenv("VAULT_TOKEN", "hvs.FROM-ENV")
	t.Setenv("VAULT_NAMESPACE", "env-ns")
	t.Setenv("VAULT_HEADERS", `{"X-Extra":"1"}`)
	f := newFakeVault(t)
	var bad atomic.Value
	f.route = func(w http.ResponseWriter, r *http.Request) bool {
		if tok := r.Header.Get("X-Vault-Token"); tok != "hvs.CONFIG" {
			bad.Store("token " + tok)
		}
		if ns := r.Header.Get("X-Vault-Namespace"); ns != "team-a/dev" {
			bad.Store("namespace " + ns)
		}
		if r.Header.Get("X-Extra") != "" {
			bad.Store("header from VAULT_HEADERS")
		}
		return false
	}
	b := newFakeBackend(t, f, Config{Token: "hvs.CONFIG", Namespace: "team-a/dev"})
	if err := generate(b); err != nil {
		t.Fatal(err)
	}
	if v := bad.Load(); v != nil {
		t.Fatalf("request carried %v", v)
	}
}

// A record left without its transit key (a creation interrupted after the
// id was claimed, whose rollback failed too) is completed by the next
// CreateKey of that id instead of blocking it with ErrKeyExists forever.
func TestFakeCreateKeyCompletesInterruptedCreation(t *testing.T) {
	f := newFakeVault(t)
	var created atomic.Bool
	f.route = func(w http.ResponseWriter, r *http.Request) bool {
		p := strings.TrimPrefix(r.URL.Path, "/v1/")
		switch {
		case p == "secret/data/envkms/keys/half" && r.Method == "GET":
			vaultData(w, map[string]any{
				"data": map[string]any{"format": 1, "key_id": "half", "state": "Enabled",
					"key_usage": "ENCRYPT_DECRYPT", "creation_date": "2025-01-01T00:00:00Z"},
				"metadata": map[string]any{"version": 1},
			})
		case p == "transit/keys/half" && r.Method == "GET":
			if !created.Load() {
				vaultErr(w, 404)
				return true
			}
			vaultData(w, map[string]any{"type": "aes256-gcm96", "latest_version": 1})
		case p == "transit/keys/half" && (r.Method == "POST" || r.Method == "PUT"):
			created.Store(true)
			w.WriteHeader(204)
		default:
			return false
		}
		return true
	}
	b := newFakeBackend(t, f, Config{})
	ctx := context.Background()
	_, err := b.DescribeKey(ctx, "half")
	require.ErrorIs(t, err, backend.ErrKeyNotFound, "the half-made key is unusable")
	md, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "half"})
	require.NoError(t, err)
	require.Equal(t, 1, md.Version)
	require.True(t, created.Load())
	_, err = b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "half"})
	require.ErrorIs(t, err, backend.ErrKeyExists, "a complete key still exists")
}

// A record without its transit key that is younger than a creator's call
// and rollback may belong to a CreateKey still in flight: a second
// CreateKey must not complete it (it would be a second winner).
func TestFakeCreateKeyLeavesYoungRecordAlone(t *testing.T) {
	f := newFakeVault(t)
	young := time.Now().UTC().Format(time.RFC3339)
	f.route = func(w http.ResponseWriter, r *http.Request) bool {
		p := strings.TrimPrefix(r.URL.Path, "/v1/")
		switch {
		case p == "secret/data/envkms/keys/young" && r.Method == "GET":
			vaultData(w, map[string]any{
				"data": map[string]any{"format": 1, "key_id": "young", "state": "Enabled",
					"key_usage": "ENCRYPT_DECRYPT", "creation_date": young},
				"metadata": map[string]any{"version": 1},
			})
		case p == "transit/keys/young":
			if r.Method != "GET" {
				t.Errorf("a young record's transit key was created")
			}
			vaultErr(w, 404)
		default:
			return false
		}
		return true
	}
	b := newFakeBackend(t, f, Config{Timeout: time.Second})
	_, err := b.CreateKey(context.Background(), backend.CreateKeyRequest{KeyID: "young"})
	require.ErrorIs(t, err, backend.ErrKeyExists)
}
