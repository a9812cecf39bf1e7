package admin

import (
	"errors"
	"net/http"
)

// Authentication errors. An Authenticator returns an error wrapping one of
// them; the handler answers 401 or 403 AccessDenied respectively. Any other
// error is treated as ErrUnauthenticated.
var (
	// ErrUnauthenticated means the request carries no valid credentials
	// (unsigned, bad signature, unknown access key, expired). → 401.
	ErrUnauthenticated = errors.New("admin: unauthenticated")
	// ErrForbidden means the caller is authenticated but not allowed. → 403.
	ErrForbidden = errors.New("admin: forbidden")
)

// Principal is an authenticated caller.
type Principal struct {
	AccessKey string // identifies the caller in audit logs
	Admin     bool   // only admins may call the admin API
}

// Authenticator decides who is calling. It returns the Principal, or an error
// wrapping ErrUnauthenticated or ErrForbidden. It may read headers and the URL
// and may wrap r.Body (for example to verify a payload hash as it is read),
// but must not consume the body.
type Authenticator interface {
	Authenticate(r *http.Request) (Principal, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(*http.Request) (Principal, error)

// Authenticate calls f(r).
func (f AuthenticatorFunc) Authenticate(r *http.Request) (Principal, error) { return f(r) }
