package kms

import (
	"errors"
	"strings"

	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/local"
)

// Manager errors.
var (
	// ErrNotRunning is returned by key and data-key calls while the Manager
	// is not in state Running.
	ErrNotRunning = errors.New("kms: not running")
	// ErrNotConfigured is returned by Start before Configure.
	ErrNotConfigured = errors.New("kms: not configured")
	// ErrAlreadyRunning is returned by Configure or Start while Running
	// (use Reconfigure, or Stop first).
	ErrAlreadyRunning = errors.New("kms: already running")
	// ErrInvalidConfig is wrapped by every *ConfigError.
	ErrInvalidConfig = errors.New("kms: invalid configuration")
	// ErrInvalidEnvelope is returned for a malformed or tampered envelope header.
	ErrInvalidEnvelope = errors.New("kms: invalid envelope")
)

// Backend sentinels, re-exported so most users import only this package.
var (
	ErrKeyNotFound        = backend.ErrKeyNotFound
	ErrKeyExists          = backend.ErrKeyExists
	ErrKeyDeleted         = backend.ErrKeyDeleted // wraps ErrKeyExists
	ErrKeyDisabled        = backend.ErrKeyDisabled
	ErrKeyPendingDeletion = backend.ErrKeyPendingDeletion
	ErrInvalidCiphertext  = backend.ErrInvalidCiphertext
	ErrContextMismatch    = backend.ErrContextMismatch
	ErrInvalidArgument    = backend.ErrInvalidArgument
	ErrUnavailable        = backend.ErrUnavailable
	ErrAccessDenied       = backend.ErrAccessDenied
	ErrUnsupported        = backend.ErrUnsupported
)

// ErrWrongMasterKey is wrapped by Start's (or a hot swap's) error when the
// master key does not open the local key directory. Re-exported from package
// local.
var ErrWrongMasterKey = local.ErrWrongMasterKey

// ErrKDFTooCostly is wrapped by Start's (or a hot swap's) error when the
// local key directory's header asks for Argon2id parameters above the
// bound (see local.DefaultMaxKDFParams). Re-exported from package local.
var ErrKDFTooCostly = local.ErrKDFTooCostly

// FieldProblem is one invalid Config field.
type FieldProblem struct {
	Field   string // JSON name, e.g. "key_dir" (an environment variable for ConfigFromEnv; empty for the JSON as a whole)
	Problem string // never contains a secret value
}

// ConfigError lists every invalid field of a Config. It wraps ErrInvalidConfig.
type ConfigError struct {
	Problems []FieldProblem
}

// Error describes the failure; it never includes key material.
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("kms: invalid configuration: ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		if p.Field != "" {
			b.WriteString(p.Field)
			b.WriteString(": ")
		}
		b.WriteString(p.Problem)
	}
	return b.String()
}

// Unwrap returns ErrInvalidConfig.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }
