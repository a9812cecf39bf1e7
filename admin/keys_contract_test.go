package admin_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms"
	"github.com/envkms/kms/admin"
	"github.com/envkms/kms/backend/memory"
)

// TestKeyEndpointsRustFSShapes: enable, disable, rotate, update-description,
// tag and untag with RustFS's {"key_id",...} bodies answer
// {"success","message","key_id","key_metadata"}; the path forms still work.
func TestKeyEndpointsRustFSShapes(t *testing.T) {
	e := newEnv(t)
	e.startLocal()
	e.ok("POST", "kms/keys", `{"KeyId":"k1","Description":"first","Tags":{"team":"storage","env":"dev"}}`)

	md := func(r map[string]any) map[string]any {
		t.Helper()
		require.Equal(t, true, r["success"], r)
		require.NotEmpty(t, r["message"], r)
		require.Equal(t, "k1", r["key_id"], r)
		return r["key_metadata"].(map[string]any)
	}
	require.Equal(t, "Disabled", md(e.ok("POST", "kms/keys/disable", `{"key_id":"k1"}`))["key_state"])
	require.Equal(t, "Enabled", md(e.ok("POST", "kms/keys/enable", `{"key_id":"k1"}`))["key_state"])
	require.Equal(t, float64(2), md(e.ok("POST", "kms/keys/rotate", `{"key_id":"k1"}`))["version"])
	// Path aliases, empty body or {}.
	require.Equal(t, float64(3), md(e.ok("POST", "kms/keys/k1/rotate", ""))["version"])
	require.Equal(t, "Disabled", md(e.ok("POST", "kms/keys/k1/disable", "{}"))["key_state"])
	require.Equal(t, "Enabled", md(e.ok("POST", "kms/keys/k1/enable", ""))["key_state"])

	require.Equal(t, "second", md(e.ok("POST", "kms/keys/update-description", `{"key_id":"k1","description":"second"}`))["description"])
	require.Equal(t, map[string]any{"team": "kms", "env": "dev", "tier": ""},
		md(e.ok("POST", "kms/keys/tag", `{"key_id":"k1","tags":{"team":"kms","tier":""}}`))["tags"])
	require.Equal(t, map[string]any{"team": "kms"},
		md(e.ok("POST", "kms/keys/untag", `{"key_id":"k1","tag_keys":["env","tier","absent"]}`))["tags"])
	d := e.ok("GET", "kms/keys/k1", "")["key_metadata"].(map[string]any)
	require.Equal(t, "second", d["description"])
	require.Equal(t, map[string]any{"team": "kms"}, d["tags"])
	require.Equal(t, "", md(e.ok("POST", "kms/keys/update-description", `{"key_id":"k1","description":""}`))["description"])

	// Created and cancelled keys answer the same way.
	c := e.ok("POST", "kms/keys", `{"key_id":"k2"}`)
	require.Equal(t, true, c["success"])
	e.ok("DELETE", "kms/keys/delete", `{"key_id":"k2"}`)
	cc := e.ok("POST", "kms/keys/cancel-deletion", `{"key_id":"k2"}`)
	require.Equal(t, true, cc["success"])
	require.Equal(t, "Disabled", cc["key_metadata"].(map[string]any)["key_state"])

	require.Contains(t, e.logs.String(), `"action":"kms:TagResource"`)
	require.Contains(t, e.logs.String(), `"operation":"UntagKey"`)
}

func TestKeyEndpointsBadInput(t *testing.T) {
	e := newEnv(t)
	e.startLocal()
	e.ok("POST", "kms/keys", `{"key_id":"k1"}`)
	longValue := strings.Repeat("v", 300)
	for _, tc := range []struct{ path, body string }{
		{"kms/keys/enable", ""},
		{"kms/keys/enable", "{}"},
		{"kms/keys/disable", `{"key_id":""}`},
		{"kms/keys/rotate", `{"key_id":"k1","extra":1}`},
		{"kms/keys/rotate", `{"key_id":"k1","key_id":"k1"}`},
		{"kms/keys/rotate", `{"key_id":1}`},
		{"kms/keys/rotate", `[`},
		{"kms/keys/enable", `{"key_id":"bad/id"}`},
		{"kms/keys/k1/enable", `{"key_id":"k1"}`}, // the path form takes no body
		{"kms/keys/update-description", `{"key_id":"k1"}`},
		{"kms/keys/update-description", `{"description":"x"}`},
		{"kms/keys/update-description", `{"key_id":"k1","description":"` + strings.Repeat("d", 9000) + `"}`},
		{"kms/keys/tag", `{"key_id":"k1"}`},
		{"kms/keys/tag", `{"key_id":"k1","tags":{}}`},
		{"kms/keys/tag", `{"key_id":"k1","tags":{"":"v"}}`},
		{"kms/keys/tag", `{"key_id":"k1","tags":{"k":"` + longValue + `"}}`},
		{"kms/keys/tag", `{"key_id":"k1","tags":{"k":1}}`},
		{"kms/keys/untag", `{"key_id":"k1"}`},
		{"kms/keys/untag", `{"key_id":"k1","tag_keys":[]}`},
		{"kms/keys/untag", `{"key_id":"k1","tag_keys":[""]}`},
		{"kms/keys/untag", `{"key_id":"k1","tag_keys":"env"}`},
	} {
		e.fails("POST", tc.path, tc.body, "admin", http.StatusBadRequest, "InvalidRequest")
	}
	for _, p := range []string{"kms/keys/enable", "kms/keys/disable", "kms/keys/rotate"} {
		e.fails("POST", p, `{"key_id":"missing"}`, "admin", http.StatusNotFound, "NotFound")
	}
	e.fails("POST", "kms/keys/tag", `{"key_id":"missing","tags":{"a":"b"}}`, "admin", http.StatusNotFound, "NotFound")
	e.fails("GET", "kms/keys/tag", "", "admin", http.StatusNotFound, "NotFound") // describes key "tag"
	r := e.call("PUT", "kms/keys/tag", "", "admin")
	require.Equal(t, http.StatusMethodNotAllowed, r.code)
	// Nothing changed.
	d := e.ok("GET", "kms/keys/k1", "")["key_metadata"].(map[string]any)
	require.Nil(t, d["tags"])
	require.Equal(t, "", d["description"])
}

// TestKeyEditUnsupported: a backend without backend.KeyEditor answers 400.
func TestKeyEditUnsupported(t *testing.T) {
	type plain struct{ kms.Backend }
	h, _ := memoryHandler(t, []string{"k1"}, func(b kms.Backend) kms.Backend { return plain{b} })
	r := serve(h, "POST", "kms/keys/tag", `{"key_id":"k1","tags":{"a":"b"}}`)
	require.Equal(t, http.StatusBadRequest, r.Code, r.Body.String())
	require.Contains(t, r.Body.String(), "not supported")
	r = serve(h, "POST", "kms/keys/enable", `{"key_id":"k1"}`)
	require.Equal(t, http.StatusOK, r.Code, r.Body.String())
}

func memoryHandler(t *testing.T, keys []string, wrap func(kms.Backend) kms.Backend, opts ...admin.Option) (http.Handler, *syncBuffer) {
	t.Helper()
	ctx := context.Background()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	m := kms.NewManager(kms.WithLogger(logger), kms.WithBackend("memory", func(ctx context.Context, cfg kms.Config) (kms.Backend, error) {
		b, err := memory.Open(ctx, cfg.BackendOptions.Decode)
		if err != nil || wrap == nil {
			return b, err
		}
		return wrap(b), nil
	}))
	opt := fmt.Sprintf(`{"keys":[%s]}`, quoteAll(keys))
	require.NoError(t, m.Configure(ctx, kms.Config{BackendType: "memory", BackendOptions: kms.BackendOptions(opt)}))
	require.NoError(t, m.Start(ctx))
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	return admin.NewHandler(m, append([]admin.Option{admin.WithAuthenticator(testAuth), admin.WithLogger(logger)}, opts...)...), logs
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ",")
}

func serve(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://kms.example/admin/v3/"+path, strings.NewReader(body))
	req.Header.Set("X-Test-User", "admin")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestListingContract: RustFS's key listing rules.
func TestListingContract(t *testing.T) {
	keys := make([]string, 1001)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%04d", i)
	}
	h, _ := memoryHandler(t, keys, nil)
	list := func(q string) map[string]any {
		t.Helper()
		r := serve(h, "GET", "kms/keys"+q, "")
		require.Equal(t, http.StatusOK, r.Code, r.Body.String())
		return resp{code: r.Code, body: r.Body.Bytes()}.json(t)
	}
	// Default page: 100.
	l := list("")
	require.Len(t, l["keys"], 100)
	require.Equal(t, true, l["truncated"])
	require.Equal(t, "key-0099", l["next_marker"])
	require.NotContains(t, l, "unreadable_key_ids")
	// Above 1000: served as 1000, truncated, and the marker is usable.
	for _, q := range []string{"?limit=5000", "?limit=99999999999999999999999999"} {
		l = list(q)
		require.Len(t, l["keys"], 1000)
		require.Equal(t, true, l["truncated"])
		l2 := list(q + "&marker=" + l["next_marker"].(string))
		require.Len(t, l2["keys"], 1)
		require.Equal(t, "key-1000", l2["keys"].([]any)[0].(map[string]any)["key_id"])
		require.Equal(t, false, l2["truncated"])
		require.Nil(t, l2["next_marker"])
	}
	// Paging by a small limit reaches every key exactly once.
	seen, marker := 0, ""
	for {
		l := list("?limit=300&marker=" + marker)
		seen += len(l["keys"].([]any))
		if l["truncated"] != true {
			break
		}
		marker = l["next_marker"].(string)
	}
	require.Equal(t, 1001, seen)
	// limit=0: an empty page that says more keys follow.
	l = list("?limit=0")
	require.Equal(t, []any{}, l["keys"])
	require.Equal(t, true, l["truncated"])
	l = list("?limit=0&marker=key-1000")
	require.Equal(t, []any{}, l["keys"])
	require.Equal(t, false, l["truncated"])
	// An empty marker is no marker; an unknown one is a lower bound.
	require.Len(t, list("?marker=&limit=1")["keys"], 1)
	require.Equal(t, "key-0500", list("?marker=key-0499x&limit=1")["keys"].([]any)[0].(map[string]any)["key_id"])
	// Malformed limits.
	for _, q := range []string{"?limit", "?limit=", "?limit=abc", "?limit=-1", "?limit=1.5", "?limit=1&limit=2", "?limit=+1", "?limit=0x10"} {
		r := serve(h, "GET", "kms/keys"+q, "")
		require.Equal(t, http.StatusBadRequest, r.Code, "%s: %s", q, r.Body.String())
	}
}

// TestListingUnreadableKeys: damaged key files are reported, not dropped;
// a full listing in which nothing is readable is an error.
func TestListingUnreadableKeys(t *testing.T) {
	e := newEnv(t)
	e.startLocal()
	e.ok("POST", "kms/keys", `{"key_id":"good"}`)
	e.ok("POST", "kms/keys", `{"key_id":"bad"}`)
	require.NoError(t, os.WriteFile(filepath.Join(e.dir, "bad.json"), []byte(`{"format":"envkms-local-key","key_id":`), 0o600))
	e.ok("POST", "kms/start", `{"force":true}`) // a fresh backend: no cached keys
	l := e.ok("GET", "kms/keys", "")
	require.Equal(t, []any{"bad"}, l["unreadable_key_ids"])
	var ids []string
	for _, k := range l["keys"].([]any) {
		ids = append(ids, k.(map[string]any)["key_id"].(string))
	}
	require.Contains(t, ids, "good")
	require.NotContains(t, ids, "bad")

	// Damage every key: the full listing fails, pages still report.
	matches, err := filepath.Glob(filepath.Join(e.dir, "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(matches), 3)
	for _, p := range matches {
		if !strings.HasPrefix(filepath.Base(p), ".") { // not the directory header
			require.NoError(t, os.WriteFile(p, []byte("{"), 0o600))
		}
	}
	e.ok("POST", "kms/start", `{"force":true}`)
	msg := e.fails("GET", "kms/keys", "", "admin", http.StatusInternalServerError, "InternalError")
	require.Contains(t, msg, "no key could be read")
	require.NotContains(t, msg, testMasterKey)
	p := e.ok("GET", "kms/keys?limit=1", "")
	require.Equal(t, true, p["truncated"])
	require.Len(t, p["unreadable_key_ids"], 1)
	require.Equal(t, []any{}, p["keys"])
	p2 := e.ok("GET", "kms/keys?marker="+p["next_marker"].(string), "")
	require.NotEmpty(t, p2["unreadable_key_ids"])
	require.Contains(t, e.logs.String(), "could read none")
}
