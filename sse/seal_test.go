package sse

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSealKeyMatchesHKDF checks that the seal key sealAEAD derives (through
// internal/hkdf256) is crypto/hkdf's: an object key sealed by sealOEK opens
// under AES-256-GCM keyed with crypto/hkdf.Key, for object names short and
// long (past hkdf256's stack buffer) and keys of customer and data-key size.
func TestSealKeyMatchesHKDF(t *testing.T) {
	for _, object := range []string{"", "a", "photos/2026/cat.jpg", strings.Repeat("x", 1000), strings.Repeat("é", 600)} {
		for _, kind := range []string{"SSE-S3", "SSE-C"} {
			kek, oek := make([]byte, 32), newOEK()
			for i := range kek {
				kek[i] = byte(i * 7)
			}
			sealed, err := sealOEK(kek, oek, kind, "bucket", object)
			require.NoError(t, err)
			sk, err := hkdf.Key(sha256.New, kek, sealed[:sealSaltSize], string(bindingLabel("envkms/sse/v1/seal-key", kind, "bucket", object)), 32)
			require.NoError(t, err)
			block, err := aes.NewCipher(sk)
			require.NoError(t, err)
			gcm, err := cipher.NewGCM(block)
			require.NoError(t, err)
			got, err := gcm.Open(nil, sealed[sealSaltSize:sealSaltSize+sealNonceSize], sealed[sealSaltSize+sealNonceSize:], bindingLabel("envkms/sse/v1/oek", kind, "bucket", object))
			require.NoError(t, err, "object of %d bytes", len(object))
			require.Equal(t, oek, got)
			back, err := openOEK(kek, sealed, kind, "bucket", object)
			require.NoError(t, err)
			require.Equal(t, oek, back)
		}
	}
}
