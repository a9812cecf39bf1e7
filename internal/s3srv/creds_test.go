package s3srv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/envkms/kms/admin"
)

const (
	testAdminAK, testAdminSK = "AKIAADMINEXAMPLE", "admin-secret-key-0123456789"
	testUserAK, testUserSK   = "AKIAUSEREXAMPLE", "user-secret-key-0123456789"
)

// doAs sends a request signed (with the AWS SDK signer, payload hashed) by
// the given credential.
func (e *testEnv) doAs(ak, sk, method, path string, body []byte) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	ph := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", ph)
	creds := aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, ph, "s3", "us-east-1", time.Now()); err != nil {
		e.t.Fatal(err)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// The second credential is not an admin: on the admin API it holds its role
// of the built-in policy (key-user by default, or auditor), the admin holds
// administrator; both may make S3 requests.
func TestUserCredentialRoles(t *testing.T) {
	type call struct {
		method, path, body string
	}
	var (
		configure = call{"POST", "/admin/v3/kms/configure", `{"backend_type":"local"}`}
		createKey = call{"POST", "/admin/v3/kms/keys", `{"KeyUsage":"ENCRYPT_DECRYPT","Description":"x"}`}
		deleteKey = call{"DELETE", "/admin/v3/kms/keys/delete", `{"key_id":"default"}`}
		rotateKey = call{"POST", "/admin/v3/kms/keys/rotate", `{"key_id":"default"}`}
		listKeys  = call{"GET", "/admin/v3/kms/keys", ``}
		describe  = call{"GET", "/admin/v3/kms/keys/default", ``}
		genKey    = call{"POST", "/admin/v3/kms/generate-data-key", `{"key_id":"default","key_spec":"AES_256"}`}
		status    = call{"GET", "/admin/v3/kms/status", ``}
	)
	for _, tc := range []struct {
		role    string
		allowed []call
		denied  []call
	}{
		{role: "", allowed: []call{describe, genKey}, denied: []call{configure, createKey, deleteKey, rotateKey, listKeys, status}},
		{role: admin.RoleAuditor, allowed: []call{describe, listKeys}, denied: []call{configure, createKey, deleteKey, rotateKey, genKey, status}},
	} {
		t.Run("role="+tc.role, func(t *testing.T) {
			e := newTestEnv(t, Config{AccessKey: testAdminAK, SecretKey: testAdminSK,
				UserAccessKey: testUserAK, UserSecretKey: testUserSK, UserRole: tc.role})
			for _, c := range tc.allowed {
				if resp, b := e.doAs(testUserAK, testUserSK, c.method, c.path, []byte(c.body)); resp.StatusCode != http.StatusOK {
					t.Errorf("user %s %s: status %d, want 200: %s", c.method, c.path, resp.StatusCode, b)
				}
			}
			for _, c := range tc.denied {
				resp, b := e.doAs(testUserAK, testUserSK, c.method, c.path, []byte(c.body))
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("user %s %s: status %d, want 403: %s", c.method, c.path, resp.StatusCode, b)
				}
				if strings.Contains(string(b), testUserSK) || strings.Contains(string(b), testAdminSK) {
					t.Errorf("user %s %s: a secret key in the answer", c.method, c.path)
				}
			}
			// The admin may do everything the user was refused (rotate and
			// create; deleting the default key is its own story, issue §4).
			for _, c := range []call{describe, genKey, listKeys, status, rotateKey, createKey} {
				if resp, b := e.doAs(testAdminAK, testAdminSK, c.method, c.path, []byte(c.body)); resp.StatusCode != http.StatusOK {
					t.Errorf("admin %s %s: status %d, want 200: %s", c.method, c.path, resp.StatusCode, b)
				}
			}
			// Unknown credentials are still 401/403, not anonymous.
			if resp, _ := e.doAs("AKIANOBODY", "nope", describe.method, describe.path, nil); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("unknown credential on the admin API: status %d, want 401", resp.StatusCode)
			}
			// S3 works for both credentials.
			for _, who := range [][2]string{{testAdminAK, testAdminSK}, {testUserAK, testUserSK}} {
				bucket := "/b-" + strings.ToLower(who[0])
				for _, c := range []call{{"PUT", bucket, ""}, {"PUT", bucket + "/obj", "hello"}, {"GET", bucket + "/obj", ""}} {
					resp, b := e.doAs(who[0], who[1], c.method, c.path, []byte(c.body))
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("%s S3 %s %s: status %d: %s", who[0], c.method, c.path, resp.StatusCode, b)
					}
					if c.method == "GET" && string(b) != "hello" {
						t.Fatalf("%s S3 GET: %q", who[0], b)
					}
				}
			}
			if resp, _ := e.doAs("AKIANOBODY", "nope", "GET", "/b-"+strings.ToLower(testUserAK)+"/obj", nil); resp.StatusCode != http.StatusForbidden {
				t.Errorf("unknown credential on S3: status %d, want 403", resp.StatusCode)
			}
			for _, s := range []string{testUserSK, testAdminSK} {
				if strings.Contains(e.logs.String(), s) {
					t.Errorf("a secret key in the logs")
				}
			}
			if !strings.Contains(e.logs.String(), "denied") {
				t.Errorf("no denial in the audit log")
			}
		})
	}
}

func TestUserCredentialConfig(t *testing.T) {
	for _, cfg := range []Config{
		{UserAccessKey: testUserAK, UserSecretKey: testUserSK},
		{AccessKey: testAdminAK, SecretKey: testAdminSK, UserAccessKey: testUserAK},
		{AccessKey: testAdminAK, SecretKey: testAdminSK, UserAccessKey: testAdminAK, UserSecretKey: "x"},
		{AccessKey: testAdminAK, SecretKey: testAdminSK, UserAccessKey: testUserAK, UserSecretKey: testUserSK, UserRole: admin.RoleAdministrator},
		{AccessKey: testAdminAK, SecretKey: testAdminSK, UserRole: admin.RoleAuditor},
	} {
		cfg.DataDir = t.TempDir()
		if s, err := New(context.Background(), cfg); err == nil {
			_ = s.Close(context.Background())
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}
