package local

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// Sizes of the AES-256-GCM constructions used here.
const (
	keySize   = 32
	nonceSize = 12
	tagSize   = 16
	// sealedKeySize is a sealed key version: nonce || 32-byte key || tag.
	sealedKeySize = nonceSize + keySize + tagSize
)

// Domain labels: every AAD and KDF info string starts with one, so no value
// authenticated for one purpose is accepted for another.
const (
	labelSeal     = "envkms/local/v1/seal-key"
	labelMAC      = "envkms/local/v1/mac-key"
	labelVerifier = "envkms/local/v1/verifier\x00"
	labelMaterial = "envkms/local/v1/key-material\x00"
	labelKeyFile  = "envkms/local/v1/key-file\x00"
	labelDataKey  = "envkms/local/v1/data-key\x00"
	// verifierPlaintext is what the header's verifier seals.
	verifierPlaintext = "envkms local key directory verifier v1"
)

// unlockKeys are derived once per New from the master key.
type unlockKeys struct {
	seal cipher.AEAD // seals key material and the verifier
	mac  []byte      // HMAC-SHA256 key authenticating key-file metadata
}

// deriveKeys runs Argon2id over the master key and splits the result with
// HKDF-SHA256 into a sealing key and a MAC key. Intermediate bytes are wiped.
func deriveKeys(masterKey []byte, p kdfHeader) (*unlockKeys, error) {
	root := argon2.IDKey(masterKey, p.Salt, p.Time, p.MemoryKiB, p.Threads, keySize)
	defer clear(root)
	sealKey, err := hkdf.Key(sha256.New, root, nil, labelSeal, keySize)
	if err != nil {
		return nil, err
	}
	defer clear(sealKey)
	aead, err := newGCM(sealKey)
	if err != nil {
		return nil, err
	}
	macKey, err := hkdf.Key(sha256.New, root, nil, labelMAC, keySize)
	if err != nil {
		return nil, err
	}
	return &unlockKeys{seal: aead, mac: macKey}, nil
}

// deriveKeysCtx is deriveKeys that returns as soon as ctx is done. Argon2id
// itself can't be interrupted: it finishes in the background (its cost is
// bounded by Config.MaxKDF) and its result is wiped.
func deriveKeysCtx(ctx context.Context, masterKey []byte, p kdfHeader) (*unlockKeys, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type result struct {
		keys *unlockKeys
		err  error
	}
	mk := bytes.Clone(masterKey) // the caller may wipe its copy once we return
	done := make(chan result, 1)
	go func() {
		defer clear(mk)
		k, err := deriveKeys(mk, p)
		done <- result{k, err}
	}()
	select {
	case r := <-done:
		return r.keys, r.err
	case <-ctx.Done():
		go func() { r := <-done; r.keys.wipe() }()
		return nil, fmt.Errorf("local: unlocking the key directory (Argon2id): %w", ctx.Err())
	}
}

func (k *unlockKeys) wipe() {
	if k != nil {
		clear(k.mac)
		k.seal = nil
	}
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal returns nonce || AES-GCM(plaintext, aad) with a random nonce.
func seal(aead cipher.AEAD, plaintext, aad []byte) []byte {
	out := make([]byte, nonceSize, nonceSize+len(plaintext)+tagSize)
	_, _ = rand.Read(out) // crypto/rand.Read never fails (Go 1.24+)
	return aead.Seal(out, out[:nonceSize], plaintext, aad)
}

var errOpen = errors.New("authentication failed")

// open reverses seal.
func open(aead cipher.AEAD, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < nonceSize+tagSize {
		return nil, errOpen
	}
	pt, err := aead.Open(nil, sealed[:nonceSize], sealed[nonceSize:], aad)
	if err != nil {
		return nil, errOpen
	}
	return pt, nil
}

// materialAAD binds a sealed key version to its key id and version number.
func materialAAD(keyID string, version int) []byte {
	b := make([]byte, 0, len(labelMaterial)+1+len(keyID)+4)
	b = append(b, labelMaterial...)
	b = append(b, byte(len(keyID)))
	b = append(b, keyID...)
	return binary.BigEndian.AppendUint32(b, uint32(version))
}

// verifierAAD binds the verifier to the KDF parameters and salt.
func verifierAAD(p kdfHeader) []byte {
	b := []byte(labelVerifier)
	b = append(b, p.Alg...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint32(b, p.Time)
	b = binary.BigEndian.AppendUint32(b, p.MemoryKiB)
	b = append(b, p.Threads, byte(len(p.Salt)))
	return append(b, p.Salt...)
}

// fileMAC authenticates a key file's canonical encoding.
func fileMAC(macKey, canonical []byte) []byte {
	h := hmac.New(sha256.New, macKey)
	h.Write([]byte(labelKeyFile))
	h.Write(canonical)
	return h.Sum(nil)
}
