package kms

import (
	"context"
	"fmt"
	"time"

	"github.com/envkms/kms/backend"
)

// RotationPolicySetter is backend.RotationPolicySetter, re-exported.
type RotationPolicySetter = backend.RotationPolicySetter

// SetRotationPeriod sets a key's automatic rotation period (0 turns
// automatic rotation off; otherwise backend.MinRotationPeriod to
// backend.MaxRotationPeriod) and returns its metadata, whose RotationDue
// then says whether the current version is due. The local backend rotates
// a key at its first use after it is due; the vault backend hands the
// period to transit (auto_rotate_period), which rotates on its own. A key
// pending deletion yields ErrKeyPendingDeletion, an invalid period
// ErrInvalidArgument, and a backend that does not implement
// backend.RotationPolicySetter ErrUnsupported.
func (m *Manager) SetRotationPeriod(ctx context.Context, keyID string, period time.Duration) (KeyMetadata, error) {
	const o = opSetRotationPeriod
	md, err := run(m, o, keyID, func(rt *runtime) (KeyMetadata, error) {
		if err := backend.ValidateRotationPeriod(period); err != nil {
			return KeyMetadata{}, &backend.Error{Op: o.String(), KeyID: keyID, Err: err}
		}
		return invoke(ctx, m, rt, o, keyID, func(ctx context.Context, b backend.Backend) (KeyMetadata, error) {
			rs, ok := b.(RotationPolicySetter)
			if !ok {
				return KeyMetadata{}, &backend.Error{Op: o.String(), KeyID: keyID, Err: fmt.Errorf("%w: the %T backend has no rotation policy", ErrUnsupported, b)}
			}
			return rs.SetRotationPeriod(ctx, keyID, period)
		})
	})
	if err == nil {
		m.logger.Info("kms: key rotation period set", "key_id", keyID, "rotation_period", period.String())
	}
	return md, err
}
