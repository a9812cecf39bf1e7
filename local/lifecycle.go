package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/envkms/kms/backend"
)

// Tombstones: <key id>.deleted, written by Purge before it removes the key
// file, so a purged id is never re-created (CreateKey checks for it under
// the directory lock).
const (
	tombstoneExt    = ".deleted"
	tombstoneFormat = "envkms-local-tombstone"
)

// tombstone is the content of a tombstone file. Only its existence matters
// to the reader; the content is informational.
type tombstone struct {
	Format        string    `json:"format"`
	FormatVersion int       `json:"format_version"`
	KeyID         string    `json:"key_id"`
	DeletionDate  time.Time `json:"deletion_date"`
	PurgeDate     time.Time `json:"purge_date"`
}

func (b *Backend) tombstonePath(id string) string { return filepath.Join(b.dir, id+tombstoneExt) }

// tombstoned reports whether id was purged. Any entry of that name counts
// (a damaged tombstone still blocks the id). Call with the directory lock.
func (b *Backend) tombstoned(id string) (bool, error) {
	_, err := os.Lstat(b.tombstonePath(id))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, &FileError{Path: b.tombstonePath(id), Err: err}
}

// writeTombstone records that id is being purged, durably, before the key
// file goes. Call with the directory lock held exclusively.
func (b *Backend) writeTombstone(f *keyFile) error {
	ts := tombstone{Format: tombstoneFormat, FormatVersion: 1, KeyID: f.KeyID, PurgeDate: b.now().UTC()}
	if f.DeletionDate != nil {
		ts.DeletionDate = *f.DeletionDate
	}
	data, err := json.MarshalIndent(ts, "", "  ")
	if err != nil {
		return err
	}
	return b.writeAtomic(b.tombstonePath(f.KeyID), append(data, '\n'), false)
}

// wrapCount is the number of data keys this Backend wrapped under one key
// version (GenerateDataKey and Rewrap). It is per process, not persisted:
// see the package doc on rotation.
type wrapKey struct {
	id      string
	version int
}

func (b *Backend) wrapCounter(id string, version int) *atomic.Uint64 {
	k := wrapKey{id, version}
	if c, ok := b.wraps.Load(k); ok {
		return c.(*atomic.Uint64)
	}
	c, _ := b.wraps.LoadOrStore(k, new(atomic.Uint64))
	return c.(*atomic.Uint64)
}

func (b *Backend) wrapped(id string, version int) uint64 {
	if c, ok := b.wraps.Load(wrapKey{id, version}); ok {
		return c.(*atomic.Uint64).Load()
	}
	return 0
}

// maxWrapsPerVersion is backend.MaxDataKeysPerVersion unless a test lowers it.
func (b *Backend) maxWrapsPerVersion() uint64 {
	if b.maxWraps != 0 {
		return b.maxWraps
	}
	return backend.MaxDataKeysPerVersion
}

// due reports whether the current version of a key (created at created,
// number version) is due for rotation under period.
func (b *Backend) due(id string, version int, created time.Time, period time.Duration) bool {
	return b.wrapped(id, version) >= b.maxWrapsPerVersion() || backend.RotationDue(period, created, b.now())
}

// meta is e's metadata with RotationDue filled in.
func (b *Backend) meta(e *keyEntry) backend.KeyMetadata {
	md := e.metadata()
	md.RotationDue = b.due(md.KeyID, md.Version, e.versionCreated, md.RotationPeriod)
	return md
}

// maybeRotate rotates an Enabled key with a rotation period whose current
// version is due, and returns the entry to wrap under: the first use after
// the key is due rotates it, no background goroutine needed. Due-ness is
// checked again under the directory lock on the file as it is on disk, so
// two Backends (or processes) seeing the key due at once rotate it once. A
// failed rotation is logged and the current version used: the policy is
// not worth refusing data keys for. Call between begin and end.
func (b *Backend) maybeRotate(ctx context.Context, id string, e *keyEntry) *keyEntry {
	if e.md.RotationPeriod == 0 || !b.due(id, e.md.Version, e.versionCreated, e.md.RotationPeriod) {
		return e
	}
	_, err := b.updateLocked(ctx, "AutoRotate", id, func(f *keyFile) (bool, error) {
		n := len(f.Versions)
		period := time.Duration(f.RotationPeriod) * time.Second
		if f.State != backend.KeyStateEnabled || period == 0 || n >= maxVersions ||
			!b.due(id, n, f.Versions[n-1].CreationDate, period) {
			return false, nil
		}
		f.Versions = append(f.Versions, b.newVersion(f.KeyID, n+1))
		b.log.Info("local: key rotated by its rotation policy", "key_id", id, "version", n+1)
		return true, nil
	})
	if err != nil {
		b.log.Warn("local: automatic rotation failed; using the current key version", "key_id", id, "error", err)
		return e
	}
	if ne, err := b.entry(ctx, id); err == nil {
		return ne
	}
	return e
}

var _ backend.RotationPolicySetter = (*Backend)(nil)
var _ backend.Purger = (*Backend)(nil)

// SetRotationPeriod sets a key's rotation period (0: off), stored in whole
// seconds in the key file. A key pending deletion yields
// backend.ErrKeyPendingDeletion.
func (b *Backend) SetRotationPeriod(ctx context.Context, keyID string, period time.Duration) (backend.KeyMetadata, error) {
	const op = "SetRotationPeriod"
	if err := backend.ValidateRotationPeriod(period); err != nil {
		if kerr := backend.ValidateKeyID(keyID); kerr != nil {
			err = kerr
		}
		return backend.KeyMetadata{}, &backend.Error{Op: op, KeyID: keyID, Err: err}
	}
	return b.update(ctx, op, keyID, func(f *keyFile) (bool, error) {
		if f.State == backend.KeyStatePendingDeletion {
			return false, backend.ErrKeyPendingDeletion
		}
		secs := int64(period / time.Second)
		if f.RotationPeriod == secs {
			return false, nil
		}
		f.RotationPeriod = secs
		return true, nil
	})
}

// checkRotationPeriod validates a stored rotation period (seconds).
func checkRotationPeriod(secs int64) error {
	if secs < 0 || secs > int64(backend.MaxRotationPeriod/time.Second) {
		return fmt.Errorf("rotation period out of range")
	}
	return backend.ValidateRotationPeriod(time.Duration(secs) * time.Second)
}

var _ backend.KeyVersionDestroyer = (*Backend)(nil)

// DestroyKeyVersions destroys the versions of keyID below below (see
// backend.KeyVersionDestroyer): their entries in the key file keep their
// number and creation date, marked destroyed, without their material
// (FORMAT.md), written as every key update is (under the directory lock,
// atomically). Ciphertexts under them then fail with
// backend.ErrInvalidCiphertext, through this Backend at once and through
// other Backends on the directory within a second (they revalidate a
// cached key file after that long). Copies of the old key file (a backup
// bundle, a file-system snapshot) still hold the material: destroy those
// too. Call it through kms.Manager.DestroyKeyVersions, which asks the
// storage server first whether objects still need those versions.
func (b *Backend) DestroyKeyVersions(ctx context.Context, keyID string, below int) (backend.KeyMetadata, error) {
	return b.update(ctx, "DestroyKeyVersions", keyID, func(f *keyFile) (bool, error) {
		if f.State == backend.KeyStatePendingDeletion {
			return false, backend.ErrKeyPendingDeletion
		}
		if err := backend.ValidateDestroyBelow(below, len(f.Versions)); err != nil {
			return false, err
		}
		changed := false
		for i := range below - 1 {
			v := &f.Versions[i]
			if v.Destroyed {
				continue
			}
			clear(v.Plaintext)
			v.Destroyed, v.Sealed, v.Plaintext, changed = true, nil, nil, true
		}
		if changed {
			b.log.Warn("local: key versions destroyed; data keys wrapped under them can no longer be decrypted", "key_id", keyID, "below_version", below)
		}
		return changed, nil
	})
}
