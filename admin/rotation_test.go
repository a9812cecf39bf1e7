package admin_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/admin"
)

// TestRotationPeriodEndpoint: rotation_period on create and through
// POST kms/keys/rotation-period, reported in every key answer with
// rotation_due; bad input is 400, a non-admin and a principal without
// kms:RotateKey on the key get 403, a backend without a rotation policy
// 400, and no secret reaches a body or the log.
func TestRotationPeriodEndpoint(t *testing.T) {
	e := newEnv(t)
	e.startLocal()
	md := func(r map[string]any) map[string]any {
		t.Helper()
		require.Equal(t, true, r["success"], r)
		return r["key_metadata"].(map[string]any)
	}
	c := md(e.ok("POST", "kms/keys", `{"key_id":"r1","rotation_period":"90d"}`))
	require.Equal(t, "2160h0m0s", c["rotation_period"])
	require.Equal(t, true, c["rotation_enabled"])
	require.Equal(t, false, c["rotation_due"])
	c = md(e.ok("POST", "kms/keys", `{"KeyId":"r2","RotationPeriod":"720h"}`))
	require.Equal(t, "720h0m0s", c["rotation_period"])
	plain := md(e.ok("POST", "kms/keys", `{"key_id":"r3"}`))
	require.Nil(t, plain["rotation_period"])
	require.Equal(t, false, plain["rotation_enabled"])

	r := e.ok("POST", "kms/keys/rotation-period", `{"key_id":"r1","rotation_period":"48h"}`)
	require.Equal(t, "r1", r["key_id"])
	require.Equal(t, "48h0m0s", md(r)["rotation_period"])
	d := e.ok("GET", "kms/keys/r1", "")["key_metadata"].(map[string]any)
	require.Equal(t, "48h0m0s", d["rotation_period"])
	require.Equal(t, false, d["rotation_due"])
	off := md(e.ok("POST", "kms/keys/rotation-period", `{"key_id":"r1","rotation_period":"0"}`))
	require.Nil(t, off["rotation_period"])
	require.Equal(t, false, off["rotation_enabled"])
	require.Contains(t, e.logs.String(), `"operation":"SetRotationPeriod"`)
	require.Contains(t, e.logs.String(), `"action":"kms:RotateKey"`)

	for _, body := range []string{
		``, `{}`, `{"key_id":"r1"}`, `{"rotation_period":"48h"}`,
		`{"key_id":"r1","rotation_period":"1m"}`, `{"key_id":"r1","rotation_period":"-1h"}`,
		`{"key_id":"r1","rotation_period":"soon"}`, `{"key_id":"r1","rotation_period":"xd"}`,
		`{"key_id":"r1","rotation_period":"999999d"}`, `{"key_id":"r1","rotation_period":48}`,
		`{"key_id":"r1","rotation_period":"48h","extra":1}`, `{"key_id":"bad/id","rotation_period":"48h"}`,
	} {
		e.fails("POST", "kms/keys/rotation-period", body, "admin", http.StatusBadRequest, "InvalidRequest")
	}
	for _, body := range []string{
		`{"key_id":"r4","rotation_period":"1m"}`, `{"key_id":"r4","rotation_period":"48h","RotationPeriod":"48h"}`,
	} {
		e.fails("POST", "kms/keys", body, "admin", http.StatusBadRequest, "InvalidRequest")
	}
	e.fails("POST", "kms/keys/rotation-period", `{"key_id":"missing","rotation_period":"48h"}`, "admin", http.StatusNotFound, "NotFound")
	e.fails("POST", "kms/keys/rotation-period", `{"key_id":"r1","rotation_period":"48h"}`, "user", http.StatusForbidden, "AccessDenied")
	e.ok("DELETE", "kms/keys/delete", `{"key_id":"r3"}`)
	e.fails("POST", "kms/keys/rotation-period", `{"key_id":"r3","rotation_period":"48h"}`, "admin", http.StatusConflict, "Conflict")
	require.NotContains(t, e.logs.String(), testMasterKey)

	// A role policy: a key user may not change the rotation policy.
	pol, err := admin.ParsePolicy([]byte(`{"principals": {"test-user": ["key-user"], "test-admin": ["administrator"]}}`))
	require.NoError(t, err)
	p := newEnv(t, admin.WithAuthorizer(pol))
	p.dir = e.dir
	p.startLocal()
	p.fails("POST", "kms/keys/rotation-period", `{"key_id":"r2","rotation_period":"48h"}`, "user", http.StatusForbidden, "AccessDenied")
	require.Contains(t, p.logs.String(), `"action":"kms:RotateKey","operation":"SetRotationPeriod","key_id":"r2","outcome":"denied"`)
}

// TestRotationPeriodUnsupported: a backend without
// backend.RotationPolicySetter (memory) answers 400.
func TestRotationPeriodUnsupported(t *testing.T) {
	h, _ := memoryHandler(t, []string{"k1"}, nil)
	r := serve(h, "POST", "kms/keys/rotation-period", `{"key_id":"k1","rotation_period":"48h"}`)
	require.Equal(t, http.StatusBadRequest, r.Code, r.Body.String())
	require.Contains(t, r.Body.String(), "not supported")
}

// TestDestroyVersionsEndpoint: without an inventory hook
// (kms.WithKeyVersionReferences) nothing can be proven unused: 409; bad
// input 400; a non-admin 403; nothing secret in the log.
func TestDestroyVersionsEndpoint(t *testing.T) {
	e := newEnv(t)
	e.startLocal()
	e.ok("POST", "kms/keys", `{"key_id":"d1"}`)
	e.ok("POST", "kms/keys/rotate", `{"key_id":"d1"}`)
	msg := e.fails("POST", "kms/keys/destroy-versions", `{"key_id":"d1","below_version":2}`, "admin", http.StatusConflict, "Conflict")
	require.NotEmpty(t, msg)
	for _, body := range []string{``, `{}`, `{"key_id":"d1"}`, `{"below_version":2}`, `{"key_id":"d1","below_version":1}`,
		`{"key_id":"d1","below_version":"2"}`, `{"key_id":"d1","below_version":2,"extra":1}`, `{"key_id":"bad/id","below_version":2}`} {
		e.fails("POST", "kms/keys/destroy-versions", body, "admin", http.StatusBadRequest, "InvalidRequest")
	}
	e.fails("POST", "kms/keys/destroy-versions", `{"key_id":"d1","below_version":2}`, "user", http.StatusForbidden, "AccessDenied")
	require.Contains(t, e.logs.String(), `"action":"kms:DeleteKey","operation":"DestroyKeyVersions"`)
	require.NotContains(t, e.logs.String(), testMasterKey)
}
