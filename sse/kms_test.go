package sse

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	"github.com/envkms/kms/backend"
)

// fakeKMS is an in-test KeyManager: AES-GCM wrapping under per-key master
// keys, the canonical context as associated data.
type fakeKMS struct {
	mu       sync.Mutex
	keys     map[string][]byte
	disabled map[string]bool
	gen, dec int
}

func newFakeKMS(ids ...string) *fakeKMS {
	f := &fakeKMS{keys: map[string][]byte{}, disabled: map[string]bool{}}
	for _, id := range append([]string{"default"}, ids...) {
		k := make([]byte, 32)
		_, _ = rand.Read(k)
		f.keys[id] = k
	}
	return f
}

func (f *fakeKMS) aead(id string) (cipher.AEAD, error) {
	k, ok := f.keys[id]
	if !ok {
		return nil, &backend.Error{Op: "fake", KeyID: id, Err: backend.ErrKeyNotFound}
	}
	b, _ := aes.NewCipher(k)
	return cipher.NewGCM(b)
}

func (f *fakeKMS) GenerateDataKey(_ context.Context, keyID string, ec backend.EncryptionContext) (backend.DataKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gen++
	if keyID == "" {
		keyID = "default"
	}
	g, err := f.aead(keyID)
	if err != nil {
		return backend.DataKey{}, err
	}
	if f.disabled[keyID] {
		return backend.DataKey{}, &backend.Error{Op: "fake", KeyID: keyID, Err: backend.ErrKeyDisabled}
	}
	pt := make([]byte, 32)
	_, _ = rand.Read(pt)
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	ct := append([]byte{byte(len(keyID))}, keyID...)
	ct = append(ct, nonce...)
	ct = g.Seal(ct, nonce, pt, ec.Canonical())
	return backend.DataKey{KeyID: keyID, Plaintext: pt, Ciphertext: ct}, nil
}

func (f *fakeKMS) Decrypt(_ context.Context, ct []byte, ec backend.EncryptionContext) (backend.DataKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dec++
	if len(ct) < 1 || len(ct) < 1+int(ct[0])+12+16 {
		return backend.DataKey{}, backend.ErrInvalidCiphertext
	}
	id := string(ct[1 : 1+ct[0]])
	g, err := f.aead(id)
	if err != nil {
		return backend.DataKey{}, err
	}
	rest := ct[1+ct[0]:]
	pt, err := g.Open(nil, rest[:12], rest[12:], ec.Canonical())
	if err != nil {
		return backend.DataKey{}, fmt.Errorf("fake: %w", errors.Join(backend.ErrInvalidCiphertext))
	}
	return backend.DataKey{KeyID: id, Plaintext: pt, Ciphertext: ct}, nil
}
