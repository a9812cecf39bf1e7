package kms

import (
	"bytes"
	"context"
	"fmt"

	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/cache"
)

// GenerateDataKey returns a fresh 32-byte data key and its ciphertext under
// master key keyID (empty: the configured default_key_id), bound to ec.
// Call Zero on the result once done with the plaintext. With the cache
// enabled the new key is also cached, so decrypting it soon after costs no
// backend call. Retried on ErrUnavailable (each attempt is independent).
func (m *Manager) GenerateDataKey(ctx context.Context, keyID string, ec EncryptionContext) (DataKey, error) {
	return run(m, opGenerateDataKey, keyID, func(rt *runtime) (DataKey, error) {
		id := keyID
		if id == "" {
			id = rt.cfg.DefaultKeyID
			if id == "" {
				return DataKey{}, fmt.Errorf("kms: GenerateDataKey: %w: no key id given and no default_key_id configured", backend.ErrInvalidArgument)
			}
		}
		var gen uint64
		if rt.cache != nil {
			gen = rt.cache.generation()
		}
		dk, err := invoke(ctx, m, rt, opGenerateDataKey, id, func(ctx context.Context, b backend.Backend) (DataKey, error) {
			return b.GenerateDataKey(ctx, id, ec)
		})
		if err != nil {
			return DataKey{}, err
		}
		if rt.cache != nil {
			rt.cache.putIf(gen, cacheKey(dk.Ciphertext, ec), cachedKey{keyID: dk.KeyID, plaintext: dk.Plaintext})
		}
		return dk, nil
	})
}

// Decrypt unwraps a data-key ciphertext made by GenerateDataKey (or Rewrap)
// with the same ec; the ciphertext names its master key. A different ec
// yields ErrContextMismatch or ErrInvalidCiphertext. With the cache enabled,
// a ciphertext decrypted (or generated) within cache_ttl_seconds is served
// from memory; the cache is addressed by a hash of ciphertext and context,
// never by plaintext. Call Zero on the result once done.
func (m *Manager) Decrypt(ctx context.Context, ciphertext []byte, ec EncryptionContext) (DataKey, error) {
	return run(m, opDecrypt, "", func(rt *runtime) (DataKey, error) {
		var ck cache.Key
		var gen uint64
		if rt.cache != nil {
			gen = rt.cache.generation()
			ck = cacheKey(ciphertext, ec)
			if v, ok := rt.cache.Get(ck); ok {
				m.stats.cacheHits.Add(1)
				return DataKey{KeyID: v.keyID, Plaintext: v.plaintext, Ciphertext: bytes.Clone(ciphertext)}, nil
			}
			m.stats.cacheMisses.Add(1)
		}
		dk, err := invoke(ctx, m, rt, opDecrypt, "", func(ctx context.Context, b backend.Backend) (DataKey, error) {
			return b.Decrypt(ctx, ciphertext, ec)
		})
		if err != nil {
			return DataKey{}, err
		}
		if rt.cache != nil {
			rt.cache.putIf(gen, ck, cachedKey{keyID: dk.KeyID, plaintext: dk.Plaintext})
		}
		return dk, nil
	})
}

// Rewrap moves a data-key ciphertext to its master key's newest version,
// bound to the same ec, without returning the plaintext. Use it after
// RotateKey to re-wrap stored data keys (metadata only; payloads stay).
func (m *Manager) Rewrap(ctx context.Context, ciphertext []byte, ec EncryptionContext) ([]byte, error) {
	return run(m, opRewrap, "", func(rt *runtime) ([]byte, error) {
		return invoke(ctx, m, rt, opRewrap, "", func(ctx context.Context, b backend.Backend) ([]byte, error) {
			return b.Rewrap(ctx, ciphertext, ec)
		})
	})
}

// cacheKey addresses a data key in the cache: cache.KeyFor (SHA-256) over
// the ciphertext and ec's canonical form, the same bytes the backend
// authenticates, so a hit never serves a key for a context the backend would
// have refused.
func cacheKey(ciphertext []byte, ec EncryptionContext) cache.Key {
	return cache.KeyFor(ciphertext, ec.Canonical())
}
