package local

import (
	"errors"
	"fmt"
)

// Sentinel errors of package local. Errors from the Backend methods also wrap
// the sentinels of package backend (backend.ErrKeyNotFound, ...).
var (
	// ErrInvalidConfig: Config is unusable (see the message for the field).
	ErrInvalidConfig = errors.New("invalid local backend config")
	// ErrWrongMasterKey: the master key does not open the key directory (or
	// the directory header was altered; AES-GCM cannot tell which).
	ErrWrongMasterKey = errors.New("wrong master key for key directory")
	// ErrProtectionMismatch: the directory was created sealed and opened with
	// InsecurePlaintext, or the other way round.
	ErrProtectionMismatch = errors.New("key directory protection does not match config")
	// ErrCorruptFile: a key file or the directory header is truncated,
	// malformed, tampered with, foreign, or of an unknown format version.
	ErrCorruptFile = errors.New("corrupt or foreign file")
	// ErrKDFTooCostly: the directory header (or Config.KDF) asks for
	// Argon2id parameters above Config.MaxKDF (DefaultMaxKDFParams). New
	// refuses before deriving anything.
	ErrKDFTooCostly = errors.New("key directory KDF parameters above the configured bound")
)

// FileError reports a problem with one file of the key directory. It wraps
// ErrCorruptFile, ErrWrongMasterKey or an *fs.PathError. It names the file
// but never includes its contents.
type FileError struct {
	Path string
	Err  error
}

// Error describes the failure; it never includes key material.
func (e *FileError) Error() string { return fmt.Sprintf("local: %s: %v", e.Path, e.Err) }

// Unwrap returns the cause.
func (e *FileError) Unwrap() error { return e.Err }

func corrupt(path, format string, args ...any) *FileError {
	return &FileError{Path: path, Err: fmt.Errorf("%w: "+format, append([]any{ErrCorruptFile}, args...)...)}
}
