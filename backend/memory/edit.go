package memory

import (
	"context"

	"github.com/envkms/kms/backend"
)

var _ backend.KeyEditor = (*Backend)(nil)

// UpdateKeyDescription replaces a key's description (see
// backend.KeyEditor).
func (b *Backend) UpdateKeyDescription(ctx context.Context, keyID, description string) (backend.KeyMetadata, error) {
	const op = "UpdateKeyDescription"
	if err := backend.ValidateDescription(description); err != nil {
		return backend.KeyMetadata{}, argErr(op, keyID, err)
	}
	return b.change(ctx, op, keyID, func(k *key) error {
		if k.md.State == backend.KeyStatePendingDeletion {
			return backend.ErrKeyPendingDeletion
		}
		k.md.Description = description
		return nil
	})
}

// TagKey adds or replaces tags (see backend.KeyEditor).
func (b *Backend) TagKey(ctx context.Context, keyID string, tags map[string]string) (backend.KeyMetadata, error) {
	const op = "TagKey"
	if err := backend.ValidateTagRequest(tags); err != nil {
		return backend.KeyMetadata{}, argErr(op, keyID, err)
	}
	return b.change(ctx, op, keyID, func(k *key) error {
		if k.md.State == backend.KeyStatePendingDeletion {
			return backend.ErrKeyPendingDeletion
		}
		merged, err := backend.MergeTags(k.md.Tags, tags)
		if err != nil {
			return err
		}
		k.md.Tags = merged
		return nil
	})
}

// UntagKey removes tags (see backend.KeyEditor).
func (b *Backend) UntagKey(ctx context.Context, keyID string, tagKeys []string) (backend.KeyMetadata, error) {
	const op = "UntagKey"
	if err := backend.ValidateUntagRequest(tagKeys); err != nil {
		return backend.KeyMetadata{}, argErr(op, keyID, err)
	}
	return b.change(ctx, op, keyID, func(k *key) error {
		if k.md.State == backend.KeyStatePendingDeletion {
			return backend.ErrKeyPendingDeletion
		}
		rest, _, err := backend.RemoveTags(k.md.Tags, tagKeys)
		if err != nil {
			return err
		}
		k.md.Tags = rest
		return nil
	})
}

// argErr reports an invalid argument for op; an invalid key id wins.
func argErr(op, keyID string, err error) error {
	if kerr := backend.ValidateKeyID(keyID); kerr != nil {
		return &backend.Error{Op: op, Err: kerr}
	}
	return &backend.Error{Op: op, KeyID: keyID, Err: err}
}
