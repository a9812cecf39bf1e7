package sse

import (
	"crypto/md5"
	"encoding/base64"
	"fmt"
)

// CustomerKeySize is the size of an SSE-C key: 32 bytes (AES-256).
const CustomerKeySize = 32

// CustomerKey is an SSE-C customer-provided key. Printing it with fmt never
// shows the key. Call Zero when done with it. The zero value is not useful:
// get one from ParsePut, ParseGet, ParseCopySource or NewCustomerKey.
type CustomerKey struct {
	key [CustomerKeySize]byte
}

// NewCustomerKey copies a 32-byte key. Any other length is an *Error
// wrapping ErrInvalidArgument.
func NewCustomerKey(key []byte) (*CustomerKey, error) {
	if len(key) != CustomerKeySize {
		return nil, errInvalidArgument(msgBadKey)
	}
	k := new(CustomerKey)
	copy(k.key[:], key)
	return k, nil
}

// KeyMD5 returns the base64 MD5 digest of the key: the value of the
// x-amz-server-side-encryption-customer-key-MD5 header.
func (k *CustomerKey) KeyMD5() string {
	sum := md5.Sum(k.key[:]) // MD5 is what S3 specifies for this header.
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Zero overwrites the key with zeros.
func (k *CustomerKey) Zero() {
	if k != nil {
		clear(k.key[:])
	}
}

// String returns a redacted description. String, GoString and Format have
// value receivers so a CustomerKey value prints redacted too.
func (k CustomerKey) String() string { return "sse.CustomerKey{REDACTED}" }

// GoString is like String, so %#v doesn't show the key either.
func (k CustomerKey) GoString() string { return k.String() }

// Format implements fmt.Formatter so every verb prints the redacted form.
func (k CustomerKey) Format(f fmt.State, _ rune) { _, _ = fmt.Fprint(f, k.String()) }

// bytes returns the key material (never to be logged or stored).
func (k *CustomerKey) bytes() []byte { return k.key[:] }
