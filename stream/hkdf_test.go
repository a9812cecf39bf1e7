package stream

import (
	"crypto/hkdf"
	"crypto/sha256"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDeriveKey checks the stream's HKDF-SHA256 against crypto/hkdf for
// random keys, salts and associated data of every length up to well past
// the stack buffer (which ends at 256 bytes of info).
func TestDeriveKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for n := range 700 {
		var key [keySize]byte
		var salt [saltSize]byte
		for i := range key {
			key[i] = byte(rng.Uint32())
			salt[i] = byte(rng.Uint32())
		}
		info := make([]byte, n)
		for i := range info {
			info[i] = byte(rng.Uint32())
		}
		want, err := hkdf.Key(sha256.New, key[:], salt[:], string(info), keySize)
		require.NoError(t, err)
		got := deriveKey(&key, &salt, info)
		require.Equal(t, want, got[:], "info length %d", n)
	}
}

func BenchmarkDeriveKey(b *testing.B) {
	var key [keySize]byte
	var salt [saltSize]byte
	info := []byte("bucket/object")
	b.ReportAllocs()
	for b.Loop() {
		_ = deriveKey(&key, &salt, info)
	}
}
