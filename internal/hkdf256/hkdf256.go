// Package hkdf256 computes one 32-byte block of HKDF-SHA256 (RFC 5869), the
// per-object key derivation of packages stream and sse, with fewer
// allocations than crypto/hkdf.
//
// It is crypto/hmac and crypto/sha256 composed exactly as RFC 5869 says:
// PRK = HMAC-SHA256(salt, secret), OKM = HMAC-SHA256(PRK, info || 0x01).
// HMAC itself is the standard library's (the FIPS 140-3 module's), never a
// hand-assembled one: only the HKDF framing, two HMAC calls, lives here, so
// crypto/hkdf's generic length handling and its allocations are skipped.
// Tests check it byte for byte against crypto/hkdf and RFC 5869's SHA-256
// test vectors.
package hkdf256

import (
	"crypto/hmac"
	"crypto/sha256"
)

// Size is the length of the derived key.
const Size = sha256.Size

// Key returns the first Size bytes of HKDF-SHA256 of secret, salt and info.
// It equals crypto/hkdf.Key(sha256.New, secret, salt, string(info), Size).
// The intermediate PRK is wiped before it returns.
func Key(secret, salt, info []byte) [Size]byte {
	// The HMACs' Write and Sum are interface calls, so whatever they are
	// given escapes: one scratch allocation instead of three.
	s := new(struct {
		prk, okm [Size]byte
		one      [1]byte
	})
	defer clear(s.prk[:])
	h := hmac.New(sha256.New, salt)
	h.Write(secret)
	h.Sum(s.prk[:0])

	h = hmac.New(sha256.New, s.prk[:])
	h.Write(info)
	s.one[0] = 1
	h.Write(s.one[:])
	h.Sum(s.okm[:0])
	okm := s.okm
	clear(s.okm[:])
	return okm
}
