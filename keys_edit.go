package kms

import (
	"context"
	"fmt"

	"github.com/envkms/kms/backend"
)

// KeyEditor is backend.KeyEditor, re-exported.
type KeyEditor = backend.KeyEditor

// UpdateKeyDescription replaces a key's description ("" clears it) and
// returns its metadata. A backend that does not implement
// backend.KeyEditor yields ErrUnsupported.
func (m *Manager) UpdateKeyDescription(ctx context.Context, keyID, description string) (KeyMetadata, error) {
	return m.editKey(ctx, opUpdateKeyDescription, keyID, func(ctx context.Context, e KeyEditor) (KeyMetadata, error) {
		return e.UpdateKeyDescription(ctx, keyID, description)
	})
}

// TagKey adds tags to a key or replaces their values, keeping its other
// tags, and returns its metadata. A backend that does not implement
// backend.KeyEditor yields ErrUnsupported.
func (m *Manager) TagKey(ctx context.Context, keyID string, tags map[string]string) (KeyMetadata, error) {
	return m.editKey(ctx, opTagKey, keyID, func(ctx context.Context, e KeyEditor) (KeyMetadata, error) {
		return e.TagKey(ctx, keyID, tags)
	})
}

// UntagKey removes the named tags from a key (names it lacks are ignored)
// and returns its metadata. A backend that does not implement
// backend.KeyEditor yields ErrUnsupported.
func (m *Manager) UntagKey(ctx context.Context, keyID string, tagKeys []string) (KeyMetadata, error) {
	return m.editKey(ctx, opUntagKey, keyID, func(ctx context.Context, e KeyEditor) (KeyMetadata, error) {
		return e.UntagKey(ctx, keyID, tagKeys)
	})
}

func (m *Manager) editKey(ctx context.Context, o op, keyID string, fn func(context.Context, KeyEditor) (KeyMetadata, error)) (KeyMetadata, error) {
	md, err := run(m, o, keyID, func(rt *runtime) (KeyMetadata, error) {
		return invoke(ctx, m, rt, o, keyID, func(ctx context.Context, b backend.Backend) (KeyMetadata, error) {
			e, ok := b.(KeyEditor)
			if !ok {
				return KeyMetadata{}, &backend.Error{Op: o.String(), KeyID: keyID, Err: fmt.Errorf("%w: the %T backend cannot edit key metadata", ErrUnsupported, b)}
			}
			return fn(ctx, e)
		})
	})
	if err == nil {
		m.logger.Info("kms: key edited", "op", o.String(), "key_id", keyID)
	}
	return md, err
}
