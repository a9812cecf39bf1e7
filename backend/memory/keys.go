package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/envkms/kms/backend"
)

// CreateKey creates a key with one version of fresh AES-256 key material
// from crypto/rand. An empty req.KeyID gets a generated UUID; an existing id
// yields backend.ErrKeyExists, an invalid id or request
// backend.ErrInvalidArgument. KeyUsage is always reported as
// backend.KeyUsageEncryptDecrypt.
func (b *Backend) CreateKey(ctx context.Context, req backend.CreateKeyRequest) (backend.KeyMetadata, error) {
	const op = "CreateKey"
	id := req.KeyID
	if id == "" {
		id = backend.NewKeyID()
	}
	if err := b.lock(ctx, op, req.KeyID); err != nil {
		return backend.KeyMetadata{}, err
	}
	defer b.mu.Unlock()
	if err := backend.ValidateKeyID(id); err != nil {
		return backend.KeyMetadata{}, &backend.Error{Op: op, Err: err}
	}
	if err := req.Validate(); err != nil {
		return backend.KeyMetadata{}, &backend.Error{Op: op, KeyID: id, Err: err}
	}
	if b.keys[id] != nil {
		return backend.KeyMetadata{}, &backend.Error{Op: op, KeyID: id, Err: backend.ErrKeyExists}
	}
	if _, gone := b.purged[id]; gone {
		return backend.KeyMetadata{}, &backend.Error{Op: op, KeyID: id, Err: backend.ErrKeyDeleted}
	}
	return b.add(id, req).metadata(), nil
}

// find returns key id or a *backend.Error for op: ErrInvalidArgument for an
// invalid id, ErrKeyNotFound for an unknown one. The caller holds mu.
func (b *Backend) find(op, id string) (*key, error) {
	if err := backend.ValidateKeyID(id); err != nil {
		return nil, &backend.Error{Op: op, Err: err}
	}
	k := b.keys[id]
	if k == nil {
		return nil, &backend.Error{Op: op, KeyID: id, Err: backend.ErrKeyNotFound}
	}
	return k, nil
}

// DescribeKey returns a key's metadata (a copy: changing its Tags changes
// nothing in b).
func (b *Backend) DescribeKey(ctx context.Context, keyID string) (backend.KeyMetadata, error) {
	const op = "DescribeKey"
	if err := b.rlock(ctx, op, keyID); err != nil {
		return backend.KeyMetadata{}, err
	}
	defer b.mu.RUnlock()
	k, err := b.find(op, keyID)
	if err != nil {
		return backend.KeyMetadata{}, err
	}
	return k.metadata(), nil
}

// ListKeys returns up to req.Limit keys (backend.DefaultListLimit when 0)
// in ascending id order, starting after req.Marker (which need not be an
// existing id). Truncated is set exactly when more keys follow, and
// NextMarker is then the last id returned. A negative Limit yields
// backend.ErrInvalidArgument.
func (b *Backend) ListKeys(ctx context.Context, req backend.ListKeysRequest) (backend.ListKeysResult, error) {
	const op = "ListKeys"
	if err := b.rlock(ctx, op, ""); err != nil {
		return backend.ListKeysResult{}, err
	}
	defer b.mu.RUnlock()
	if req.Limit < 0 {
		return backend.ListKeysResult{}, &backend.Error{Op: op, Err: fmt.Errorf("%w: negative limit", backend.ErrInvalidArgument)}
	}
	limit := req.Limit
	if limit == 0 {
		limit = backend.DefaultListLimit
	}
	start, found := slices.BinarySearch(b.ids, req.Marker)
	if found {
		start++
	}
	end := min(start+limit, len(b.ids))
	res := backend.ListKeysResult{Keys: make([]backend.KeyMetadata, 0, end-start)}
	for _, id := range b.ids[start:end] {
		res.Keys = append(res.Keys, b.keys[id].metadata())
	}
	if end < len(b.ids) {
		res.Truncated = true
		res.NextMarker = b.ids[end-1]
	}
	return res, nil
}

// change runs fn on key id under the exclusive lock and returns the key's
// metadata afterwards. An error from fn is wrapped in a *backend.Error for
// op.
func (b *Backend) change(ctx context.Context, op, id string, fn func(k *key) error) (backend.KeyMetadata, error) {
	if err := b.lock(ctx, op, id); err != nil {
		return backend.KeyMetadata{}, err
	}
	defer b.mu.Unlock()
	k, err := b.find(op, id)
	if err != nil {
		return backend.KeyMetadata{}, err
	}
	if err := fn(k); err != nil {
		return backend.KeyMetadata{}, &backend.Error{Op: op, KeyID: id, Err: err}
	}
	return k.metadata(), nil
}

// setState moves k to state s (Enabled or Disabled). A key pending deletion
// must have its deletion cancelled first.
func setState(k *key, s backend.KeyState) error {
	if k.md.State == backend.KeyStatePendingDeletion {
		return backend.ErrKeyPendingDeletion
	}
	k.md.State = s
	return nil
}

// EnableKey enables a disabled key, including one whose deletion was
// cancelled; enabling an enabled key is a no-op. A key pending deletion
// yields backend.ErrKeyPendingDeletion (cancel the deletion first).
func (b *Backend) EnableKey(ctx context.Context, keyID string) error {
	_, err := b.change(ctx, "EnableKey", keyID, func(k *key) error {
		return setState(k, backend.KeyStateEnabled)
	})
	return err
}

// DisableKey disables a key: GenerateDataKey and Rewrap are refused with
// backend.ErrKeyDisabled, Decrypt keeps working. Disabling a disabled key is
// a no-op; a key pending deletion yields backend.ErrKeyPendingDeletion. The
// change applies at once to every call on b (there are no other instances).
func (b *Backend) DisableKey(ctx context.Context, keyID string) error {
	_, err := b.change(ctx, "DisableKey", keyID, func(k *key) error {
		return setState(k, backend.KeyStateDisabled)
	})
	return err
}

// ScheduleKeyDeletion marks a key PendingDeletion with a deletion date
// pendingDays (backend.MinPendingDays..backend.MaxPendingDays, else
// backend.ErrInvalidArgument) from now. GenerateDataKey, Decrypt and Rewrap
// then fail with backend.ErrKeyPendingDeletion. The key material is
// destroyed only by Purge after that date (or by Close). A key already
// pending deletion yields backend.ErrKeyPendingDeletion.
func (b *Backend) ScheduleKeyDeletion(ctx context.Context, keyID string, pendingDays int) (backend.KeyMetadata, error) {
	return b.change(ctx, "ScheduleKeyDeletion", keyID, func(k *key) error {
		if err := backend.ValidatePendingDays(pendingDays); err != nil {
			return err
		}
		if k.md.State == backend.KeyStatePendingDeletion {
			return backend.ErrKeyPendingDeletion
		}
		d := b.now().Add(time.Duration(pendingDays) * 24 * time.Hour).UTC()
		k.md.State = backend.KeyStatePendingDeletion
		k.md.DeletionDate = &d
		return nil
	})
}

// CancelKeyDeletion returns a key pending deletion to Disabled and clears
// its deletion date, as AWS KMS does: Decrypt works again at once, but
// GenerateDataKey and Rewrap need an explicit EnableKey. On a key not
// pending deletion it fails with backend.ErrInvalidArgument.
func (b *Backend) CancelKeyDeletion(ctx context.Context, keyID string) (backend.KeyMetadata, error) {
	return b.change(ctx, "CancelKeyDeletion", keyID, func(k *key) error {
		if k.md.State != backend.KeyStatePendingDeletion {
			return fmt.Errorf("%w: key is not pending deletion", backend.ErrInvalidArgument)
		}
		k.md.State = backend.KeyStateDisabled
		k.md.DeletionDate = nil
		return nil
	})
}

// RotateKey adds a key version with fresh key material; new data keys (and
// Rewrap) use it, older versions keep decrypting. A disabled key may be
// rotated; a key pending deletion yields backend.ErrKeyPendingDeletion.
func (b *Backend) RotateKey(ctx context.Context, keyID string) (backend.KeyMetadata, error) {
	return b.change(ctx, "RotateKey", keyID, func(k *key) error {
		if k.md.State == backend.KeyStatePendingDeletion {
			return backend.ErrKeyPendingDeletion
		}
		if len(k.versions) >= maxVersions {
			return fmt.Errorf("%w: key has the maximum of %d versions", backend.ErrInvalidArgument, maxVersions)
		}
		k.versions = append(k.versions, newMaterial())
		return nil
	})
}

// Purge destroys every key pending deletion whose deletion date has passed
// (by the WithClock clock): it zeroes the key material, forgets the key and
// returns the destroyed ids in ascending order. A purged id is tombstoned:
// CreateKey refuses it with backend.ErrKeyDeleted. Nothing calls Purge
// automatically.
func (b *Backend) Purge(ctx context.Context) ([]string, error) {
	const op = "Purge"
	if err := b.lock(ctx, op, ""); err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	now := b.now()
	var purged []string
	for _, id := range b.ids {
		k := b.keys[id]
		if k.md.State == backend.KeyStatePendingDeletion && k.md.DeletionDate != nil && !now.Before(*k.md.DeletionDate) {
			purged = append(purged, id)
		}
	}
	for _, id := range purged {
		b.remove(id)
		if b.purged == nil {
			b.purged = make(map[string]struct{})
		}
		b.purged[id] = struct{}{}
	}
	return purged, nil
}

var _ backend.KeyVersionDestroyer = (*Backend)(nil)

// DestroyKeyVersions zeroes and forgets the key material of every version
// below below (see backend.KeyVersionDestroyer); ciphertexts under them
// then fail with backend.ErrInvalidCiphertext.
func (b *Backend) DestroyKeyVersions(ctx context.Context, keyID string, below int) (backend.KeyMetadata, error) {
	return b.change(ctx, "DestroyKeyVersions", keyID, func(k *key) error {
		if k.md.State == backend.KeyStatePendingDeletion {
			return backend.ErrKeyPendingDeletion
		}
		if err := backend.ValidateDestroyBelow(below, len(k.versions)); err != nil {
			return err
		}
		for i := range below - 1 {
			clear(k.versions[i])
			k.versions[i] = nil
		}
		return nil
	})
}
