package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/envkms/kms/backend"
)

// GenerateDataKey returns 32 random bytes (from crypto/rand, generated here,
// not by Vault) and their blob: the bytes sealed by transit/encrypt under the
// key's newest version with the canonical encryption context as
// associated_data. The key must be Enabled.
func (b *Backend) GenerateDataKey(ctx context.Context, keyID string, ec backend.EncryptionContext) (backend.DataKey, error) {
	return callKey(ctx, b, "GenerateDataKey", keyID, checkContext(ec), func(ctx context.Context) (backend.DataKey, error) {
		if err := b.checkUsable(ctx, keyID, true); err != nil {
			return backend.DataKey{}, err
		}
		pt := make([]byte, backend.DataKeySize)
		_, _ = rand.Read(pt) // crypto/rand.Read never fails (Go 1.24+)
		blob, err := b.encrypt(ctx, keyID, pt, ec)
		if err != nil {
			clear(pt)
			return backend.DataKey{}, err
		}
		return backend.DataKey{KeyID: keyID, Plaintext: pt, Ciphertext: blob}, nil
	})
}

// Decrypt unwraps a blob from GenerateDataKey or Rewrap with
// transit/decrypt, authenticating ec. A wrong context, a tampered blob or a
// blob from another key fails with backend.ErrInvalidCiphertext. Disabled
// keys still decrypt; keys pending deletion do not
// (backend.ErrKeyPendingDeletion).
func (b *Backend) Decrypt(ctx context.Context, ciphertext []byte, ec backend.EncryptionContext) (backend.DataKey, error) {
	const op = "Decrypt"
	keyID, vaultCT, _, err := parseBlob(ciphertext)
	if err != nil {
		return backend.DataKey{}, opError(op, "", err)
	}
	return call(ctx, b, op, keyID, checkContext(ec), func(ctx context.Context) (backend.DataKey, error) {
		if err := b.checkUsable(ctx, keyID, false); err != nil {
			return backend.DataKey{}, err
		}
		pt, err := b.decrypt(ctx, keyID, vaultCT, ec)
		if err != nil {
			return backend.DataKey{}, err
		}
		return backend.DataKey{KeyID: keyID, Plaintext: pt, Ciphertext: bytes.Clone(ciphertext)}, nil
	})
}

// Rewrap re-seals a blob under its key's newest version, bound to the same
// ec: decrypt then encrypt inside the backend, the plaintext zeroed before
// returning. (transit/rewrap is not used: it ignores associated_data, Vault
// issues #29532 and #31791, so it would fail for every bound blob.) The key
// must be Enabled.
func (b *Backend) Rewrap(ctx context.Context, ciphertext []byte, ec backend.EncryptionContext) ([]byte, error) {
	const op = "Rewrap"
	keyID, vaultCT, _, err := parseBlob(ciphertext)
	if err != nil {
		return nil, opError(op, "", err)
	}
	return call(ctx, b, op, keyID, checkContext(ec), func(ctx context.Context) ([]byte, error) {
		if err := b.checkUsable(ctx, keyID, true); err != nil {
			return nil, err
		}
		pt, err := b.decrypt(ctx, keyID, vaultCT, ec)
		if err != nil {
			return nil, err
		}
		defer clear(pt)
		return b.encrypt(ctx, keyID, pt, ec)
	})
}

// maxContextLen bounds the canonical encryption context sent to Vault.
const maxContextLen = 64 << 10

// checkContext refuses contexts that Canonical cannot represent exactly
// (JSON would turn invalid UTF-8 into U+FFFD, so "\xff" and "\uFFFD" would
// be the same context) and oversized ones.
func checkContext(ec backend.EncryptionContext) error {
	n := 0
	for k, v := range ec {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("%w: encryption context keys and values must be valid UTF-8", backend.ErrInvalidArgument)
		}
		n += len(k) + len(v)
	}
	if n > maxContextLen {
		return fmt.Errorf("%w: encryption context larger than %d bytes", backend.ErrInvalidArgument, maxContextLen)
	}
	return nil
}

// checkUsable enforces the key state: PendingDeletion refuses everything,
// Disabled refuses new ciphertexts (forWrap).
func (b *Backend) checkUsable(ctx context.Context, keyID string, forWrap bool) error {
	st, err := b.keyState(ctx, keyID)
	if err != nil {
		return err
	}
	switch backend.KeyState(st) {
	case backend.KeyStateEnabled:
		return nil
	case backend.KeyStateDisabled:
		if forWrap {
			return backend.ErrKeyDisabled
		}
		return nil
	default: // PendingDeletion, Purging
		return backend.ErrKeyPendingDeletion
	}
}

// encrypt seals pt with transit/encrypt and returns the blob.
func (b *Backend) encrypt(ctx context.Context, keyID string, pt []byte, ec backend.EncryptionContext) ([]byte, error) {
	body := marshalBase64Body("plaintext", pt, ec.Canonical())
	defer clear(body)
	var resp struct {
		Data struct {
			Ciphertext string `json:"ciphertext"`
		} `json:"data"`
	}
	path := b.cfg.MountPath + "/encrypt/" + keyID
	if err := b.writeRaw(ctx, path, body, &resp); err != nil {
		var se *statusError
		if errors.As(err, &se) && se.status == 400 && se.has("not found") {
			se.kind = backend.ErrKeyNotFound
		}
		return nil, err
	}
	version, err := parseVaultCiphertext(resp.Data.Ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%w: vault transit/encrypt answered an unexpected ciphertext (is %q an aes256-gcm96 key?)", backend.ErrUnavailable, keyID)
	}
	b.wraps.add(keyID, version, 1)
	return formatBlob(keyID, resp.Data.Ciphertext), nil
}

// decrypt opens vaultCT with transit/decrypt and returns the 32-byte key.
func (b *Backend) decrypt(ctx context.Context, keyID, vaultCT string, ec backend.EncryptionContext) ([]byte, error) {
	body := marshalStringBody("ciphertext", vaultCT, ec.Canonical())
	var resp struct {
		Data struct {
			Plaintext []byte `json:"plaintext"` // JSON base64 decodes straight into bytes we can zero
		} `json:"data"`
	}
	path := b.cfg.MountPath + "/decrypt/" + keyID
	if err := b.writeRaw(ctx, path, body, &resp); err != nil {
		clear(resp.Data.Plaintext)
		var se *statusError
		if errors.As(err, &se) && se.status == 400 {
			if se.has("key not found") {
				se.kind = backend.ErrKeyNotFound
			} else {
				// "cipher: message authentication failed" (wrong context,
				// tampering, another key), bad version, bad encoding.
				se.kind = backend.ErrInvalidCiphertext
			}
		}
		return nil, err
	}
	if len(resp.Data.Plaintext) != backend.DataKeySize {
		clear(resp.Data.Plaintext)
		return nil, fmt.Errorf("%w: vault blob does not hold a %d-byte data key", backend.ErrInvalidCiphertext, backend.DataKeySize)
	}
	return resp.Data.Plaintext, nil
}

// marshalBase64Body builds {"<field>":"<b64 v>","associated_data":"<b64 ad>"}
// in a buffer the caller owns (and zeroes: it holds the key in base64).
func marshalBase64Body(field string, v, ad []byte) []byte {
	enc := base64.StdEncoding
	n := len(`{"":"","associated_data":""}`) + len(field) + enc.EncodedLen(len(v)) + enc.EncodedLen(len(ad))
	buf := make([]byte, 0, n)
	buf = append(buf, `{"`...)
	buf = append(buf, field...)
	buf = append(buf, `":"`...)
	buf = enc.AppendEncode(buf, v)
	buf = append(buf, `","associated_data":"`...)
	buf = enc.AppendEncode(buf, ad)
	return append(buf, `"}`...)
}

// marshalStringBody is marshalBase64Body for a field whose value is already
// a JSON-safe ASCII string (a checked vault:vN: ciphertext).
func marshalStringBody(field, v string, ad []byte) []byte {
	enc := base64.StdEncoding
	buf := make([]byte, 0, len(`{"":"","associated_data":""}`)+len(field)+len(v)+enc.EncodedLen(len(ad)))
	buf = append(buf, `{"`...)
	buf = append(buf, field...)
	buf = append(buf, `":"`...)
	buf = append(buf, v...)
	buf = append(buf, `","associated_data":"`...)
	buf = enc.AppendEncode(buf, ad)
	return append(buf, `"}`...)
}
