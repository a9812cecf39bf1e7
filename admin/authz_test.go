package admin_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/admin"
)

// keyAuth authenticates by X-Test-User as that access key; "" is refused.
var keyAuth = admin.AuthenticatorFunc(func(r *http.Request) (admin.Principal, error) {
	if u := r.Header.Get("X-Test-User"); u != "" {
		return admin.Principal{AccessKey: u}, nil
	}
	return admin.Principal{}, admin.ErrUnauthenticated
})

const testPolicy = `{
  "roles": {
    "app-user": {"statements": [
      {"effect": "Allow", "actions": ["kms:GenerateDataKey", "kms:Decrypt", "kms:Describe*"], "resources": ["arn:aws:kms:::key/app-*"]}
    ]},
    "no-rotate": {"statements": [
      {"effect": "Deny", "actions": ["kms:RotateKey"], "resources": ["*"]}
    ]}
  },
  "principals": {
    "root":    ["administrator"],
    "kadmin":  ["key-administrator"],
    "kuser":   ["key-user"],
    "audit":   ["auditor"],
    "app":     ["app-user"],
    "careful": ["key-administrator", "no-rotate"]
  }
}`

func policyEnv(t *testing.T) *env {
	t.Helper()
	pol, err := admin.ParsePolicy([]byte(testPolicy))
	require.NoError(t, err)
	e := newEnv(t, admin.WithAuthenticator(keyAuth), admin.WithAuthorizer(pol))
	r := e.call("POST", "kms/configure", e.localConfig(), "root")
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	r = e.call("POST", "kms/start", "", "root")
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	for _, id := range []string{"default", "app-1", "other"} {
		r = e.call("POST", "kms/keys", fmt.Sprintf(`{"key_id":%q}`, id), "root")
		require.Equal(t, http.StatusOK, r.code, string(r.body))
	}
	return e
}

// TestPolicyRoles: what each built-in role (and a custom one) may do.
func TestPolicyRoles(t *testing.T) {
	e := policyEnv(t)
	r := e.call("POST", "kms/generate-data-key", `{"key_id":"app-1"}`, "root")
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	ct := r.json(t)["ciphertext_blob"].(string)
	plaintext := r.json(t)["plaintext_key"].(string)
	dec := fmt.Sprintf(`{"ciphertext_blob":%q}`, ct)
	decWithKey := fmt.Sprintf(`{"ciphertext_blob":%q,"key_id":"app-1"}`, ct)

	type req struct{ method, path, body string }
	var (
		configure   = req{"POST", "kms/reconfigure", `{"cache_ttl_seconds":60}`}
		status      = req{"GET", "kms/status", ""}
		getConfig   = req{"GET", "kms/config", ""}
		clearCache  = req{"POST", "kms/clear-cache", ""}
		list        = req{"GET", "kms/keys", ""}
		describe    = req{"GET", "kms/keys/app-1", ""}
		describeO   = req{"GET", "kms/keys/other", ""}
		create      = req{"POST", "kms/keys", `{"key_id":"new-%s"}`}
		createGen   = req{"POST", "kms/keys", ""}
		disable     = req{"POST", "kms/keys/disable", `{"key_id":"other"}`}
		enable      = req{"POST", "kms/keys/enable", `{"key_id":"other"}`}
		enablePath  = req{"POST", "kms/keys/other/enable", ""}
		rotate      = req{"POST", "kms/keys/rotate", `{"key_id":"other"}`}
		rotatePath  = req{"POST", "kms/keys/other/rotate", ""}
		describeUpd = req{"POST", "kms/keys/update-description", `{"key_id":"other","description":"d"}`}
		tag         = req{"POST", "kms/keys/tag", `{"key_id":"other","tags":{"a":"b"}}`}
		untag       = req{"POST", "kms/keys/untag", `{"key_id":"other","tag_keys":["a"]}`}
		schedule    = req{"DELETE", "kms/keys/delete", `{"key_id":"del-%s"}`}
		cancel      = req{"POST", "kms/keys/cancel-deletion", `{"key_id":"del-%s"}`}
		genApp      = req{"POST", "kms/generate-data-key", `{"key_id":"app-1"}`}
		genOther    = req{"POST", "kms/generate-data-key", `{"key_id":"other"}`}
		genDefault  = req{"POST", "kms/generate-data-key", `{}`}
		decrypt     = req{"POST", "kms/decrypt", dec}
		decryptKey  = req{"POST", "kms/decrypt", decWithKey}
		stop        = req{"POST", "kms/stop", ""}
	)
	all := []req{configure, status, getConfig, clearCache, list, describe, describeO, create, createGen,
		disable, enable, enablePath, rotate, rotatePath, describeUpd, tag, untag, schedule, cancel,
		genApp, genOther, genDefault, decrypt, decryptKey}
	allowed := map[string][]req{
		"kadmin":  {list, describe, describeO, create, createGen, disable, enable, enablePath, rotate, rotatePath, describeUpd, tag, untag, schedule, cancel},
		"kuser":   {describe, describeO, genApp, genOther, genDefault, decrypt, decryptKey},
		"audit":   {list, describe, describeO},
		"app":     {describe, genApp, decrypt, decryptKey},
		"careful": {list, describe, describeO, create, createGen, disable, enable, enablePath, describeUpd, tag, untag, schedule, cancel},
		"nobody":  {},
		"root":    all,
	}
	for _, who := range []string{"kadmin", "kuser", "audit", "app", "careful", "nobody", "root"} {
		t.Run(who, func(t *testing.T) {
			// A key for this principal's delete and cancel.
			r := e.call("POST", "kms/keys", fmt.Sprintf(`{"key_id":"del-%s"}`, who), "root")
			require.Equal(t, http.StatusOK, r.code, string(r.body))
			for _, q := range all {
				body := q.body
				if strings.Contains(body, "%s") {
					body = fmt.Sprintf(body, who)
				}
				want := http.StatusForbidden
				for _, a := range allowed[who] {
					if a == q {
						want = http.StatusOK
					}
				}
				r := e.call(q.method, q.path, body, who)
				if want == http.StatusOK && r.code == http.StatusNoContent {
					r.code = http.StatusOK // clear-cache
				}
				require.Equal(t, want, r.code, "%s %s %s as %s: %s", q.method, q.path, body, who, r.body)
				if want == http.StatusForbidden {
					m := r.json(t)
					require.Equal(t, "AccessDenied", m["code"])
					require.Contains(t, m["message"], "not authorized to perform kms:")
					require.NotContains(t, string(r.body), plaintext)
				}
			}
		})
	}
	// A non-admin Principal flag does not matter with an Authorizer, and
	// root may stop the service while nobody else may.
	require.Equal(t, http.StatusForbidden, e.call(stop.method, stop.path, "", "kadmin").code)
	require.Equal(t, http.StatusOK, e.call(stop.method, stop.path, "", "root").code)

	// Denials are audited: principal, action, key, outcome.
	logs := e.logs.String()
	require.Contains(t, logs, `"principal":"audit","action":"kms:Decrypt","operation":"Decrypt","key_id":"app-1","outcome":"denied","status":403`)
	require.Contains(t, logs, `"principal":"app","action":"kms:GenerateDataKey","operation":"GenerateDataKey","key_id":"other","outcome":"denied","status":403`)
	require.Contains(t, logs, `"resource":"arn:aws:kms:::key/other"`)
	require.Contains(t, logs, `denied to \"careful\" by role no-rotate`)
	require.Contains(t, logs, `"principal":"nobody","action":"kms:ListKeys","operation":"ListKeys","key_id":"","outcome":"denied"`)
	// No secret in any log line.
	for _, secret := range []string{testMasterKey, plaintext} {
		require.NotContains(t, logs, secret)
	}
	pt, _ := base64.StdEncoding.DecodeString(plaintext)
	require.NotContains(t, logs, fmt.Sprintf("%x", pt))
}

// TestAuthorizerSeesEveryEndpoint: each endpoint asks for its action on its
// resource, and an Authorizer failure that is not a denial is a 500.
func TestAuthorizerSeesEveryEndpoint(t *testing.T) {
	var mu sync.Mutex
	var got []string
	fail := false
	authz := admin.AuthorizerFunc(func(_ context.Context, p admin.Principal, action admin.Action, resource string) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, string(action)+" "+resource)
		if fail {
			return errors.New("policy store down, token s3cr3t")
		}
		return nil
	})
	e := newEnv(t, admin.WithAuthorizer(authz))
	e.startLocal()
	e.ok("POST", "kms/keys", `{"key_id":"k"}`)
	e.ok("POST", "kms/keys", `{"key_id":"default"}`)
	dk := e.ok("POST", "kms/generate-data-key", `{}`)
	const all = admin.ResourceAll
	key := admin.KeyResource
	for _, tc := range []struct {
		method, path, body string
		want               string
	}{
		{"POST", "kms/reconfigure", `{"cache_ttl_seconds":30}`, "kms:Configure " + all},
		{"GET", "kms/config", "", "kms:Configure " + all},
		{"GET", "kms/status", "", "kms:ServiceControl " + all},
		{"GET", "kms/service-status", "", "kms:ServiceControl " + all},
		{"POST", "kms/clear-cache", "", "kms:ClearCache " + all},
		{"GET", "kms/keys", "", "kms:ListKeys " + all},
		{"POST", "kms/keys", `{"key_id":"k2"}`, "kms:CreateKey " + key("k2")},
		{"GET", "kms/keys/k", "", "kms:DescribeKey " + key("k")},
		{"POST", "kms/keys/disable", `{"key_id":"k"}`, "kms:DisableKey " + key("k")},
		{"POST", "kms/keys/k/enable", "", "kms:EnableKey " + key("k")},
		{"POST", "kms/keys/rotate", `{"key_id":"k"}`, "kms:RotateKey " + key("k")},
		{"POST", "kms/keys/update-description", `{"key_id":"k","description":"x"}`, "kms:UpdateKeyDescription " + key("k")},
		{"POST", "kms/keys/tag", `{"key_id":"k","tags":{"a":"b"}}`, "kms:TagResource " + key("k")},
		{"POST", "kms/keys/untag", `{"key_id":"k","tag_keys":["a"]}`, "kms:UntagResource " + key("k")},
		{"DELETE", "kms/keys/delete", `{"key_id":"k2"}`, "kms:DeleteKey " + key("k2")},
		{"POST", "kms/keys/cancel-deletion", `{"key_id":"k2"}`, "kms:DeleteKey " + key("k2")},
		{"POST", "kms/generate-data-key", `{}`, "kms:GenerateDataKey " + key("default")},
		{"POST", "kms/decrypt", fmt.Sprintf(`{"ciphertext_blob":%q}`, dk["ciphertext_blob"]), "kms:Decrypt " + key("default")},
		{"POST", "kms/start", `{"force":true}`, "kms:ServiceControl " + all},
		{"POST", "kms/stop", "", "kms:ServiceControl " + all},
		{"POST", "kms/configure", e.localConfig(), "kms:Configure " + all},
	} {
		mu.Lock()
		got = nil
		mu.Unlock()
		r := e.call(tc.method, tc.path, tc.body, "admin")
		require.Less(t, r.code, 300, "%s %s: %s", tc.method, tc.path, r.body)
		mu.Lock()
		require.Equal(t, []string{tc.want}, got, "%s %s", tc.method, tc.path)
		mu.Unlock()
	}
	// Bad input is still 400 before any key is authorized.
	e.fails("POST", "kms/keys/tag", `{"key_id":"k"}`, "admin", http.StatusBadRequest, "InvalidRequest")

	mu.Lock()
	fail = true
	mu.Unlock()
	msg := e.fails("GET", "kms/keys", "", "admin", http.StatusInternalServerError, "InternalError")
	require.Equal(t, "authorization failed", msg)
	require.NotContains(t, e.logs.String(), "s3cr3t")
	require.NotContains(t, e.logs.String(), dk["plaintext_key"].(string))
}

func TestParsePolicyErrors(t *testing.T) {
	for name, doc := range map[string]string{
		"not JSON":          `{`,
		"unknown field":     `{"principals":{},"extra":1}`,
		"duplicate member":  `{"principals":{"a":["auditor"],"a":["auditor"]}}`,
		"unknown role":      `{"principals":{"a":["superuser"]}}`,
		"no roles":          `{"principals":{"a":[]}}`,
		"empty principal":   `{"principals":{"":["auditor"]}}`,
		"builtin redefined": `{"roles":{"auditor":{"statements":[{"effect":"Allow","actions":["kms:*"],"resources":["*"]}]}}}`,
		"bad effect":        `{"roles":{"r":{"statements":[{"effect":"allow","actions":["kms:ListKeys"],"resources":["*"]}]}}}`,
		"unknown action":    `{"roles":{"r":{"statements":[{"effect":"Allow","actions":["kms:Encrypt"],"resources":["*"]}]}}}`,
		"bad resource":      `{"roles":{"r":{"statements":[{"effect":"Allow","actions":["kms:ListKeys"],"resources":["key/*"]}]}}}`,
		"no statements":     `{"roles":{"r":{"statements":[]}}}`,
		"no resources":      `{"roles":{"r":{"statements":[{"effect":"Allow","actions":["kms:ListKeys"]}]}}}`,
	} {
		_, err := admin.ParsePolicy([]byte(doc))
		require.Error(t, err, name)
	}
	p, err := admin.ParsePolicy([]byte(`{}`))
	require.NoError(t, err)
	err = p.Authorize(context.Background(), admin.Principal{AccessKey: "x", Admin: true}, admin.ActionListKeys, admin.ResourceAll)
	require.ErrorIs(t, err, admin.ErrForbidden, "an empty policy allows nothing, whatever the Admin flag")
	var pe *admin.PolicyError
	require.ErrorAs(t, err, &pe)
}

func TestLoadPolicyAndMatching(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.json")
	require.NoError(t, os.WriteFile(path, []byte(testPolicy), 0o600))
	p, err := admin.LoadPolicy(path)
	require.NoError(t, err)
	require.Equal(t, []string{"key-administrator", "no-rotate"}, p.Roles("careful"))
	_, err = admin.LoadPolicy(filepath.Join(t.TempDir(), "missing.json"))
	require.Error(t, err)

	ctx := context.Background()
	app := admin.Principal{AccessKey: "app"}
	for _, tc := range []struct {
		action   admin.Action
		resource string
		ok       bool
	}{
		{admin.ActionDecrypt, admin.KeyResource("app-1"), true},
		{admin.ActionDecrypt, admin.KeyResource("app-"), true},
		{admin.ActionDecrypt, admin.KeyResource("ap"), false},
		{admin.ActionDecrypt, admin.KeyResource("xapp-1"), false},
		{admin.ActionDescribeKey, admin.KeyResource("app-1"), true},
		{admin.ActionDecrypt, admin.ResourceAll, false},
		{admin.ActionListKeys, admin.ResourceAll, false},
	} {
		err := p.Authorize(ctx, app, tc.action, tc.resource)
		require.Equal(t, tc.ok, err == nil, "%s on %s: %v", tc.action, tc.resource, err)
	}
	// Key-scoped roles do not reach service-wide actions.
	err = p.Authorize(ctx, admin.Principal{AccessKey: "kuser"}, admin.ActionGenerateDataKey, admin.ResourceAll)
	require.ErrorIs(t, err, admin.ErrForbidden)
	require.NoError(t, p.Authorize(ctx, admin.Principal{AccessKey: "root"}, admin.ActionBackup, admin.ResourceAll))
	require.Len(t, admin.Actions(), 17)
}
