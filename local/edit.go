package local

import (
	"context"
	"maps"

	"github.com/envkms/kms/backend"
)

var _ backend.KeyEditor = (*Backend)(nil)

// UpdateKeyDescription replaces a key's description (see
// backend.KeyEditor). Like every change it goes through the key file's
// locked read-modify-write, so it never loses a concurrent edit.
func (b *Backend) UpdateKeyDescription(ctx context.Context, keyID, description string) (backend.KeyMetadata, error) {
	const op = "UpdateKeyDescription"
	if err := backend.ValidateDescription(description); err != nil {
		return backend.KeyMetadata{}, argErr(op, keyID, err)
	}
	return b.update(ctx, op, keyID, func(f *keyFile) (bool, error) {
		if f.State == backend.KeyStatePendingDeletion {
			return false, backend.ErrKeyPendingDeletion
		}
		if f.Description == description {
			return false, nil
		}
		f.Description = description
		return true, nil
	})
}

// TagKey adds or replaces tags (see backend.KeyEditor).
func (b *Backend) TagKey(ctx context.Context, keyID string, tags map[string]string) (backend.KeyMetadata, error) {
	const op = "TagKey"
	if err := backend.ValidateTagRequest(tags); err != nil {
		return backend.KeyMetadata{}, argErr(op, keyID, err)
	}
	return b.update(ctx, op, keyID, func(f *keyFile) (bool, error) {
		if f.State == backend.KeyStatePendingDeletion {
			return false, backend.ErrKeyPendingDeletion
		}
		merged, err := backend.MergeTags(f.Tags, tags)
		if err != nil {
			return false, err
		}
		if maps.Equal(merged, f.Tags) {
			return false, nil
		}
		f.Tags = merged
		return true, nil
	})
}

// UntagKey removes tags (see backend.KeyEditor).
func (b *Backend) UntagKey(ctx context.Context, keyID string, tagKeys []string) (backend.KeyMetadata, error) {
	const op = "UntagKey"
	if err := backend.ValidateUntagRequest(tagKeys); err != nil {
		return backend.KeyMetadata{}, argErr(op, keyID, err)
	}
	return b.update(ctx, op, keyID, func(f *keyFile) (bool, error) {
		if f.State == backend.KeyStatePendingDeletion {
			return false, backend.ErrKeyPendingDeletion
		}
		rest, removed, err := backend.RemoveTags(f.Tags, tagKeys)
		if err != nil || !removed {
			return false, err
		}
		f.Tags = rest
		return true, nil
	})
}

// argErr reports an invalid argument for op; an invalid key id wins, as in
// ScheduleKeyDeletion, so the error names the first problem a caller has.
func argErr(op, keyID string, err error) error {
	if kerr := backend.ValidateKeyID(keyID); kerr != nil {
		return &backend.Error{Op: op, Err: kerr}
	}
	return &backend.Error{Op: op, KeyID: keyID, Err: err}
}
