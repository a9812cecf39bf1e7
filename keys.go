package kms

import (
	"context"

	"github.com/envkms/kms/backend"
)

// CreateKey creates a master key (an empty req.KeyID gets a generated UUID).
// An existing id yields ErrKeyExists. Not retried.
func (m *Manager) CreateKey(ctx context.Context, req CreateKeyRequest) (KeyMetadata, error) {
	return run(m, opCreateKey, req.KeyID, func(rt *runtime) (KeyMetadata, error) {
		md, err := invoke(ctx, m, rt, opCreateKey, req.KeyID, func(ctx context.Context, b backend.Backend) (KeyMetadata, error) {
			return b.CreateKey(ctx, req)
		})
		if err == nil {
			m.logger.Info("kms: key created", "key_id", md.KeyID)
		}
		return md, err
	})
}

// DescribeKey returns a key's metadata or ErrKeyNotFound.
func (m *Manager) DescribeKey(ctx context.Context, keyID string) (KeyMetadata, error) {
	return keyCall(ctx, m, opDescribeKey, keyID, backend.Backend.DescribeKey)
}

// ListKeys returns a page of keys in ascending id order.
func (m *Manager) ListKeys(ctx context.Context, req ListKeysRequest) (ListKeysResult, error) {
	return run(m, opListKeys, "", func(rt *runtime) (ListKeysResult, error) {
		return invoke(ctx, m, rt, opListKeys, "", func(ctx context.Context, b backend.Backend) (ListKeysResult, error) {
			return b.ListKeys(ctx, req)
		})
	})
}

// EnableKey re-enables a disabled key.
func (m *Manager) EnableKey(ctx context.Context, keyID string) error {
	_, err := keyCall(ctx, m, opEnableKey, keyID, noResult(backend.Backend.EnableKey))
	if err == nil {
		m.logger.Info("kms: key enabled", "key_id", keyID)
	}
	return err
}

// DisableKey disables a key: GenerateDataKey is refused with ErrKeyDisabled;
// Decrypt keeps working through the backend. The Manager also clears its
// data-key cache (as ScheduleKeyDeletion and ClearCache do), so once
// DisableKey returns no data key is served from memory that the backend
// has not vouched for since: an operator disabling a key in an incident
// sees every later use reach the backend (and its audit log).
func (m *Manager) DisableKey(ctx context.Context, keyID string) error {
	_, err := run(m, opDisableKey, keyID, func(rt *runtime) (struct{}, error) {
		_, err := invoke(ctx, m, rt, opDisableKey, keyID, func(ctx context.Context, b backend.Backend) (struct{}, error) {
			return struct{}{}, b.DisableKey(ctx, keyID)
		})
		if err == nil {
			if rt.cache != nil {
				rt.cache.invalidate()
			}
			m.stats.invalidations.Add(1)
		}
		return struct{}{}, err
	})
	if err == nil {
		m.logger.Info("kms: key disabled", "key_id", keyID)
	}
	return err
}

// ScheduleKeyDeletion marks a key PendingDeletion for pendingDays (7..30).
// From then on the backend refuses Decrypt with the key, so the Manager also
// clears its data-key cache, which would otherwise keep serving the key's
// data keys until they expire. Not retried.
//
// The default key (default_key_id) and keys declared with WithKeyReferences
// are refused with a *KeyInUseError (ErrKeyInUse) before the backend is
// asked: deleting them would make everything encrypted under them
// unreadable once the window ends.
func (m *Manager) ScheduleKeyDeletion(ctx context.Context, keyID string, pendingDays int) (KeyMetadata, error) {
	return run(m, opScheduleKeyDeletion, keyID, func(rt *runtime) (KeyMetadata, error) {
		if err := m.checkDeletable(ctx, rt.cfg.DefaultKeyID, keyID); err != nil {
			return KeyMetadata{}, err
		}
		md, err := invoke(ctx, m, rt, opScheduleKeyDeletion, keyID, func(ctx context.Context, b backend.Backend) (KeyMetadata, error) {
			return b.ScheduleKeyDeletion(ctx, keyID, pendingDays)
		})
		if err == nil {
			if rt.cache != nil {
				rt.cache.invalidate()
			}
			m.stats.invalidations.Add(1)
			m.logger.Info("kms: key deletion scheduled", "key_id", keyID, "pending_days", pendingDays)
		}
		return md, err
	})
}

// CancelKeyDeletion returns a PendingDeletion key to Disabled, as AWS KMS
// does: an operator enables it again on purpose (EnableKey). Not retried.
func (m *Manager) CancelKeyDeletion(ctx context.Context, keyID string) (KeyMetadata, error) {
	md, err := keyCall(ctx, m, opCancelKeyDeletion, keyID, backend.Backend.CancelKeyDeletion)
	if err == nil {
		m.logger.Info("kms: key deletion cancelled", "key_id", keyID)
	}
	return md, err
}

// RotateKey gives a key a new version for new data keys; data keys wrapped
// under older versions keep decrypting. Not retried.
func (m *Manager) RotateKey(ctx context.Context, keyID string) (KeyMetadata, error) {
	md, err := keyCall(ctx, m, opRotateKey, keyID, backend.Backend.RotateKey)
	if err == nil {
		m.stats.invalidations.Add(1) // caches of keys made under the old version (CacheGeneration)
		m.logger.Info("kms: key rotated", "key_id", keyID, "version", md.Version)
	}
	return md, err
}

// CacheGeneration returns a number that changes whenever keys cached from
// this Manager must no longer be used: it increments on ClearCache,
// DisableKey, ScheduleKeyDeletion, RotateKey and each (re)start or hot swap,
// and reads differently while the Manager is not Running. A cache built on
// the Manager's keys (sse's bucket keys) tags each entry with the value read
// before the call that produced it and uses the entry only while the value
// is unchanged, so once one of those calls returns no entry made before it
// is used again.
func (m *Manager) CacheGeneration() uint64 {
	g := m.stats.invalidations.Load()
	if m.rt.Load() == nil {
		return g | 1<<63
	}
	return g
}

// keyCall runs a backend method that takes a key id.
func keyCall[T any](ctx context.Context, m *Manager, o op, keyID string, method func(backend.Backend, context.Context, string) (T, error)) (T, error) {
	return run(m, o, keyID, func(rt *runtime) (T, error) {
		return invoke(ctx, m, rt, o, keyID, func(ctx context.Context, b backend.Backend) (T, error) {
			return method(b, ctx, keyID)
		})
	})
}

func noResult(method func(backend.Backend, context.Context, string) error) func(backend.Backend, context.Context, string) (struct{}, error) {
	return func(b backend.Backend, ctx context.Context, keyID string) (struct{}, error) {
		return struct{}{}, method(b, ctx, keyID)
	}
}
