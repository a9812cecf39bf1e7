package kms

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// ErrKeyInUse is wrapped by the error of ScheduleKeyDeletion for a key the
// running configuration or the storage server still references (a
// *KeyInUseError says which and why). Nothing was changed.
var ErrKeyInUse = errors.New("kms: key is in use")

// KeyInUseError is why ScheduleKeyDeletion refused a key, or
// DestroyKeyVersions some of its versions (Below > 0). It wraps
// ErrKeyInUse.
type KeyInUseError struct {
	KeyID  string
	Reason string // e.g. "it is the default key (default_key_id)"
	// Below is DestroyKeyVersions' below; 0 for ScheduleKeyDeletion.
	Below int
}

// Error describes the refusal.
func (e *KeyInUseError) Error() string {
	if e.Below > 0 {
		return fmt.Sprintf("kms: the versions of key %q below %d cannot be destroyed: %s", e.KeyID, e.Below, e.Reason)
	}
	return fmt.Sprintf("kms: key %q cannot be scheduled for deletion: %s", e.KeyID, e.Reason)
}

// Unwrap returns ErrKeyInUse.
func (e *KeyInUseError) Unwrap() error { return ErrKeyInUse }

// KeyReferences returns the ids of keys a storage server still needs (bucket
// default keys, keys named by its configuration, ...). An error makes
// ScheduleKeyDeletion fail closed: nothing is scheduled.
type KeyReferences func(ctx context.Context) ([]string, error)

// WithKeyReferences declares keys, beyond the configured default key, that
// ScheduleKeyDeletion must refuse with ErrKeyInUse. refs is called on every
// ScheduleKeyDeletion, before the backend; keep it cheap.
func WithKeyReferences(refs KeyReferences) Option {
	return func(m *Manager) { m.keyRefs = refs }
}

// checkDeletable refuses keyID when the running configuration (cfg's
// default key) or the WithKeyReferences hook references it.
func (m *Manager) checkDeletable(ctx context.Context, defaultKeyID, keyID string) error {
	if keyID != "" && keyID == defaultKeyID {
		return &KeyInUseError{KeyID: keyID, Reason: "it is the default key (default_key_id); configure another default key first"}
	}
	if m.keyRefs == nil {
		return nil
	}
	ids, err := m.keyRefs(ctx)
	if err != nil {
		return fmt.Errorf("kms: could not check whether key %q is still referenced, not scheduling its deletion: %w", keyID, err)
	}
	if slices.Contains(ids, keyID) {
		return &KeyInUseError{KeyID: keyID, Reason: "the storage server still references it"}
	}
	return nil
}
