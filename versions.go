package kms

import (
	"context"
	"fmt"

	"github.com/envkms/kms/backend"
)

// KeyVersionDestroyer is backend.KeyVersionDestroyer, re-exported.
type KeyVersionDestroyer = backend.KeyVersionDestroyer

// KeyVersionReferences returns the oldest version of keyID that stored
// objects may still need (0: none). A storage server answers it from an
// inventory of its objects (internal/s3srv: the last completed rekey job).
// An error makes DestroyKeyVersions fail closed: nothing is destroyed. It
// must also count objects written since the inventory was taken: the
// version that was the newest when the inventory began is a safe bound for
// those.
type KeyVersionReferences func(ctx context.Context, keyID string) (oldestNeeded int, err error)

// WithKeyVersionReferences declares how DestroyKeyVersions learns which key
// versions stored objects still need. Without it DestroyKeyVersions is
// refused (ErrKeyInUse): nothing else can tell that no object depends on
// the versions to destroy.
func WithKeyVersionReferences(refs KeyVersionReferences) Option {
	return func(m *Manager) { m.verRefs = refs }
}

// DestroyKeyVersions destroys every version of keyID below below, keeping
// the key and its newer versions: data keys wrapped under the destroyed
// versions can never be decrypted again. It is refused with a
// *KeyInUseError (ErrKeyInUse) unless the WithKeyVersionReferences hook
// says no stored object needs a version below below, and fails closed
// (ErrKeyInUse too) when the hook fails or is not configured. Cached data keys are dropped.
// A backend that does not implement backend.KeyVersionDestroyer yields
// ErrUnsupported; below must be 2..the key's current version
// (ErrInvalidArgument). Move objects to the newest version first (a rekey
// job, sse.RekeyBatch). Not retried on ErrUnavailable; calling it again is
// harmless.
func (m *Manager) DestroyKeyVersions(ctx context.Context, keyID string, below int) (KeyMetadata, error) {
	const o = opDestroyKeyVersions
	md, err := run(m, o, keyID, func(rt *runtime) (KeyMetadata, error) {
		if err := backend.ValidateKeyID(keyID); err != nil {
			return KeyMetadata{}, &backend.Error{Op: o.String(), Err: err}
		}
		if below < 2 {
			return KeyMetadata{}, &backend.Error{Op: o.String(), KeyID: keyID, Err: fmt.Errorf("%w: below_version must be at least 2", ErrInvalidArgument)}
		}
		if err := m.checkVersionsDestroyable(ctx, keyID, below); err != nil {
			return KeyMetadata{}, err
		}
		md, err := invoke(ctx, m, rt, o, keyID, func(ctx context.Context, b backend.Backend) (KeyMetadata, error) {
			d, ok := b.(KeyVersionDestroyer)
			if !ok {
				return KeyMetadata{}, &backend.Error{Op: o.String(), KeyID: keyID, Err: fmt.Errorf("%w: the %T backend cannot destroy key versions", ErrUnsupported, b)}
			}
			return d.DestroyKeyVersions(ctx, keyID, below)
		})
		if err == nil {
			if rt.cache != nil {
				rt.cache.invalidate()
			}
			m.stats.invalidations.Add(1)
		}
		return md, err
	})
	if err == nil {
		m.logger.Warn("kms: key versions destroyed", "key_id", keyID, "below_version", below)
	}
	return md, err
}

// checkVersionsDestroyable refuses destroying keyID's versions below below
// unless the WithKeyVersionReferences hook says none of them is needed.
func (m *Manager) checkVersionsDestroyable(ctx context.Context, keyID string, below int) error {
	if m.verRefs == nil {
		return &KeyInUseError{KeyID: keyID, Below: below, Reason: "no inventory of stored objects is configured (kms.WithKeyVersionReferences), so no version can be proven unused"}
	}
	oldest, err := m.verRefs(ctx, keyID)
	if err != nil {
		return fmt.Errorf("%w: could not check which versions of key %q stored objects still need, not destroying any: %w", ErrKeyInUse, keyID, err)
	}
	if oldest > 0 && oldest < below {
		return &KeyInUseError{KeyID: keyID, Below: below, Reason: fmt.Sprintf("stored objects may still need version %d", oldest)}
	}
	return nil
}
