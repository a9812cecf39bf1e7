package cache

import (
	"crypto/sha256"
	"encoding/binary"
)

// Key addresses a cache entry: a SHA-256 digest of non-secret inputs.
type Key [32]byte

// keyDomain separates KeyFor digests from any other SHA-256 use.
const keyDomain = "envkms/cache/key/v1"

// KeyFor returns the cache key of a wrapped data key: SHA-256 over a domain
// label and the length-prefixed ciphertext and context, so no two distinct
// (ciphertext, context) pairs share an encoding. Pass the canonical byte form
// of the encryption context. Never pass plaintext.
func KeyFor(ciphertext, context []byte) Key {
	h := sha256.New()
	var n [8]byte
	h.Write([]byte(keyDomain))
	binary.BigEndian.PutUint64(n[:], uint64(len(ciphertext)))
	h.Write(n[:])
	h.Write(ciphertext)
	binary.BigEndian.PutUint64(n[:], uint64(len(context)))
	h.Write(n[:])
	h.Write(context)
	var k Key
	h.Sum(k[:0])
	return k
}
