package e2e

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms"
	"github.com/envkms/kms/admin"
	"github.com/envkms/kms/sigv4"
)

// TestAdminBackupRestoreSigV4: backup, dry run and restore over the admin
// API, every request signed with the SDK's v4 signer; a key administrator
// (built-in role policy) may do none of it; neither the backup secret nor
// the master key shows in any body or log line.
func TestAdminBackupRestoreSigV4(t *testing.T) {
	const (
		adminAK, adminSK = "AKBACKUPADMIN", "backup-admin-secret-0123456789"
		kadmAK, kadmSK   = "AKBACKUPKADM", "backup-kadm-secret-0123456789"
	)
	verifier := admin.SigV4(sigv4.NewVerifier(func(ak string) (string, bool) {
		switch ak {
		case adminAK:
			return adminSK, true
		case kadmAK:
			return kadmSK, true
		}
		return "", false
	}, sigv4.WithSignedPayload()), func(ak string) bool { return ak == adminAK })
	pol, err := admin.ParsePolicy([]byte(fmt.Sprintf(`{"principals":{%q:["administrator"],%q:["key-administrator"]}}`, adminAK, kadmAK)))
	require.NoError(t, err)
	var logs admLogBuffer
	mux := http.NewServeMux()
	mux.Handle("/admin/v3/", http.StripPrefix("/admin/v3", admin.NewHandler(kms.NewManager(),
		admin.WithAuthenticator(verifier), admin.WithAuthorizer(pol), admin.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	adm := &admClient{t: t, base: srv.URL + "/admin/v3/", hc: srv.Client(), ak: adminAK, sk: adminSK}
	kadm := &admClient{t: t, base: srv.URL + "/admin/v3/", hc: srv.Client(), ak: kadmAK, sk: kadmSK}

	masterKey := "e2e-master-" + randomString(24)
	secret := "e2e-backup-secret-" + randomString(24)
	adm.ok("POST", "kms/configure", fmt.Sprintf(`{"backend_type":"local","key_dir":%q,"master_key":%q,"default_key_id":"default"}`, t.TempDir(), masterKey))
	adm.ok("POST", "kms/start", "")
	adm.ok("POST", "kms/keys", `{"key_id":"default"}`)
	adm.ok("POST", "kms/keys", `{"key_id":"app"}`)
	dk := adm.ok("POST", "kms/generate-data-key", `{"key_id":"app"}`)

	b := adm.ok("POST", "kms/backup", fmt.Sprintf(`{"backup_secret":%q}`, secret))
	bundle := b["bundle"].(string)
	id := b["backup"].(map[string]any)["bundle_id"].(string)
	require.Equal(t, id, adm.ok("GET", "kms/backup", "")["backup"].(map[string]any)["bundle_id"])
	adm.ok("POST", "kms/keys/disable", `{"key_id":"app"}`)

	plan := adm.ok("POST", "kms/restore/dry-run", fmt.Sprintf(`{"bundle":%q,"backup_secret":%q}`, bundle, secret))["plan"].(map[string]any)
	require.Len(t, plan["conflicts"], 1)
	restoreBody := func(policy string) string {
		return fmt.Sprintf(`{"bundle":%q,"backup_secret":%q,"confirm_bundle_id":%q,"conflict_policy":%q}`, bundle, secret, id, policy)
	}
	admRequireError(t, adm.do("POST", "kms/restore", restoreBody("fail")), http.StatusConflict, "Conflict")
	res := adm.ok("POST", "kms/restore", restoreBody("replace"))["result"].(map[string]any)
	require.Equal(t, []any{"app"}, res["replaced"])
	require.Equal(t, true, adm.ok("GET", "kms/keys/app", "")["key_metadata"].(map[string]any)["enabled"])
	dec := adm.ok("POST", "kms/decrypt", fmt.Sprintf(`{"ciphertext_blob":%q}`, dk["ciphertext_blob"]))
	require.Equal(t, dk["plaintext_key"], dec["plaintext"])

	var bodies []string
	for _, p := range []struct{ method, path, body string }{
		{"POST", "kms/backup", fmt.Sprintf(`{"backup_secret":%q}`, secret)},
		{"GET", "kms/backup", ""},
		{"POST", "kms/restore/dry-run", fmt.Sprintf(`{"bundle":%q,"backup_secret":%q}`, bundle, secret)},
		{"POST", "kms/restore", restoreBody("replace")},
	} {
		r := kadm.do(p.method, p.path, p.body)
		admRequireError(t, r, http.StatusForbidden, "AccessDenied")
		bodies = append(bodies, string(r.body))
	}
	wrong := adm.do("POST", "kms/restore/dry-run", fmt.Sprintf(`{"bundle":%q,"backup_secret":"not the backup secret at all"}`, bundle))
	admRequireError(t, wrong, http.StatusBadRequest, "InvalidRequest")
	bodies = append(bodies, string(wrong.body), string(mustJSON(t, plan)), string(mustJSON(t, res)))
	for _, s := range []string{secret, masterKey} {
		require.NotContains(t, logs.String(), s)
		for _, b := range bodies {
			require.NotContains(t, b, s)
		}
	}
	require.NotContains(t, logs.String(), bundle[:64])
	require.Contains(t, logs.String(), `"action":"kms:Restore"`)
	require.Contains(t, logs.String(), `"principal":"`+kadmAK+`"`)
}
