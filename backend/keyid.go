package backend

import (
	"crypto/rand"
	"fmt"
)

// MaxKeyIDLen is the longest key id accepted.
const MaxKeyIDLen = 128

// ValidateKeyID returns an error wrapping ErrInvalidArgument unless id is
// 1..MaxKeyIDLen characters of [A-Za-z0-9_.-] starting with a letter or digit.
// The rule keeps ids safe as file names and Vault path segments.
func ValidateKeyID(id string) error {
	if id == "" || len(id) > MaxKeyIDLen {
		return fmt.Errorf("%w: key id must be 1..%d characters", ErrInvalidArgument, MaxKeyIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '-' && c != '_' && c != '.') {
			return fmt.Errorf("%w: key id %q: only [A-Za-z0-9_.-], starting with a letter or digit", ErrInvalidArgument, id)
		}
	}
	return nil
}

// NewKeyID returns a random (version 4) UUID string.
func NewKeyID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
