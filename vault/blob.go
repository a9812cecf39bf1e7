package vault

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/envkms/kms/backend"
)

// A data-key ciphertext ("blob") from this backend is ASCII text:
//
//	evt1:<key id>:vault:v<N>:<base64>
//
// "evt1" names the format (envkms vault transit, version 1), <key id> the
// transit key (it never contains ':'), and the rest is the ciphertext exactly
// as transit/encrypt returned it, so Decrypt needs nothing but the blob. The
// wrapped 32-byte key is AES-256-GCM-sealed by Vault with the canonical
// encryption context as associated data.
const blobPrefix = "evt1:"

// maxBlobLen bounds what parseBlob accepts; a real blob is about 230 bytes.
const maxBlobLen = 1024

// vaultCTLen is the base64 length of a transit aes256-gcm96 ciphertext of a
// 32-byte key: 12-byte nonce + 32 + 16-byte tag = 60 bytes.
const vaultCTLen = 80

func formatBlob(keyID, vaultCT string) []byte {
	b := make([]byte, 0, len(blobPrefix)+len(keyID)+1+len(vaultCT))
	b = append(b, blobPrefix...)
	b = append(b, keyID...)
	b = append(b, ':')
	return append(b, vaultCT...)
}

// parseBlob splits a blob into key id, transit ciphertext and key version,
// rejecting anything malformed with an error wrapping
// backend.ErrInvalidCiphertext (which never quotes the input).
func parseBlob(blob []byte) (keyID, vaultCT string, version int, err error) {
	bad := func(why string) (string, string, int, error) {
		return "", "", 0, fmt.Errorf("%w: vault blob: %s", backend.ErrInvalidCiphertext, why)
	}
	if len(blob) > maxBlobLen {
		return bad("too long")
	}
	s := string(blob)
	if !strings.HasPrefix(s, blobPrefix) {
		return bad("unknown format")
	}
	s = s[len(blobPrefix):]
	i := strings.IndexByte(s, ':')
	if i < 0 {
		return bad("no key id")
	}
	keyID, vaultCT = s[:i], s[i+1:]
	if backend.ValidateKeyID(keyID) != nil {
		return bad("invalid key id")
	}
	version, err = parseVaultCiphertext(vaultCT)
	if err != nil {
		return bad(err.Error())
	}
	return keyID, vaultCT, version, nil
}

// parseVaultCiphertext checks "vault:v<N>:<base64 of 60 bytes>" and returns N.
func parseVaultCiphertext(ct string) (int, error) {
	rest, ok := strings.CutPrefix(ct, "vault:v")
	if !ok {
		return 0, fmt.Errorf("no vault:v prefix")
	}
	num, b64, ok := strings.Cut(rest, ":")
	if !ok || num == "" || len(num) > 9 || num[0] == '0' {
		return 0, fmt.Errorf("bad key version")
	}
	v, err := strconv.Atoi(num)
	if err != nil || v < 1 {
		return 0, fmt.Errorf("bad key version")
	}
	if len(b64) != vaultCTLen {
		return 0, fmt.Errorf("bad ciphertext length")
	}
	if _, err := base64.StdEncoding.Strict().DecodeString(b64); err != nil {
		return 0, fmt.Errorf("bad base64")
	}
	return v, nil
}

// CiphertextVersion returns the key id and transit key version a data-key
// ciphertext was made with, without decrypting anything (it implements
// backendtest.VersionInspector).
func (b *Backend) CiphertextVersion(ciphertext []byte) (keyID string, version int, err error) {
	keyID, _, version, err = parseBlob(ciphertext)
	if err != nil {
		return "", 0, opError("CiphertextVersion", "", err)
	}
	return keyID, version, nil
}
