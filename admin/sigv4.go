package admin

import (
	"fmt"
	"net/http"

	"github.com/envkms/kms/sigv4"
)

// SigV4 returns an Authenticator that verifies AWS Signature Version 4
// requests with v (operator tools such as awscurl, the AWS SDKs and curl
// --aws-sigv4 sign so) and grants the admin API to the access keys isAdmin
// accepts; other verified callers get 403. Build v with
// sigv4.WithSignedPayload, so that a captured request cannot be replayed
// with another body. The handler reads every body to its end before acting
// on it, which is where a body that is not the one signed fails.
//
// A refused request's error wraps ErrUnauthenticated and the *sigv4.Error,
// whose reason the 401 answer carries. SigV4 panics if v or isAdmin is nil.
func SigV4(v *sigv4.Verifier, isAdmin func(accessKey string) bool) Authenticator {
	if v == nil || isAdmin == nil {
		panic("admin: SigV4 needs a verifier and an isAdmin function")
	}
	return AuthenticatorFunc(func(r *http.Request) (Principal, error) {
		id, err := v.Verify(r)
		if err != nil {
			return Principal{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
		}
		return Principal{AccessKey: id.AccessKey, Admin: isAdmin(id.AccessKey)}, nil
	})
}
