package stream

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"math"

	"github.com/envkms/kms/internal/hkdf256"
)

// Wire-format constants. They are fixed by Tink's AES256_GCM_HKDF streaming
// key template; changing any of them breaks interoperability.
const (
	// HeaderSize is the length of the stream header: one length byte, the
	// 32-byte salt and the 7-byte nonce prefix.
	HeaderSize = 1 + saltSize + prefixSize

	// DefaultSegmentSize is the default ciphertext segment size (1 MiB),
	// Tink's AES256_GCM_HKDF_1MB.
	DefaultSegmentSize = 1 << 20

	keySize    = 32 // input key and derived AES-256 key
	saltSize   = 32 // HKDF salt, equal to the derived key size
	prefixSize = 7  // random nonce prefix
	nonceSize  = 12 // prefix || uint32 counter || last-segment byte
	tagSize    = 16 // GCM tag appended to every segment

	// maxSegments is the number of segments a stream may hold: the counter is
	// 32 bits and Tink refuses segment number 2^32-1.
	maxSegments = math.MaxUint32
)

// Bounds of the ciphertext segment size, for every function and option of
// this package that takes one. Every segment size in the range gives a valid
// Tink stream; package sse accepts the same range.
const (
	// MinSegmentSize (57) is the smallest segment size: the first segment
	// must hold the header, a tag and one byte of plaintext (Tink's lower
	// bound).
	MinSegmentSize = HeaderSize + tagSize + 1
	// MaxSegmentSize (1 GiB) is the largest segment size. It bounds the
	// buffers a stream allocates, each of which holds up to one segment.
	MaxSegmentSize = 1 << 30
)

// Values of the last byte of a segment nonce.
const (
	lastSegment    = true
	notLastSegment = false
)

// header is the parsed stream header.
type header struct {
	salt   [saltSize]byte
	prefix [prefixSize]byte
}

// marshal writes the header in wire form into b, which must hold HeaderSize bytes.
func (h *header) marshal(b []byte) {
	_ = b[HeaderSize-1]
	b[0] = HeaderSize
	copy(b[1:], h.salt[:])
	copy(b[1+saltSize:], h.prefix[:])
}

// parseHeader parses the wire header b (HeaderSize bytes).
func parseHeader(b []byte) (header, bool) {
	var h header
	if len(b) != HeaderSize || b[0] != HeaderSize {
		return h, false
	}
	copy(h.salt[:], b[1:])
	copy(h.prefix[:], b[1+saltSize:])
	return h, true
}

// newAEAD derives the stream key HKDF-SHA256(ikm = key, salt, info = aad) and
// returns AES-256-GCM under it. The derived key is wiped before returning; the
// caller's key is not retained.
func newAEAD(key []byte, salt *[saltSize]byte, aad []byte) (cipher.AEAD, error) {
	if len(key) != keySize {
		return nil, errors.New("stream: key must be 32 bytes") // checked by every caller
	}
	dk := deriveKey((*[keySize]byte)(key), salt, aad)
	defer clear(dk[:])
	block, err := aes.NewCipher(dk[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// deriveKey is HKDF-SHA256 (RFC 5869) of a 32-byte key and a 32-byte salt,
// for one 32-byte block of output: PRK = HMAC(salt, key), OKM = HMAC(PRK,
// info || 0x01). It equals crypto/hkdf.Key(sha256.New, key, salt, info, 32)
// (TestDeriveKey checks), computed by internal/hkdf256 with crypto/hmac
// (11 allocations, fewer than crypto/hkdf's 17). The PRK is wiped.
func deriveKey(key *[keySize]byte, salt *[saltSize]byte, info []byte) [keySize]byte {
	return hkdf256.Key(key[:], salt[:], info)
}

// setNonce writes the nonce of segment i: prefix || uint32be(i) || last.
func setNonce(n *[nonceSize]byte, prefix *[prefixSize]byte, i uint32, last bool) {
	copy(n[:prefixSize], prefix[:])
	binary.BigEndian.PutUint32(n[prefixSize:], i)
	n[nonceSize-1] = 0
	if last {
		n[nonceSize-1] = 1
	}
}

// checkKey reports whether key has the one size the format accepts.
func checkKey(op string, key []byte) error {
	if len(key) != keySize {
		return &Error{Op: op, Segment: -1, Reason: "key must be 32 bytes", Err: ErrInvalidKeySize}
	}
	return nil
}
