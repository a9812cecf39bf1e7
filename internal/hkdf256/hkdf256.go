// Package hkdf256 computes one 32-byte block of HKDF-SHA256 (RFC 5869)
// without allocating, for the per-object key derivations of packages stream
// and sse, where crypto/hkdf's 16 allocations cost as much as encrypting a
// 4 KiB object.
//
// It is the published construction and nothing else: HKDF's extract and
// expand steps over HMAC-SHA256 (RFC 2104: SHA256((K^opad) ||
// SHA256((K^ipad) || message))), with crypto/sha256 as the hash. The only
// difference from crypto/hkdf is where the bytes live: the padded keys and
// messages are assembled in stack buffers (so nothing escapes to the heap)
// and every intermediate is wiped before returning. Tests check it byte for
// byte against crypto/hkdf and crypto/hmac, and against RFC 5869's SHA-256
// test vectors.
package hkdf256

import "crypto/sha256"

const (
	blockSize = 64 // SHA-256 block size
	// maxInline is the longest message hashed from a stack buffer; longer
	// ones (never seen by this module's callers) go through sha256.New.
	maxInline = 1024
)

// Size is the length of the derived key.
const Size = sha256.Size

// Key returns the first Size bytes of HKDF-SHA256 of secret, salt and info:
// PRK = HMAC(salt, secret), OKM = HMAC(PRK, info || 0x01). It equals
// crypto/hkdf.Key(sha256.New, secret, salt, string(info), Size).
func Key(secret, salt, info []byte) (okm [Size]byte) {
	prk := mac(salt, secret, nil)
	okm = mac(prk[:], info, []byte{1})
	clear(prk[:])
	return okm
}

// mac returns HMAC-SHA256(key, m1 || m2).
func mac(key, m1, m2 []byte) [Size]byte {
	var k [blockSize]byte // the key, zero padded to one block
	if len(key) > blockSize {
		hk := sha256.Sum256(key)
		copy(k[:], hk[:])
		clear(hk[:])
	} else {
		copy(k[:], key)
	}
	defer clear(k[:])

	var inner [Size]byte
	defer clear(inner[:])
	n := len(m1) + len(m2)
	if n <= maxInline {
		var buf [blockSize + maxInline]byte
		b := buf[:blockSize+n]
		for i := range blockSize {
			b[i] = k[i] ^ 0x36
		}
		copy(b[blockSize+copy(b[blockSize:], m1):], m2)
		inner = sha256.Sum256(b)
		clear(b)
	} else {
		var pad [blockSize]byte
		for i := range blockSize {
			pad[i] = k[i] ^ 0x36
		}
		h := sha256.New()
		h.Write(pad[:])
		clear(pad[:])
		h.Write(m1)
		h.Write(m2)
		h.Sum(inner[:0])
		h.Reset()
	}

	var outer [blockSize + Size]byte
	defer clear(outer[:])
	for i := range blockSize {
		outer[i] = k[i] ^ 0x5c
	}
	copy(outer[blockSize:], inner[:])
	return sha256.Sum256(outer[:])
}
