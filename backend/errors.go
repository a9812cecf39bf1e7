package backend

import (
	"errors"
	"fmt"
)

// Sentinel errors. Backends wrap them (usually in an *Error) so callers match
// with errors.Is.
var (
	ErrKeyNotFound        = errors.New("key not found")
	ErrKeyExists          = errors.New("key already exists")
	ErrKeyDisabled        = errors.New("key is disabled")
	ErrKeyPendingDeletion = errors.New("key is pending deletion")
	ErrInvalidCiphertext  = errors.New("invalid ciphertext")
	ErrContextMismatch    = errors.New("encryption context mismatch")
	ErrInvalidArgument    = errors.New("invalid argument")
	ErrUnavailable        = errors.New("backend unavailable")
	ErrAccessDenied       = errors.New("access denied")
	ErrUnsupported        = errors.New("operation not supported")
	ErrClosed             = errors.New("backend closed")
)

// Error is the typed error backends return: the operation, the key it
// concerned (if any) and the cause, which wraps one of the sentinels. It never
// carries key material.
type Error struct {
	Op    string // e.g. "GenerateDataKey"
	KeyID string // may be empty
	Err   error
}

// Error describes the failure; it never includes key material.
func (e *Error) Error() string {
	if e.KeyID != "" {
		return fmt.Sprintf("%s %q: %v", e.Op, e.KeyID, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Op, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ValidatePendingDays returns an error wrapping ErrInvalidArgument unless
// MinPendingDays <= days <= MaxPendingDays.
func ValidatePendingDays(days int) error {
	if days < MinPendingDays || days > MaxPendingDays {
		return fmt.Errorf("%w: pending window %d days, want %d..%d", ErrInvalidArgument, days, MinPendingDays, MaxPendingDays)
	}
	return nil
}
