package admin_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/require"

	"github.com/envkms/kms"
	"github.com/envkms/kms/admin"
	"github.com/envkms/kms/sigv4"
)

const (
	sigAdminAK = "AKIAADMINEXAMPLE"
	sigAdminSK = "admin-secret-key-0123456789abcdefghij"
	sigUserAK  = "AKIAUSEREXAMPLE0"
	sigUserSK  = "user-secret-key-0123456789abcdefghijk"
)

// sigv4Handler is the admin API behind admin.SigV4 with two callers, one of
// them an admin.
func sigv4Handler() http.Handler {
	secrets := map[string]string{sigAdminAK: sigAdminSK, sigUserAK: sigUserSK}
	v := sigv4.NewVerifier(func(ak string) (string, bool) {
		s, ok := secrets[ak]
		return s, ok
	}, sigv4.WithSignedPayload())
	auth := admin.SigV4(v, func(ak string) bool { return ak == sigAdminAK })
	return admin.NewHandler(kms.NewManager(kms.WithLogger(slog.New(slog.DiscardHandler))),
		admin.WithAuthenticator(auth), admin.WithLogger(slog.New(slog.DiscardHandler)))
}

// sigv4Call signs a request as awscurl does (x-amz-content-sha256 over
// signed, the body sent may differ) and returns the status and error body.
func sigv4Call(t *testing.T, h http.Handler, method, path, ak, sk string, signed, sent []byte, payloadHash string) (int, map[string]string) {
	t.Helper()
	req := httptest.NewRequest(method, "http://kms.example"+path, bytes.NewReader(sent))
	if payloadHash == "" {
		sum := sha256.Sum256(signed)
		payloadHash = hex.EncodeToString(sum[:])
	}
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk}, req, payloadHash, "s3", "us-east-1", time.Now())
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body map[string]string
	if rec.Code >= 400 {
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	}
	return rec.Code, body
}

func TestSigV4Authenticator(t *testing.T) {
	h := sigv4Handler()
	code, _ := sigv4Call(t, h, "GET", "/kms/status", sigAdminAK, sigAdminSK, nil, nil, "")
	require.Equal(t, http.StatusOK, code)

	code, e := sigv4Call(t, h, "GET", "/kms/status", sigUserAK, sigUserSK, nil, nil, "")
	require.Equal(t, http.StatusForbidden, code)
	require.Equal(t, "admin access required", e["message"])

	code, e = sigv4Call(t, h, "GET", "/kms/status", sigAdminAK, "wrong-secret", nil, nil, "")
	require.Equal(t, http.StatusUnauthorized, code)
	require.Equal(t, "admin: unauthenticated: signature does not match", e["message"])

	// A body other than the one signed fails when the handler reads it.
	signed := []byte(`{"key_id":"k1"}`)
	code, e = sigv4Call(t, h, "POST", "/kms/generate-data-key", sigAdminAK, sigAdminSK, signed, []byte(`{"key_id":"k2"}`), "")
	require.Equal(t, http.StatusUnauthorized, code)
	require.Equal(t, "admin: unauthenticated: payload does not match x-amz-content-sha256", e["message"])

	// WithSignedPayload: a body the signature does not cover is refused.
	code, e = sigv4Call(t, h, "POST", "/kms/generate-data-key", sigAdminAK, sigAdminSK, nil, signed, "UNSIGNED-PAYLOAD")
	require.Equal(t, http.StatusUnauthorized, code)
	require.Equal(t, "admin: unauthenticated: the payload must be signed", e["message"])
}

func TestSigV4AuthenticatorErrors(t *testing.T) {
	v := sigv4.NewVerifier(func(string) (string, bool) { return "", false })
	_, err := admin.SigV4(v, func(string) bool { return true }).Authenticate(httptest.NewRequest("GET", "/kms/status", nil))
	require.ErrorIs(t, err, admin.ErrUnauthenticated)
	require.ErrorIs(t, err, sigv4.ErrNotSigned)
	var se *sigv4.Error
	require.True(t, errors.As(err, &se))

	require.Panics(t, func() { admin.SigV4(v, nil) })
	require.Panics(t, func() { admin.SigV4(nil, func(string) bool { return true }) })
}
