package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/envkms/kms/backend"
)

// statusError is a Vault HTTP error answer, reduced to what is safe to show:
// method, path, status and Vault's own error strings (scrubbed of secrets and
// truncated). kind is the backend sentinel it maps to; callers that know
// better (e.g. a 400 from transit/decrypt) override it.
type statusError struct {
	method, path string
	status       int
	msgs         []string
	kind         error
}

func (e *statusError) Error() string {
	msg := ""
	if len(e.msgs) > 0 {
		msg = ": " + strings.Join(e.msgs, "; ")
	}
	return fmt.Sprintf("%v: vault %s /v1/%s: HTTP %d%s", e.kind, e.method, e.path, e.status, msg)
}

func (e *statusError) Unwrap() error { return e.kind }

// has reports whether one of Vault's error strings contains s.
func (e *statusError) has(s string) bool {
	for _, m := range e.msgs {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// transportError is a failure to get an answer from Vault at all
// (connection refused, reset, timeout, TLS). It wraps ErrUnavailable and the
// cause (so errors.Is(err, context.DeadlineExceeded) works too).
type transportError struct {
	method, path string
	cause        error
}

func (e *transportError) Error() string {
	return fmt.Sprintf("%v: vault %s /v1/%s: %v", backend.ErrUnavailable, e.method, e.path, e.cause)
}

func (e *transportError) Unwrap() []error { return []error{backend.ErrUnavailable, e.cause} }

// Longest texts kept from Vault's error strings (untrusted) and from
// transport errors (which start with the request URL).
const (
	maxVaultMsg     = 200
	maxTransportMsg = 1000
)

// classify turns an error from the api client into a *statusError or a
// *transportError. secrets are scrubbed from Vault's messages (Vault does not
// echo them, but the message is untrusted text).
func classify(method, path string, err error, secrets ...string) error {
	var re *api.ResponseError
	if errors.As(err, &re) {
		se := &statusError{method: method, path: path, status: re.StatusCode}
		if re.RawError {
			se.msgs = []string{"(unparsed response body omitted)"}
		} else {
			for _, m := range re.Errors {
				se.msgs = append(se.msgs, scrub(m, secrets, maxVaultMsg))
			}
		}
		switch {
		case re.StatusCode == http.StatusForbidden || re.StatusCode == http.StatusUnauthorized:
			se.kind = backend.ErrAccessDenied
		case re.StatusCode == http.StatusNotFound:
			se.kind = backend.ErrKeyNotFound
		case re.StatusCode == http.StatusTooManyRequests || re.StatusCode >= 500:
			se.kind = backend.ErrUnavailable // 503 is also what a sealed Vault answers
		default:
			se.kind = backend.ErrInvalidArgument
		}
		return se
	}
	// Everything else is the request never getting an answer: dial/TLS
	// errors, resets, the deadline. The api client's errors here name the URL
	// but never the request body.
	return &transportError{method: method, path: path, cause: scrubErr(err, secrets)}
}

// retryable reports whether a failed idempotent request is worth repeating.
func retryable(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.status == http.StatusTooManyRequests || se.status == http.StatusInternalServerError ||
			se.status == http.StatusBadGateway || se.status == http.StatusServiceUnavailable ||
			se.status == http.StatusGatewayTimeout
	}
	var te *transportError
	if errors.As(err, &te) {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	return false
}

// scrub replaces secrets in s and truncates it to limit bytes.
func scrub(s string, secrets []string, limit int) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}

// scrubbedError keeps errors.Is/As working through the cause while its text
// is scrubbed.
type scrubbedError struct {
	msg   string
	cause error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.cause }

func scrubErr(err error, secrets []string) error {
	msg := err.Error()
	clean := scrub(msg, secrets, maxTransportMsg)
	if clean == msg {
		return err
	}
	return &scrubbedError{msg: clean, cause: err}
}

// opError wraps err in a *backend.Error for op and keyID. A bare sentinel
// (from our own checks) is kept as is.
func opError(op, keyID string, err error) error {
	if err == nil {
		return nil
	}
	var be *backend.Error
	if errors.As(err, &be) {
		return err
	}
	return &backend.Error{Op: op, KeyID: keyID, Err: err}
}
