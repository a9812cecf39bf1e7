package kms

import (
	"context"
	"fmt"

	"github.com/envkms/kms/backend"
)

// KeyEditor is backend.KeyEditor, re-exported.
type KeyEditor = backend.KeyEditor

// The edits below are counted, timed and logged as opEnableKey (a retryable
// metadata change): the Manager's operation table has no entries of their
// own yet. Each edit is idempotent, so a repetition after ErrUnavailable is
// harmless.
const opEditKey = opEnableKey

// UpdateKeyDescription replaces a key's description ("" clears it) and
// returns its metadata. A backend that does not implement
// backend.KeyEditor yields ErrUnsupported.
func (m *Manager) UpdateKeyDescription(ctx context.Context, keyID, description string) (KeyMetadata, error) {
	return m.editKey(ctx, "UpdateKeyDescription", keyID, func(ctx context.Context, e KeyEditor) (KeyMetadata, error) {
		return e.UpdateKeyDescription(ctx, keyID, description)
	})
}

// TagKey adds tags to a key or replaces their values, keeping its other
// tags, and returns its metadata. A backend that does not implement
// backend.KeyEditor yields ErrUnsupported.
func (m *Manager) TagKey(ctx context.Context, keyID string, tags map[string]string) (KeyMetadata, error) {
	return m.editKey(ctx, "TagKey", keyID, func(ctx context.Context, e KeyEditor) (KeyMetadata, error) {
		return e.TagKey(ctx, keyID, tags)
	})
}

// UntagKey removes the named tags from a key (names it lacks are ignored)
// and returns its metadata. A backend that does not implement
// backend.KeyEditor yields ErrUnsupported.
func (m *Manager) UntagKey(ctx context.Context, keyID string, tagKeys []string) (KeyMetadata, error) {
	return m.editKey(ctx, "UntagKey", keyID, func(ctx context.Context, e KeyEditor) (KeyMetadata, error) {
		return e.UntagKey(ctx, keyID, tagKeys)
	})
}

func (m *Manager) editKey(ctx context.Context, name, keyID string, fn func(context.Context, KeyEditor) (KeyMetadata, error)) (KeyMetadata, error) {
	md, err := run(m, opEditKey, keyID, func(rt *runtime) (KeyMetadata, error) {
		return invoke(ctx, m, rt, opEditKey, keyID, func(ctx context.Context, b backend.Backend) (KeyMetadata, error) {
			e, ok := b.(KeyEditor)
			if !ok {
				return KeyMetadata{}, &backend.Error{Op: name, KeyID: keyID, Err: fmt.Errorf("%w: the %T backend cannot edit key metadata", ErrUnsupported, b)}
			}
			return fn(ctx, e)
		})
	})
	if err == nil {
		m.logger.Info("kms: key edited", "op", name, "key_id", keyID)
	}
	return md, err
}
