package admin

import (
	"errors"
	"net/http"

	"github.com/envkms/kms"
	"github.com/envkms/kms/sigv4"
)

// Error codes of the {"code","message"} error body.
const (
	codeInvalidRequest   = "InvalidRequest"
	codeAccessDenied     = "AccessDenied"
	codeNotFound         = "NotFound"
	codeMethodNotAllowed = "MethodNotAllowed"
	codeConflict         = "Conflict"
	codeInternalError    = "InternalError"
)

// apiError is an error with the HTTP status and client-safe message it maps to.
type apiError struct {
	status int
	msg    string // shown to the client; never a secret
	reason string // for the audit log; defaults to msg
	err    error  // cause, for errors.Is
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.err }

func apiErr(status int, msg string) *apiError { return &apiError{status: status, msg: msg} }

func badRequest(msg string) *apiError { return apiErr(http.StatusBadRequest, msg) }

func codeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return codeInvalidRequest
	case http.StatusUnauthorized, http.StatusForbidden:
		return codeAccessDenied
	case http.StatusNotFound:
		return codeNotFound
	case http.StatusMethodNotAllowed:
		return codeMethodNotAllowed
	case http.StatusConflict:
		return codeConflict
	default:
		return codeInternalError
	}
}

// managerError maps an error from kms.Manager to a status. Messages of
// kms and backend errors never carry key material, tokens or secrets (a
// project-wide rule, tested in those packages), so 4xx messages are passed
// on; 5xx causes are logged, and the client sees a generic message.
func managerError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, kms.ErrKeyNotFound):
		status = http.StatusNotFound
	case errors.Is(err, kms.ErrInvalidConfig),
		errors.Is(err, kms.ErrInvalidArgument),
		errors.Is(err, kms.ErrInvalidCiphertext),
		errors.Is(err, kms.ErrContextMismatch),
		errors.Is(err, kms.ErrInvalidEnvelope),
		errors.Is(err, kms.ErrUnsupported),
		// A configure, start or hot swap with a master key that does not
		// open key_dir, or a key_dir whose header asks for an Argon2id cost
		// above the bound: the request is wrong, not the server.
		errors.Is(err, kms.ErrWrongMasterKey),
		errors.Is(err, kms.ErrKDFTooCostly):
		status = http.StatusBadRequest
	case errors.Is(err, kms.ErrKeyExists),
		errors.Is(err, kms.ErrKeyInUse), // the default key, or one the storage server references
		errors.Is(err, kms.ErrAlreadyRunning),
		errors.Is(err, kms.ErrNotRunning),
		errors.Is(err, kms.ErrNotConfigured),
		errors.Is(err, kms.ErrKeyDisabled),
		errors.Is(err, kms.ErrKeyPendingDeletion):
		status = http.StatusConflict
	}
	e := &apiError{status: status, msg: err.Error(), reason: err.Error(), err: err}
	if status == http.StatusInternalServerError {
		e.msg = "internal error"
		switch {
		case errors.Is(err, kms.ErrUnavailable):
			e.msg = "KMS backend unavailable"
		case errors.Is(err, kms.ErrAccessDenied):
			e.msg = "KMS backend refused access"
		}
	}
	return e
}

func isForbidden(err error) bool {
	return errors.Is(err, ErrForbidden) && !errors.Is(err, ErrUnauthenticated)
}

// authReason is the client-safe text of an authentication error: the
// SigV4 verifier's own reason, or a generic text for errors from other
// Authenticators (whose messages we cannot vouch for).
func authReason(err error) string {
	var se *sigv4.Error
	if errors.As(err, &se) {
		return sigv4Reason(se)
	}
	if isForbidden(err) {
		return "admin access required"
	}
	return "authentication required"
}

// sigv4Reason is the client-safe text of a SigV4 verification error.
func sigv4Reason(se *sigv4.Error) string {
	return ErrUnauthenticated.Error() + ": " + se.Reason
}
