package vault

import (
	"context"
	"errors"
	"fmt"

	"github.com/envkms/kms/backend"
)

var _ backend.KeyVersionDestroyer = (*Backend)(nil)

// DestroyKeyVersions destroys the transit key's versions below below (see
// backend.KeyVersionDestroyer): it raises min_decryption_version (so Vault
// refuses to decrypt under the older versions at once) and
// min_encryption_version (which trimming requires; encryption keeps using
// the latest version) to below, then trims the key
// (min_available_version = below), which deletes their key material from
// Vault's storage for good. Both steps are idempotent, so an
// interrupted call is completed by calling again. It needs "update" on
// <mount>/keys/<id>/config and <mount>/keys/<id>/trim. Blobs under the
// destroyed versions then fail with backend.ErrInvalidCiphertext.
//
// Nothing here knows whether stored objects still need those versions:
// call it through kms.Manager.DestroyKeyVersions, which asks the storage
// server first (kms.WithKeyVersionReferences).
func (b *Backend) DestroyKeyVersions(ctx context.Context, keyID string, below int) (backend.KeyMetadata, error) {
	return callKey(ctx, b, "DestroyKeyVersions", keyID, nil, func(ctx context.Context) (backend.KeyMetadata, error) {
		rec, err := b.readLiveRecord(ctx, keyID)
		if err != nil {
			return backend.KeyMetadata{}, err
		}
		tk, err := b.readTransitKey(ctx, keyID)
		if err != nil {
			if errors.Is(err, backend.ErrKeyNotFound) {
				return backend.KeyMetadata{}, errNoTransitKey
			}
			return backend.KeyMetadata{}, err
		}
		if err := backend.ValidateDestroyBelow(below, tk.LatestVersion); err != nil {
			return backend.KeyMetadata{}, err
		}
		if tk.MinAvailableVersion >= below {
			return b.keyMetadata(rec, tk), nil // destroyed already
		}
		// Transit trims only up to both floors; the encryption floor is
		// harmless, since encryption uses the latest version anyway.
		if tk.MinDecryptionVersion < below || tk.MinEncryptionVersion < below {
			cfg := map[string]any{
				"min_decryption_version": max(tk.MinDecryptionVersion, below),
				"min_encryption_version": max(tk.MinEncryptionVersion, below),
			}
			if _, err := b.write(ctx, b.transitKeyPath(keyID)+"/config", cfg, true); err != nil {
				return backend.KeyMetadata{}, fmt.Errorf("raise min_decryption_version: %w", err)
			}
		}
		if _, err := b.write(ctx, b.transitKeyPath(keyID)+"/trim", map[string]any{"min_available_version": below}, true); err != nil {
			return backend.KeyMetadata{}, fmt.Errorf("trim the transit key: %w", err)
		}
		b.log.Warn("vault: key versions destroyed; data keys wrapped under them can no longer be decrypted", "key_id", keyID, "below_version", below)
		if tk, err = b.readTransitKey(ctx, keyID); err != nil {
			return backend.KeyMetadata{}, err
		}
		return b.keyMetadata(rec, tk), nil
	})
}
