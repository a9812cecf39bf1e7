package sse

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/envkms/kms/backend"
)

// Sentinel errors. Every error this package returns (except I/O errors of the
// server's own writers and readers, passed through unchanged) is an *Error
// wrapping one of them: match with errors.Is, map to a response with
// errors.As.
var (
	// ErrInvalidArgument: a malformed or conflicting SSE header or argument.
	ErrInvalidArgument = errors.New("sse: invalid argument")
	// ErrInvalidAlgorithm: an unsupported customer-algorithm value.
	ErrInvalidAlgorithm = errors.New("sse: invalid encryption algorithm")
	// ErrInsecureTransport: SSE-C headers on a connection that is not TLS.
	ErrInsecureTransport = errors.New("sse: customer keys require a secure connection")
	// ErrMissingCustomerKey: the object (or multipart upload) is SSE-C
	// encrypted but the request carries no customer key.
	ErrMissingCustomerKey = errors.New("sse: object requires a customer key")
	// ErrWrongCustomerKey: the customer key does not open the object.
	ErrWrongCustomerKey = errors.New("sse: wrong customer key")
	// ErrNotApplicable: SSE-C key headers for an object that is not SSE-C
	// encrypted.
	ErrNotApplicable = errors.New("sse: encryption parameters not applicable to this object")
	// ErrNotEncrypted: the metadata holds no encryption entries (Rekey).
	ErrNotEncrypted = errors.New("sse: object is not encrypted")
	// ErrKMSKeyNotFound: the KMS key does not exist.
	ErrKMSKeyNotFound = errors.New("sse: kms key not found")
	// ErrKMSKeyDisabled: the KMS key is disabled.
	ErrKMSKeyDisabled = errors.New("sse: kms key disabled")
	// ErrKMSKeyInvalidState: the KMS key is pending deletion.
	ErrKMSKeyInvalidState = errors.New("sse: kms key pending deletion")
	// ErrKMS: the KMS failed, is not running or is unreachable.
	ErrKMS = errors.New("sse: kms failure")
	// ErrTampered: stored ciphertext or sealed metadata failed
	// authentication (modified, truncated, swapped or moved).
	ErrTampered = errors.New("sse: object failed authentication")
	// ErrCorruptMetadata: stored encryption metadata is malformed.
	ErrCorruptMetadata = errors.New("sse: corrupt encryption metadata")
	// ErrUnsupportedVersion: stored metadata has a format version this
	// package does not know.
	ErrUnsupportedVersion = errors.New("sse: unsupported metadata version")
	// ErrBadDigest: the plaintext does not match the request's Content-MD5.
	ErrBadDigest = errors.New("sse: content-md5 mismatch")
	// ErrInvalidDigest: a Content-MD5 value that is not base64 of 16 bytes.
	ErrInvalidDigest = errors.New("sse: malformed content-md5")
	// ErrClosed: the ObjectReader or ObjectWriter was closed.
	ErrClosed = errors.New("sse: closed")
)

// Error is the typed error of this package: the S3 error code and HTTP status
// a server should answer with, a message safe to show clients, and the
// cause. It never contains key material or header values.
type Error struct {
	Code       string // S3 error code, e.g. "InvalidArgument"
	Message    string // client-safe message for the S3 error body
	HTTPStatus int    // e.g. http.StatusBadRequest
	Err        error  // wraps one of the sentinels (and the cause, if any)
}

// Error describes the failure; it never includes key material.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + " (" + e.Err.Error() + ")"
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// S3 error messages, as S3 words them.
const (
	msgIncompatible     = "Server Side Encryption with Customer provided key is incompatible with the encryption method specified."
	msgBadSSE           = "The encryption method specified is not supported."
	msgKMSNeedsKMS      = "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms"
	msgBadAlgorithm     = "The encryption request you specified is not valid. The valid value is AES256."
	msgNoAlgorithm      = "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm."
	msgNoKey            = "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key."
	msgNoKeyMD5         = "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key."
	msgBadKey           = "The secret key was invalid for the specified algorithm."
	msgMD5Mismatch      = "The calculated MD5 hash of the key did not match the hash that was provided."
	msgInsecure         = "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection."
	msgEncryptedObject  = "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object."
	msgMultipartNoKey   = "The multipart upload initiate requested encryption. Subsequent part requests must include the appropriate encryption parameters."
	msgNotApplicable    = "The encryption parameters are not applicable to this object."
	msgAccessDenied     = "Access Denied"
	msgGetWithSSE       = "Encryption request headers such as x-amz-server-side-encryption must not be sent for GET and HEAD requests."
	msgBadKeyID         = "The specified KMS KeyID is not valid."
	msgBadContext       = "The encryption context must be base64-encoded UTF-8 JSON holding string key-value pairs."
	msgBadBucketKey     = "The x-amz-server-side-encryption-bucket-key-enabled header must be true or false, and true only with aws:kms."
	msgDuplicateHeader  = "An SSE header was given more than once."
	msgInternal         = "We encountered an internal error. Please try again."
	msgKMSNotFound      = "Invalid keyId"
	msgKMSDisabled      = "The KMS key is disabled."
	msgKMSInvalidState  = "The KMS key is pending deletion."
	msgKMSUnavailable   = "The KMS is unavailable. Please try again."
	msgNotEncrypted     = "The object is not encrypted; its payload must be re-encrypted."
	msgBadPartNumber    = "Part number must be an integer between 1 and 10000, inclusive."
	msgBadParts         = "The list of parts is not valid."
	msgBadRequest       = "The encryption request is not valid."
	msgNoRekeyToNothing = "Removing encryption requires re-writing the payload."
	msgBadDigest        = "The Content-MD5 you specified did not match what we received."
	msgInvalidDigest    = "The Content-MD5 you specified was invalid."
)

func newError(sentinel error, code string, status int, msg string) *Error {
	return &Error{Code: code, Message: msg, HTTPStatus: status, Err: sentinel}
}

func errInvalidArgument(msg string) *Error {
	return newError(ErrInvalidArgument, "InvalidArgument", http.StatusBadRequest, msg)
}

func errInvalidRequest(sentinel error, msg string) *Error {
	return newError(sentinel, "InvalidRequest", http.StatusBadRequest, msg)
}

func errWrongKey() *Error {
	return newError(ErrWrongCustomerKey, "AccessDenied", http.StatusForbidden, msgAccessDenied)
}

func errMissingKey(msg string) *Error { return errInvalidRequest(ErrMissingCustomerKey, msg) }

func errNotApplicable() *Error { return errInvalidRequest(ErrNotApplicable, msgNotApplicable) }

// errTampered reports an authentication failure; cause is a stream or seal
// error, which never holds key material.
func errTampered(cause error) *Error {
	e := newError(ErrTampered, "InternalError", http.StatusInternalServerError, msgInternal)
	if cause != nil {
		e.Err = fmt.Errorf("%w: %w", ErrTampered, cause)
	}
	return e
}

func errCorrupt(what string) *Error {
	e := newError(ErrCorruptMetadata, "InternalError", http.StatusInternalServerError, msgInternal)
	e.Err = fmt.Errorf("%w: %s", ErrCorruptMetadata, what)
	return e
}

// errKMS maps an error of the KeyManager to an *Error. Backend errors carry
// key ids, never key material.
func errKMS(cause error) *Error {
	var e *Error
	switch {
	case errors.Is(cause, backend.ErrKeyNotFound):
		e = newError(ErrKMSKeyNotFound, "KMS.NotFoundException", http.StatusBadRequest, msgKMSNotFound)
	case errors.Is(cause, backend.ErrKeyDisabled):
		e = newError(ErrKMSKeyDisabled, "KMS.DisabledException", http.StatusBadRequest, msgKMSDisabled)
	case errors.Is(cause, backend.ErrKeyPendingDeletion):
		e = newError(ErrKMSKeyInvalidState, "KMS.KMSInvalidStateException", http.StatusBadRequest, msgKMSInvalidState)
	case errors.Is(cause, backend.ErrInvalidArgument):
		e = newError(ErrKMSKeyNotFound, "KMS.NotFoundException", http.StatusBadRequest, msgKMSNotFound)
	case errors.Is(cause, backend.ErrInvalidCiphertext), errors.Is(cause, backend.ErrContextMismatch):
		// The wrapped data key or its context was altered.
		return errTampered(cause)
	default: // unavailable, not running, timed out, access denied, ...
		e = newError(ErrKMS, "ServiceUnavailable", http.StatusServiceUnavailable, msgKMSUnavailable)
	}
	e.Err = fmt.Errorf("%w: %w", e.Err, cause)
	return e
}
