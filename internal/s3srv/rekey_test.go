package s3srv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func (e *testEnv) rekeyStatus() rekeyState {
	e.t.Helper()
	resp, b := e.doAs(testAdminAK, testAdminSK, "GET", "/admin/v3/kms/rekey", nil)
	require.Equal(e.t, http.StatusOK, resp.StatusCode, string(b))
	var st rekeyState
	require.NoError(e.t, json.Unmarshal(b, &st))
	return st
}

func (e *testEnv) waitRekey(state string) rekeyState {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if st := e.rekeyStatus(); st.State == state {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("rekey job never reached %q: %+v", state, e.rekeyStatus())
	return rekeyState{}
}

// The admin starts a rekey job after a rotation; the server is killed
// mid-job (the job stops after its second page, its checkpoint "running")
// and restarted: the job resumes from the checkpoint and completes, every
// object readable throughout and under version 2 at the end. The report
// says which objects are still under version 1. The user credential gets
// 403.
func TestRekeyJobResumesAfterRestart(t *testing.T) {
	old := rekeyPageSize
	rekeyPageSize = 5
	t.Cleanup(func() { rekeyPageSize = old })
	dir := t.TempDir()
	cfg := Config{DataDir: dir, AccessKey: testAdminAK, SecretKey: testAdminSK, UserAccessKey: testUserAK, UserSecretKey: testUserSK}
	e := newTestEnv(t, cfg)
	const n = 23
	body := func(i int) string { return fmt.Sprintf("object %d", i) }
	for _, b := range []string{"/aaa", "/bbb"} {
		e.mustStatus(http.StatusOK, "PUT", b, nil, nil)
	}
	for i := range n {
		bucket := "/aaa"
		hdr := map[string]string{}
		if i%2 == 1 {
			bucket = "/bbb"
			hdr["X-Amz-Server-Side-Encryption"] = "aws:kms"
		}
		e.mustStatus(http.StatusOK, "PUT", fmt.Sprintf("%s/o%02d", bucket, i), []byte(body(i)), hdr)
	}
	readAll := func(e *testEnv) {
		t.Helper()
		for i := range n {
			bucket := "/aaa"
			if i%2 == 1 {
				bucket = "/bbb"
			}
			_, b := e.mustStatus(http.StatusOK, "GET", fmt.Sprintf("%s/o%02d", bucket, i), nil, nil)
			require.Equal(t, body(i), string(b))
		}
	}
	_, err := e.srv.Manager().RotateKey(context.Background(), "default")
	require.NoError(t, err)
	e.srv.enc.ClearBucketKeys()

	// The report needs a completed job; the user may not start one.
	resp, _ := e.doAs(testAdminAK, testAdminSK, "GET", "/admin/v3/kms/rekey/report?key_id=default&version=1", nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = e.doAs(testUserAK, testUserSK, "POST", "/admin/v3/kms/rekey", []byte(`{}`))
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = e.doAs(testAdminAK, testAdminSK, "POST", "/admin/v3/kms/rekey", []byte(`{"bogus":1}`))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	pages := 0
	e.srv.rk.afterPage = func(rekeyState) error {
		pages++
		readAll(e) // readable mid-job
		if pages == 2 {
			return errors.New("simulated kill")
		}
		return nil
	}
	resp, b := e.doAs(testAdminAK, testAdminSK, "POST", "/admin/v3/kms/rekey", []byte(`{}`))
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(b))
	require.Eventually(t, func() bool {
		e.srv.rk.mu.Lock()
		defer e.srv.rk.mu.Unlock()
		return !e.srv.rk.running
	}, 30*time.Second, 10*time.Millisecond)
	st := e.rekeyStatus()
	require.Equal(t, "running", st.State) // killed: the checkpoint says running
	require.Equal(t, 10, st.Scanned)
	require.Equal(t, 10, st.Rekeyed)

	// Restart on the same directory: the job resumes and completes.
	e.ts.Close()
	require.NoError(t, e.srv.Close(context.Background()))
	e2 := newTestEnv(t, cfg)
	readAll(e2)
	st = e2.waitRekey("completed")
	require.Equal(t, n, st.Scanned)
	require.Equal(t, n, st.Rekeyed)
	require.Equal(t, 1, st.Resumes)
	require.Zero(t, st.Failed)
	require.Equal(t, n, st.Inventory["default"]["2"].Count)
	require.Nil(t, st.Inventory["default"]["1"])
	readAll(e2)

	resp, b = e2.doAs(testAdminAK, testAdminSK, "GET", "/admin/v3/kms/rekey/report?key_id=default&version=1", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	var rep struct {
		Count int `json:"count"`
	}
	require.NoError(t, json.Unmarshal(b, &rep))
	require.Zero(t, rep.Count)
	resp, _ = e2.doAs(testAdminAK, testAdminSK, "GET", "/admin/v3/kms/rekey/report?key_id=default&version=x", nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = e2.doAs(testUserAK, testUserSK, "GET", "/admin/v3/kms/rekey/report?key_id=default&version=1", nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	inv, ok := e2.srv.LastInventory()
	require.True(t, ok)
	require.Equal(t, map[int]int{2: n}, inv["default"])

	// A second job finds nothing to do.
	resp, _ = e2.doAs(testAdminAK, testAdminSK, "POST", "/admin/v3/kms/rekey", []byte(`{"key_id":"default"}`))
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	st = e2.waitRekey("completed")
	require.Zero(t, st.Rekeyed)
	require.Equal(t, n, st.Scanned)
	for _, s := range []string{testAdminSK, testUserSK} {
		require.NotContains(t, e2.logs.String(), s)
	}
}

// Once a completed inventory says objects depend on a key, scheduling its
// deletion is refused (409), so it can never be purged under them.
func TestInventoryRefusesDeletion(t *testing.T) {
	e := newTestEnv(t, Config{AccessKey: testAdminAK, SecretKey: testAdminSK})
	for _, id := range []string{"used", "unused"} {
		e.mustStatus(http.StatusOK, "POST", "/admin/v3/kms/keys", []byte(`{"KeyId":"`+id+`"}`), nil)
	}
	e.mustStatus(http.StatusOK, "PUT", "/bkt", nil, nil)
	e.mustStatus(http.StatusOK, "PUT", "/bkt/o", []byte("x"), map[string]string{
		"X-Amz-Server-Side-Encryption": "aws:kms", "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": "used"})
	resp, b := e.doAs(testAdminAK, testAdminSK, "POST", "/admin/v3/kms/rekey", []byte(`{}`))
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(b))
	e.waitRekey("completed")
	resp, b = e.doAs(testAdminAK, testAdminSK, "DELETE", "/admin/v3/kms/keys/delete", []byte(`{"key_id":"used","pending_window_in_days":7}`))
	require.Equal(t, http.StatusConflict, resp.StatusCode, string(b))
	resp, b = e.doAs(testAdminAK, testAdminSK, "DELETE", "/admin/v3/kms/keys/delete", []byte(`{"key_id":"unused","pending_window_in_days":7}`))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
}

// Destroying key versions needs a completed inventory that proves no object
// needs them: before any job it is refused (409, fail closed); after a job
// moved every object to version 2, version 1 is destroyed and every object
// still reads; versions below 3 are refused (objects written since the job
// may be under version 2).
func TestInventoryGuardsVersionDestruction(t *testing.T) {
	e := newTestEnv(t, Config{AccessKey: testAdminAK, SecretKey: testAdminSK, UserAccessKey: testUserAK, UserSecretKey: testUserSK})
	e.mustStatus(http.StatusOK, "PUT", "/bkt", nil, nil)
	for i := range 3 {
		e.mustStatus(http.StatusOK, "PUT", fmt.Sprintf("/bkt/o%d", i), []byte("x"), map[string]string{"X-Amz-Server-Side-Encryption": "aws:kms"})
	}
	_, err := e.srv.Manager().RotateKey(context.Background(), "default")
	require.NoError(t, err)
	e.srv.enc.ClearBucketKeys()
	destroy := func(user, secret, body string) (int, string) {
		resp, b := e.doAs(user, secret, "POST", "/admin/v3/kms/keys/destroy-versions", []byte(body))
		return resp.StatusCode, string(b)
	}
	code, b := destroy(testAdminAK, testAdminSK, `{"key_id":"default","below_version":2}`)
	require.Equal(t, http.StatusConflict, code, b)
	require.Contains(t, b, "rekey job")
	code, b = destroy(testUserAK, testUserSK, `{"key_id":"default","below_version":2}`)
	require.Equal(t, http.StatusForbidden, code, b)
	for _, body := range []string{`{}`, `{"key_id":"default"}`, `{"key_id":"default","below_version":1}`, `{"below_version":2}`, `{"key_id":"default","below_version":"2"}`} {
		code, b = destroy(testAdminAK, testAdminSK, body)
		require.Equal(t, http.StatusBadRequest, code, body+": "+b)
	}

	resp, b2 := e.doAs(testAdminAK, testAdminSK, "POST", "/admin/v3/kms/rekey", []byte(`{}`))
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(b2))
	st := e.waitRekey("completed")
	require.Equal(t, 2, st.KeyVersions["default"])
	oldest, err := e.srv.inventoryVersionReferences(context.Background(), "default")
	require.NoError(t, err)
	require.Equal(t, 2, oldest)
	_, err = e.srv.inventoryVersionReferences(context.Background(), "created-after-the-job")
	require.ErrorIs(t, err, errNoInventory)

	code, b = destroy(testAdminAK, testAdminSK, `{"key_id":"default","below_version":2}`)
	require.Equal(t, http.StatusOK, code, b)
	e.srv.Manager().ClearCache()
	for i := range 3 { // every object was under version 2
		_, body := e.mustStatus(http.StatusOK, "GET", fmt.Sprintf("/bkt/o%d", i), nil, nil)
		require.Equal(t, "x", string(body))
	}
	_, err = e.srv.Manager().RotateKey(context.Background(), "default")
	require.NoError(t, err)
	code, b = destroy(testAdminAK, testAdminSK, `{"key_id":"default","below_version":3}`)
	require.Equal(t, http.StatusConflict, code, b)
	require.Contains(t, b, "version 2")
	for i := range 3 {
		_, body := e.mustStatus(http.StatusOK, "GET", fmt.Sprintf("/bkt/o%d", i), nil, nil)
		require.Equal(t, "x", string(body))
	}
}
