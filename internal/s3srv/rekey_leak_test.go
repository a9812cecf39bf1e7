package s3srv

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms"
	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/sse"
)

// dataKeyRecorder is the Manager as sse sees it (every optional interface:
// it embeds *kms.Manager), remembering every plaintext data key.
type dataKeyRecorder struct {
	*kms.Manager
	mu   sync.Mutex
	keys [][]byte
}

func (r *dataKeyRecorder) note(dk backend.DataKey, err error) (backend.DataKey, error) {
	if err == nil {
		r.mu.Lock()
		r.keys = append(r.keys, append([]byte(nil), dk.Plaintext...))
		r.mu.Unlock()
	}
	return dk, err
}

func (r *dataKeyRecorder) GenerateDataKey(ctx context.Context, id string, ec backend.EncryptionContext) (backend.DataKey, error) {
	return r.note(r.Manager.GenerateDataKey(ctx, id, ec))
}

func (r *dataKeyRecorder) Decrypt(ctx context.Context, ct []byte, ec backend.EncryptionContext) (backend.DataKey, error) {
	return r.note(r.Manager.Decrypt(ctx, ct, ec))
}

// The rekey endpoints (POST and GET kms/rekey, GET kms/rekey/report) and
// destroy-versions answer bad input with 400, the user credential with 403,
// a bad signature with 401 and another method with 405; and no answer
// (success or error) and no log line carries a secret key, the master key,
// an object's plaintext or a data key.
func TestRekeyEndpointsLeakNothing(t *testing.T) {
	dir := t.TempDir()
	rec := &dataKeyRecorder{}
	e := newTestEnv(t, Config{DataDir: dir, AccessKey: testAdminAK, SecretKey: testAdminSK, UserAccessKey: testUserAK, UserSecretKey: testUserSK,
		WrapKeyManager: func(km sse.KeyManager) sse.KeyManager { rec.Manager = km.(*kms.Manager); return rec }})
	const plaintext = "confidential plaintext 7d1e0c"
	e.mustStatus(http.StatusOK, "PUT", "/bkt", nil, nil)
	for i := range 3 {
		e.mustStatus(http.StatusOK, "PUT", fmt.Sprintf("/bkt/o%d", i), []byte(plaintext), map[string]string{"X-Amz-Server-Side-Encryption": "aws:kms"})
	}
	_, err := e.srv.Manager().RotateKey(context.Background(), "default")
	require.NoError(t, err)
	_, mkFile := kmsPaths(dir)
	mk, err := os.ReadFile(mkFile)
	require.NoError(t, err)
	masterKey := strings.TrimSpace(string(mk))
	require.NotEmpty(t, masterKey)

	var bodies []string
	call := func(want int, ak, sk, method, path, body string) string {
		t.Helper()
		resp, b := e.doAs(ak, sk, method, "/admin/v3/"+path, []byte(body))
		require.Equal(t, want, resp.StatusCode, "%s %s %s: %s", method, path, body, b)
		bodies = append(bodies, string(b))
		return string(b)
	}
	// 400
	call(http.StatusBadRequest, testAdminAK, testAdminSK, "POST", "kms/rekey", `{"key_id":1}`)
	call(http.StatusBadRequest, testAdminAK, testAdminSK, "POST", "kms/rekey", `not json`)
	call(http.StatusBadRequest, testAdminAK, testAdminSK, "GET", "kms/rekey/report?key_id=default", "")
	call(http.StatusBadRequest, testAdminAK, testAdminSK, "GET", "kms/rekey/report?version=1", "")
	call(http.StatusBadRequest, testAdminAK, testAdminSK, "GET", "kms/rekey/report?key_id=default&version=-1", "")
	call(http.StatusBadRequest, testAdminAK, testAdminSK, "POST", "kms/keys/destroy-versions", `{"key_id":"default","below_version":0}`)
	// 403 for the user credential, 401 for a bad signature, 405
	for _, ep := range []struct{ method, path, body string }{
		{"POST", "kms/rekey", `{}`}, {"GET", "kms/rekey", ""}, {"GET", "kms/rekey/report?key_id=default&version=1", ""},
		{"POST", "kms/keys/destroy-versions", `{"key_id":"default","below_version":2}`},
	} {
		call(http.StatusForbidden, testUserAK, testUserSK, ep.method, ep.path, ep.body)
		call(http.StatusUnauthorized, testAdminAK, testAdminSK+"x", ep.method, ep.path, ep.body)
	}
	call(http.StatusMethodNotAllowed, testAdminAK, testAdminSK, "PUT", "kms/rekey", "")
	call(http.StatusMethodNotAllowed, testAdminAK, testAdminSK, "DELETE", "kms/rekey/report", "")
	call(http.StatusNotFound, testAdminAK, testAdminSK, "GET", "kms/rekey/report?key_id=default&version=1", "")
	// Success: start, status, report, destroy.
	call(http.StatusAccepted, testAdminAK, testAdminSK, "POST", "kms/rekey", `{}`)
	e.waitRekey("completed")
	st := call(http.StatusOK, testAdminAK, testAdminSK, "GET", "kms/rekey", "")
	require.Contains(t, st, `"key_versions"`)
	rep := call(http.StatusOK, testAdminAK, testAdminSK, "GET", "kms/rekey/report?key_id=default&version=2", "")
	require.Contains(t, rep, "bkt/o0")
	call(http.StatusOK, testAdminAK, testAdminSK, "POST", "kms/keys/destroy-versions", `{"key_id":"default","below_version":2}`)

	var checkpoint []string
	for _, f := range []string{rekeyCheckpointFile, inventoryFile} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		checkpoint = append(checkpoint, string(b))
	}
	secrets := []string{testAdminSK, testUserSK, masterKey, plaintext}
	rec.mu.Lock()
	require.NotEmpty(t, rec.keys)
	for _, k := range rec.keys {
		secrets = append(secrets, base64.StdEncoding.EncodeToString(k), hex.EncodeToString(k), string(k))
	}
	rec.mu.Unlock()
	for _, secret := range secrets {
		for _, b := range bodies {
			require.NotContains(t, b, secret)
		}
		for _, c := range checkpoint {
			require.NotContains(t, c, secret)
		}
		require.NotContains(t, e.logs.String(), secret)
	}
}
