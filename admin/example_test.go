package admin_test

import (
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/envkms/kms"
	"github.com/envkms/kms/admin"
	"github.com/envkms/kms/sigv4"
)

// Mount the admin API under /admin/v3/ next to other routes, with SigV4
// authentication (as awscurl and the AWS SDKs sign) and an audit log.
func ExampleNewHandler() {
	m := kms.NewManager()

	verifier := sigv4.NewVerifier(func(accessKey string) (secret string, ok bool) {
		// Look the caller up in your credential store.
		if accessKey == "AKIAEXAMPLEADMIN" {
			return os.Getenv("ADMIN_SECRET_KEY"), true
		}
		return "", false
	}, sigv4.WithSignedPayload()) // admin bodies must be signed
	isAdmin := func(accessKey string) bool { return accessKey == "AKIAEXAMPLEADMIN" }
	audit := slog.New(slog.NewJSONHandler(os.Stderr, nil))

	mux := http.NewServeMux()
	mux.Handle("/admin/v3/", admin.NewHandler(m,
		admin.WithAuthenticator(admin.SigV4(verifier, isAdmin)),
		admin.WithLogger(audit),
		admin.WithPrefix("/admin/v3/"),
	))
	// mux.Handle("/", yourS3Handler)

	srv := httptest.NewServer(mux)
	defer srv.Close()

	// An unsigned request is refused.
	resp, err := http.Post(srv.URL+"/admin/v3/kms/configure", "application/json",
		strings.NewReader(`{"backend_type":"local","key_dir":"/var/lib/kms"}`))
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output: 401 Unauthorized
}

// A custom Authenticator, e.g. for a server that already authenticated the
// caller (mTLS, a session) before the request reaches the admin API.
func ExampleAuthenticatorFunc() {
	auth := admin.AuthenticatorFunc(func(r *http.Request) (admin.Principal, error) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			return admin.Principal{}, admin.ErrUnauthenticated
		}
		cn := r.TLS.PeerCertificates[0].Subject.CommonName
		return admin.Principal{AccessKey: cn, Admin: cn == "kms-operator"}, nil
	})
	h := admin.NewHandler(kms.NewManager(), admin.WithAuthenticator(auth), admin.WithLogger(slog.New(slog.DiscardHandler)))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/admin/v3/kms/status", nil))
	fmt.Println(rec.Code, rec.Body.String())
	// Output: 401 {"code":"AccessDenied","message":"authentication required"}
}
