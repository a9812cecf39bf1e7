package stream

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Functions return them wrapped in an *Error; match them with
// errors.Is.
var (
	// ErrAuthentication reports a ciphertext that does not authenticate:
	// tampered, truncated, extended, reordered or spliced segments, a
	// malformed header, the wrong key or the wrong associated data. The
	// format cannot tell these apart, by design.
	ErrAuthentication = errors.New("message authentication failed")

	// ErrInvalidKeySize reports a key that is not 32 bytes long.
	ErrInvalidKeySize = errors.New("invalid key size")

	// ErrInvalidArgument reports an invalid option, offset or size.
	ErrInvalidArgument = errors.New("invalid argument")

	// ErrTooLarge reports a plaintext that needs more segments than the
	// format's 32-bit segment counter allows (2^32-1).
	ErrTooLarge = errors.New("stream too large for the segment counter")

	// ErrClosed reports a Write to a writer, or a ReadAt on a ReaderAt,
	// after Close.
	ErrClosed = errors.New("closed")
)

// Error is the package's typed error. Err is one of the sentinels or an I/O
// error of the underlying reader or writer. An Error never carries key or
// plaintext bytes.
type Error struct {
	Op      string // API call, e.g. "Read", "ReadAt", "NewDecryptReaderAt"
	Segment int64  // index of the segment concerned, or -1
	Reason  string // short secret-free detail; may be empty
	Err     error
}

// Error describes the failure; it never includes key material.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("stream: ")
	b.WriteString(e.Op)
	if e.Segment >= 0 {
		b.WriteString(": segment ")
		b.WriteString(strconv.FormatInt(e.Segment, 10))
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// authError reports a segment (or -1 for the header) that failed to authenticate.
func authError(op string, segment int64, reason string) error {
	return &Error{Op: op, Segment: segment, Reason: reason, Err: ErrAuthentication}
}

// argError reports an invalid argument or option.
func argError(op, reason string) error {
	return &Error{Op: op, Segment: -1, Reason: reason, Err: ErrInvalidArgument}
}
