// Package hkdf256 computes one 32-byte block of HKDF-SHA256 (RFC 5869), the
// per-object key derivation of packages stream and sse, with fewer
// allocations than crypto/hkdf.
//
// It is crypto/hmac and crypto/sha256 composed exactly as RFC 5869 says:
// PRK = HMAC-SHA256(salt, secret), OKM = HMAC-SHA256(PRK, info || 0x01).
// HMAC itself is the standard library's (the FIPS 140-3 module's), never a
// hand-assembled one: only the HKDF framing, two HMAC calls, lives here, so
// crypto/hkdf's generic length handling and its allocations are skipped.
// Extract and Expand are the two steps, for a caller deriving several keys
// from one secret and salt: RFC 5869 expands one PRK with any number of
// infos. Tests check it byte for byte against crypto/hkdf and RFC 5869's
// SHA-256 test vectors.
package hkdf256

import (
	"crypto/hmac"
	"crypto/sha256"
)

// Size is the length of the derived key, and of a PRK.
const Size = sha256.Size

// Key returns the first Size bytes of HKDF-SHA256 of secret, salt and info.
// It equals crypto/hkdf.Key(sha256.New, secret, salt, string(info), Size).
// The intermediate PRK is wiped before it returns.
func Key(secret, salt, info []byte) [Size]byte {
	s := new(scratch)
	defer s.wipe()
	s.extract(secret, salt)
	s.expand(info)
	return s.okm
}

// Extract is HKDF-Extract: PRK = HMAC-SHA256(salt, secret). It equals
// crypto/hkdf.Extract(sha256.New, secret, salt). The caller wipes the PRK.
func Extract(secret, salt []byte) [Size]byte {
	s := new(scratch)
	defer s.wipe()
	s.extract(secret, salt)
	return s.prk
}

// Expand returns the first Size bytes of HKDF-Expand of prk and info:
// HMAC-SHA256(prk, info || 0x01). It equals crypto/hkdf.Expand(sha256.New,
// prk, string(info), Size).
func Expand(prk *[Size]byte, info []byte) [Size]byte {
	s := new(scratch)
	defer s.wipe()
	s.prk = *prk
	s.expand(info)
	return s.okm
}

// scratch holds what the HMACs are given or write: their Write and Sum are
// interface calls, so it escapes, and one allocation holds it all.
type scratch struct {
	prk, okm [Size]byte
	one      [1]byte
}

func (s *scratch) extract(secret, salt []byte) {
	h := hmac.New(sha256.New, salt)
	h.Write(secret)
	h.Sum(s.prk[:0])
}

func (s *scratch) expand(info []byte) {
	h := hmac.New(sha256.New, s.prk[:])
	h.Write(info)
	s.one[0] = 1
	h.Write(s.one[:])
	h.Sum(s.okm[:0])
}

func (s *scratch) wipe() { clear(s.prk[:]); clear(s.okm[:]) }
