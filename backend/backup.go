package backend

import (
	"context"
	"errors"
	"io"
	"time"
)

// Backupper is optionally implemented by a Backend that can write its keys
// to a sealed backup bundle and restore them from one (the local backend
// does; the vault backend leaves backups to Vault itself, see package
// vault). Callers find it with a type assertion; the kms Manager answers
// ErrUnsupported for a backend without it.
//
// A bundle is encrypted and authenticated under a key derived from secret,
// an operator-chosen backup secret (at least MinBackupSecretLen bytes),
// never under the backend's own master key. Implementations never log,
// return or keep secret.
type Backupper interface {
	// Backup writes a bundle of every key to w and returns what it holds.
	Backup(ctx context.Context, w io.Writer, secret []byte) (BackupInfo, error)
	// RestorePlan opens the bundle read from r and reports what a restore
	// would do, changing nothing (the dry run).
	RestorePlan(ctx context.Context, r io.Reader, secret []byte) (RestorePlan, error)
	// Restore restores the bundle read from r. opts.BundleID must equal the
	// bundle's id (ErrBundleIDMismatch otherwise) and opts.Conflict must be
	// a known ConflictPolicy (ErrInvalidArgument otherwise). Keys only in
	// the backend are never removed. A failure leaves every key as it was
	// or as the bundle has it, never a mixture within one key.
	Restore(ctx context.Context, r io.Reader, secret []byte, opts RestoreOptions) (RestoreResult, error)
}

// MinBackupSecretLen is the shortest backup secret accepted (bytes). Use a
// long random secret: the bundle is as strong as it.
const MinBackupSecretLen = 16

// Backup and restore errors. Implementations wrap them (in an *Error).
var (
	// ErrWrongBackupSecret: the backup secret does not open the bundle.
	ErrWrongBackupSecret = errors.New("wrong backup secret for bundle")
	// ErrInvalidBundle: the bundle is malformed, truncated, tampered with,
	// or of an unknown format version.
	ErrInvalidBundle = errors.New("invalid or tampered backup bundle")
	// ErrBundleMismatch: the bundle opened, but its keys cannot be restored
	// here (another key directory, master key or protection).
	ErrBundleMismatch = errors.New("backup bundle does not belong to this key store")
	// ErrBundleIDMismatch: RestoreOptions.BundleID is not the bundle's id.
	ErrBundleIDMismatch = errors.New("bundle id not confirmed")
	// ErrRestoreConflict: ConflictFail and the restore would change keys
	// that exist, or would have to leave out keys whose ids are
	// tombstoned (RestorePlan.Deleted).
	ErrRestoreConflict = errors.New("restore conflicts with existing keys")
)

// ConflictPolicy says what Restore does with a key that exists with other
// contents than the bundle's.
type ConflictPolicy string

// Conflict policies.
const (
	// ConflictSkip keeps the existing key; only missing keys are added.
	ConflictSkip ConflictPolicy = "skip"
	// ConflictReplace makes the bundle win, even where it holds fewer key
	// versions than the existing key (data keys wrapped under the lost
	// versions become undecryptable: see KeyConflict.BundleOlder).
	ConflictReplace ConflictPolicy = "replace"
	// ConflictFail aborts the restore, changing nothing, if any key
	// conflicts.
	ConflictFail ConflictPolicy = "fail"
)

// Valid reports whether p is a known policy.
func (p ConflictPolicy) Valid() bool {
	switch p {
	case ConflictSkip, ConflictReplace, ConflictFail:
		return true
	}
	return false
}

// BackupKey is one key of a bundle's listing.
type BackupKey struct {
	KeyID        string    `json:"key_id"`
	State        KeyState  `json:"state"`
	Versions     int       `json:"versions"`
	CreationDate time.Time `json:"creation_date"`
	// SHA256 is the hex SHA-256 of the key's stored record in the bundle;
	// equal digests mean identical records.
	SHA256 string `json:"sha256"`
}

// BackupInfo describes a bundle.
type BackupInfo struct {
	BundleID      string      `json:"bundle_id"`
	CreationDate  time.Time   `json:"creation_date"`
	Format        string      `json:"format"`
	FormatVersion int         `json:"format_version"`
	Keys          []BackupKey `json:"keys"`
	Size          int64       `json:"size_bytes"` // bytes written (Backup only)
}

// KeyConflict is a key that exists both in the bundle and in the backend
// with different contents.
type KeyConflict struct {
	KeyID string `json:"key_id"`
	// Bundle is the key as the bundle has it.
	Bundle BackupKey `json:"bundle"`
	// Current is the key as it is now; zero (but for KeyID) if Unreadable.
	Current BackupKey `json:"current"`
	// Unreadable: the existing key's record does not load (damaged).
	Unreadable bool `json:"unreadable,omitempty"`
	// BundleOlder: the bundle has fewer versions than the existing key, so
	// replacing it loses the newer versions.
	BundleOlder bool `json:"bundle_older,omitempty"`
}

// RestorePlan is what a restore of a bundle would do now.
type RestorePlan struct {
	Bundle BackupInfo `json:"bundle"`
	// Add: keys only in the bundle (restored under every policy).
	Add []string `json:"add"`
	// Unchanged: keys identical in the bundle and the backend.
	Unchanged []string `json:"unchanged"`
	// Conflicts: keys in both that differ (versions, state, metadata).
	Conflicts []KeyConflict `json:"conflicts"`
	// OnlyInStore: keys the backend has and the bundle does not; a restore
	// never touches them.
	OnlyInStore []string `json:"only_in_store"`
	// Deleted: keys of the bundle whose ids are tombstoned (their keys were
	// purged, here or before the backup was taken). They are never
	// restored, under any policy: a purged id is never re-created (see
	// ErrKeyDeleted). ConflictFail refuses a restore with any.
	Deleted []string `json:"deleted"`
	// AddTombstones: tombstones of the bundle the backend lacks. A restore
	// adds them under every policy, so those ids stay blocked here too.
	AddTombstones []string `json:"add_tombstones"`
}

// RestoreOptions confirm a restore.
type RestoreOptions struct {
	// BundleID must equal the bundle's id, as shown by the dry run.
	BundleID string
	// Conflict is the policy for keys in Conflicts.
	Conflict ConflictPolicy
}

// RestoreResult is what a restore did.
type RestoreResult struct {
	// Plan is the plan the restore carried out, made under the store's lock.
	Plan     RestorePlan `json:"plan"`
	Added    []string    `json:"added"`
	Replaced []string    `json:"replaced"`
	Skipped  []string    `json:"skipped"`
	// TombstonesAdded are the tombstones the restore wrote.
	TombstonesAdded []string `json:"tombstones_added"`
}
