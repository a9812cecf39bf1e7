package admin_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/admin"
)

const testBackupSecret = "admin-test backup secret 4f1e9a77c2"

// backupBodies collects every response body of a test, for the leak check.
type backupBodies []string

func (b *backupBodies) add(r resp) resp { *b = append(*b, string(r.body)); return r }

func restoreBody(bundle, secret, id, policy string) string {
	return fmt.Sprintf(`{"bundle":%q,"backup_secret":%q,"confirm_bundle_id":%q,"conflict_policy":%q}`, bundle, secret, id, policy)
}

func dryRunBody(bundle, secret string) string {
	return fmt.Sprintf(`{"bundle":%q,"backup_secret":%q}`, bundle, secret)
}

// sealedMaterial returns every sealed key version in the key directory.
func sealedMaterial(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	re := regexp.MustCompile(`"sealed": "([^"]+)"`)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") && !strings.HasPrefix(e.Name(), ".") {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			require.NoError(t, err)
			for _, m := range re.FindAllStringSubmatch(string(data), -1) {
				out = append(out, m[1])
			}
		}
	}
	require.NotEmpty(t, out)
	return out
}

func TestBackupRestoreEndpoints(t *testing.T) {
	e := newEnv(t)
	var bodies backupBodies
	e.fails("GET", "kms/backup", "", "admin", http.StatusNotFound, "NotFound")
	e.startLocal()
	e.ok("POST", "kms/keys", `{"key_id":"app-1"}`)
	e.ok("POST", "kms/keys", `{"key_id":"default"}`)
	gen := e.ok("POST", "kms/generate-data-key", `{"key_id":"app-1"}`)
	sealed := sealedMaterial(t, e.dir)

	// Backup.
	r := bodies.add(e.call("POST", "kms/backup", fmt.Sprintf(`{"backup_secret":%q}`, testBackupSecret), "admin"))
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	require.Equal(t, "no-store", r.hdr.Get("Cache-Control"))
	var br struct {
		Success bool   `json:"success"`
		Bundle  string `json:"bundle"`
		Backup  struct {
			BundleID string `json:"bundle_id"`
			Keys     []struct {
				KeyID    string `json:"key_id"`
				Versions int    `json:"versions"`
			} `json:"keys"`
			Size int `json:"size_bytes"`
		} `json:"backup"`
	}
	require.NoError(t, json.Unmarshal(r.body, &br))
	require.True(t, br.Success)
	require.Len(t, br.Backup.BundleID, 32)
	require.Len(t, br.Backup.Keys, 2) // app-1, default
	raw, err := base64.StdEncoding.DecodeString(br.Bundle)
	require.NoError(t, err)
	require.Equal(t, br.Backup.Size, len(raw))
	id := br.Backup.BundleID

	// GET: the last backup's metadata, without the bundle.
	g := bodies.add(e.call("GET", "kms/backup", "", "admin"))
	require.Equal(t, http.StatusOK, g.code, string(g.body))
	require.Contains(t, string(g.body), id)
	require.NotContains(t, string(g.body), br.Bundle)

	// Change things, then the dry run shows it and changes nothing.
	e.ok("POST", "kms/keys/disable", `{"key_id":"app-1"}`)
	e.ok("POST", "kms/keys/rotate", `{"key_id":"default"}`)
	d := bodies.add(e.call("POST", "kms/restore/dry-run", dryRunBody(br.Bundle, testBackupSecret), "admin"))
	require.Equal(t, http.StatusOK, d.code, string(d.body))
	var dr struct {
		Plan struct {
			Bundle struct {
				BundleID string `json:"bundle_id"`
			} `json:"bundle"`
			Conflicts []struct {
				KeyID       string `json:"key_id"`
				BundleOlder bool   `json:"bundle_older"`
			} `json:"conflicts"`
			Add []string `json:"add"`
		} `json:"plan"`
	}
	require.NoError(t, json.Unmarshal(d.body, &dr))
	require.Equal(t, id, dr.Plan.Bundle.BundleID)
	require.Len(t, dr.Plan.Conflicts, 2)
	require.Equal(t, "app-1", dr.Plan.Conflicts[0].KeyID)
	require.Equal(t, "default", dr.Plan.Conflicts[1].KeyID)
	require.True(t, dr.Plan.Conflicts[1].BundleOlder)
	require.Equal(t, false, e.ok("GET", "kms/keys/app-1", "")["key_metadata"].(map[string]any)["enabled"])

	// fail: 409, nothing changed.
	bodies.add(e.call("POST", "kms/restore", restoreBody(br.Bundle, testBackupSecret, id, "fail"), "admin"))
	e.fails("POST", "kms/restore", restoreBody(br.Bundle, testBackupSecret, id, "fail"), "admin", http.StatusConflict, "Conflict")
	// skip: keeps both.
	s := bodies.add(e.call("POST", "kms/restore", restoreBody(br.Bundle, testBackupSecret, id, "skip"), "admin"))
	require.Equal(t, http.StatusOK, s.code, string(s.body))
	require.Equal(t, false, e.ok("GET", "kms/keys/app-1", "")["key_metadata"].(map[string]any)["enabled"])
	// replace: the bundle wins.
	rr := bodies.add(e.call("POST", "kms/restore", restoreBody(br.Bundle, testBackupSecret, id, "replace"), "admin"))
	require.Equal(t, http.StatusOK, rr.code, string(rr.body))
	var res struct {
		Success bool `json:"success"`
		Result  struct {
			Replaced []string `json:"replaced"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal(rr.body, &res))
	require.Equal(t, []string{"app-1", "default"}, res.Result.Replaced)
	md := e.ok("GET", "kms/keys/app-1", "")["key_metadata"].(map[string]any)
	require.Equal(t, true, md["enabled"])
	require.Equal(t, float64(1), e.ok("GET", "kms/keys/default", "")["key_metadata"].(map[string]any)["version"])
	dec := e.ok("POST", "kms/decrypt", fmt.Sprintf(`{"ciphertext_blob":%q}`, gen["ciphertext_blob"]))
	require.Equal(t, gen["plaintext_key"], dec["plaintext"])

	// Leak: no secret, no key material (sealed or not) in any body or log
	// line; the bundle itself only in the POST kms/backup answer.
	logs := e.logs.String()
	require.Contains(t, logs, `"operation":"Restore"`)
	require.Contains(t, logs, `"action":"kms:Backup"`)
	for _, s := range append([]string{testBackupSecret, testMasterKey}, sealed...) {
		require.NotContains(t, logs, s)
		for _, b := range bodies {
			require.NotContains(t, b, s)
		}
	}
	require.NotContains(t, logs, br.Bundle[:64])
	for _, b := range bodies[1:] {
		require.NotContains(t, b, br.Bundle[:64])
	}
}

func TestBackupRestoreBadInput(t *testing.T) {
	e := newEnv(t)
	e.startLocal()
	r := e.call("POST", "kms/backup", fmt.Sprintf(`{"backup_secret":%q}`, testBackupSecret), "admin")
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	var br struct {
		Bundle string `json:"bundle"`
		Backup struct {
			BundleID string `json:"bundle_id"`
		} `json:"backup"`
	}
	require.NoError(t, json.Unmarshal(r.body, &br))
	id := br.Backup.BundleID
	raw, _ := base64.StdEncoding.DecodeString(br.Bundle)
	tampered := []byte(strings.Replace(string(raw), `"creation_date": "`, `"creation_date": "1`, 1))
	tamperedB64 := base64.StdEncoding.EncodeToString(tampered)

	bad := []struct{ method, path, body string }{
		{"POST", "kms/backup", ""},
		{"POST", "kms/backup", `{}`},
		{"POST", "kms/backup", `{"backup_secret":"short"}`},
		{"POST", "kms/backup", `{"backup_secret":123}`},
		{"POST", "kms/backup", fmt.Sprintf(`{"backup_secret":%q,"extra":1}`, testBackupSecret)},
		{"POST", "kms/backup", fmt.Sprintf(`{"backup_secret":%q,"backup_secret":%q}`, testBackupSecret, testBackupSecret)},
		{"GET", "kms/backup", `{"x":1}`},
		{"POST", "kms/restore/dry-run", ""},
		{"POST", "kms/restore/dry-run", dryRunBody("", testBackupSecret)},
		{"POST", "kms/restore/dry-run", dryRunBody("!!not base64!!", testBackupSecret)},
		{"POST", "kms/restore/dry-run", dryRunBody(br.Bundle, "")},
		{"POST", "kms/restore/dry-run", dryRunBody(base64.StdEncoding.EncodeToString([]byte("{}")), testBackupSecret)},
		{"POST", "kms/restore/dry-run", restoreBody(br.Bundle, testBackupSecret, id, "skip")}, // unknown fields
		{"POST", "kms/restore", ""},
		{"POST", "kms/restore", restoreBody(br.Bundle, testBackupSecret, "", "skip")},
		{"POST", "kms/restore", restoreBody(br.Bundle, testBackupSecret, id, "")},
		{"POST", "kms/restore", restoreBody(br.Bundle, testBackupSecret, id, "merge")},
		{"POST", "kms/restore", restoreBody(br.Bundle, testBackupSecret, strings.Repeat("0", 32), "skip")},
		{"POST", "kms/restore", restoreBody("", testBackupSecret, id, "skip")},
	}
	for _, q := range bad {
		e.fails(q.method, q.path, q.body, "admin", http.StatusBadRequest, "InvalidRequest")
	}
	// A wrong secret and a tampered bundle: 400 with their typed errors.
	wrong := "another backup secret, long enough"
	msg := e.fails("POST", "kms/restore/dry-run", dryRunBody(br.Bundle, wrong), "admin", http.StatusBadRequest, "InvalidRequest")
	require.Contains(t, msg, "wrong backup secret")
	require.NotContains(t, msg, wrong)
	msg = e.fails("POST", "kms/restore", restoreBody(br.Bundle, wrong, id, "replace"), "admin", http.StatusBadRequest, "InvalidRequest")
	require.Contains(t, msg, "wrong backup secret")
	msg = e.fails("POST", "kms/restore/dry-run", dryRunBody(tamperedB64, testBackupSecret), "admin", http.StatusBadRequest, "InvalidRequest")
	require.Contains(t, msg, "tampered")
	msg = e.fails("POST", "kms/restore", restoreBody(tamperedB64, testBackupSecret, id, "replace"), "admin", http.StatusBadRequest, "InvalidRequest")
	require.Contains(t, msg, "tampered")
	require.NotContains(t, e.logs.String(), wrong)
	require.NotContains(t, e.logs.String(), testBackupSecret)
}

const backupPolicy = `{
  "roles": {
    "backup-operator": {"statements": [
      {"effect": "Allow", "actions": ["kms:Backup"], "resources": ["arn:aws:kms:::*"]}
    ]}
  },
  "principals": {
    "root":   ["administrator"],
    "kadmin": ["key-administrator"],
    "kuser":  ["key-user"],
    "audit":  ["auditor"],
    "backup": ["backup-operator"]
  }
}`

func TestBackupRestoreAuthorization(t *testing.T) {
	pol, err := admin.ParsePolicy([]byte(backupPolicy))
	require.NoError(t, err)
	e := newEnv(t, admin.WithAuthenticator(keyAuth), admin.WithAuthorizer(pol))
	for _, q := range [][2]string{{"kms/configure", e.localConfig()}, {"kms/start", ""}} {
		r := e.call("POST", q[0], q[1], "root")
		require.Equal(t, http.StatusOK, r.code, string(r.body))
	}
	r := e.call("POST", "kms/backup", fmt.Sprintf(`{"backup_secret":%q}`, testBackupSecret), "root")
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	var br struct {
		Bundle string `json:"bundle"`
		Backup struct {
			BundleID string `json:"bundle_id"`
		} `json:"backup"`
	}
	require.NoError(t, json.Unmarshal(r.body, &br))

	type req struct{ method, path, body string }
	post := req{"POST", "kms/backup", fmt.Sprintf(`{"backup_secret":%q}`, testBackupSecret)}
	get := req{"GET", "kms/backup", ""}
	dry := req{"POST", "kms/restore/dry-run", dryRunBody(br.Bundle, testBackupSecret)}
	rest := req{"POST", "kms/restore", restoreBody(br.Bundle, testBackupSecret, br.Backup.BundleID, "skip")}
	all := []req{post, get, dry, rest}
	allowed := map[string][]req{"root": all, "backup": {post, get}, "kadmin": nil, "kuser": nil, "audit": nil, "nobody": nil}
	for who, ok := range allowed {
		for _, q := range all {
			r := e.call(q.method, q.path, q.body, who)
			want := http.StatusForbidden
			for _, a := range ok {
				if a == q {
					want = http.StatusOK
				}
			}
			require.Equal(t, want, r.code, "%s %s %s: %s", who, q.method, q.path, r.body)
			if want == http.StatusForbidden {
				require.Contains(t, string(r.body), "AccessDenied")
				require.NotContains(t, string(r.body), testBackupSecret)
			}
		}
	}
	logs := e.logs.String()
	require.Contains(t, logs, `"action":"kms:Restore"`)
	require.Contains(t, logs, `"outcome":"denied"`)
	require.NotContains(t, logs, testBackupSecret)
}
