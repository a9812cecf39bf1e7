package backend

import (
	"context"
	"fmt"
	"time"
)

// ErrKeyDeleted is wrapped by CreateKey's error for an id that belonged to a
// key since purged. It wraps ErrKeyExists, so callers matching that keep
// working: a purged id is tombstoned and never names a new key, because
// ciphertexts naming it may still be stored somewhere (re-creating the id
// would make them fail with ErrInvalidCiphertext instead of ErrKeyNotFound,
// and let a new key silently stand in for the destroyed one).
var ErrKeyDeleted = fmt.Errorf("%w: the id belonged to a deleted key and cannot be reused", ErrKeyExists)

// Purger is optionally implemented by a Backend that destroys keys pending
// deletion once their deletion date has passed.
type Purger interface {
	// Purge destroys every key pending deletion whose DeletionDate has
	// passed, and no other, and returns the ids it destroyed in ascending
	// order. A purged id is tombstoned: CreateKey with it then fails with
	// ErrKeyDeleted, DescribeKey and Decrypt with ErrKeyNotFound.
	Purge(ctx context.Context) ([]string, error)
}

// Rotation policy bounds. A RotationPeriod of 0 means no automatic rotation.
const (
	MinRotationPeriod = time.Hour
	MaxRotationPeriod = 100 * 365 * 24 * time.Hour
)

// MaxDataKeysPerVersion is the number of data keys wrapped under one key
// version after which KeyMetadata.RotationDue is true (and a key with a
// RotationPeriod is rotated at its next use). It is far below the 2^32
// messages NIST SP 800-38D allows one AES-GCM key with random 96-bit nonces.
// Backends count per process (see their documentation).
const MaxDataKeysPerVersion = 1 << 30

// ValidateRotationPeriod returns an error wrapping ErrInvalidArgument unless
// d is 0 (no automatic rotation) or MinRotationPeriod..MaxRotationPeriod.
func ValidateRotationPeriod(d time.Duration) error {
	if d != 0 && (d < MinRotationPeriod || d > MaxRotationPeriod) {
		return fmt.Errorf("%w: rotation period %v, want 0 (off) or %v..%v", ErrInvalidArgument, d, MinRotationPeriod, MaxRotationPeriod)
	}
	return nil
}

// RotationPolicySetter is optionally implemented by a Backend that can
// change a key's rotation period after creation.
type RotationPolicySetter interface {
	// SetRotationPeriod sets the key's RotationPeriod (0 turns automatic
	// rotation off) and returns its metadata. A key pending deletion yields
	// ErrKeyPendingDeletion; an invalid period ErrInvalidArgument.
	SetRotationPeriod(ctx context.Context, keyID string, period time.Duration) (KeyMetadata, error)
}

// RotationDue reports whether a key version created at versionCreated is
// due for rotation by age at now under period (0: never). The data-key bound
// (MaxDataKeysPerVersion) is the backend's to add.
func RotationDue(period time.Duration, versionCreated, now time.Time) bool {
	return period > 0 && !versionCreated.IsZero() && now.Sub(versionCreated) >= period
}

// KeyVersionDestroyer is optionally implemented by a Backend that can
// destroy a key's old versions while keeping the key.
type KeyVersionDestroyer interface {
	// DestroyKeyVersions destroys every version of keyID below below
	// (2 <= below <= the key's current version): data keys wrapped under
	// them can never be decrypted again (ErrInvalidCiphertext), by this or
	// any other process. Versions from below on are kept; asking again for
	// versions already destroyed is a no-op. A key pending deletion yields
	// ErrKeyPendingDeletion, a below out of range ErrInvalidArgument.
	// Nothing checks here whether stored objects still need those
	// versions: the kms Manager's DestroyKeyVersions does (see
	// kms.WithKeyVersionReferences).
	DestroyKeyVersions(ctx context.Context, keyID string, below int) (KeyMetadata, error)
}

// ValidateDestroyBelow returns an error wrapping ErrInvalidArgument unless
// 2 <= below <= current.
func ValidateDestroyBelow(below, current int) error {
	if below < 2 || below > current {
		return fmt.Errorf("%w: below_version %d, want 2..%d (the current version)", ErrInvalidArgument, below, current)
	}
	return nil
}
