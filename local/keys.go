package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/envkms/kms/backend"
)

// CreateKey creates a key with one fresh version. An empty req.KeyID gets a
// generated UUID; an existing id yields backend.ErrKeyExists.
func (b *Backend) CreateKey(ctx context.Context, req backend.CreateKeyRequest) (backend.KeyMetadata, error) {
	const op = "CreateKey"
	if err := b.begin(ctx, op, req.KeyID); err != nil {
		return backend.KeyMetadata{}, err
	}
	defer b.end()
	id := req.KeyID
	if id == "" {
		id = backend.NewKeyID()
	}
	if err := backend.ValidateKeyID(id); err != nil {
		return backend.KeyMetadata{}, &backend.Error{Op: op, Err: err}
	}
	if err := req.Validate(); err != nil {
		return backend.KeyMetadata{}, &backend.Error{Op: op, KeyID: id, Err: err}
	}
	f := keyFile{
		Format:        keyFormat,
		FormatVersion: formatVersion,
		KeyID:         id,
		Description:   req.Description,
		KeyUsage:      usageEncrypt,
		State:         backend.KeyStateEnabled,
		CreationDate:  b.now().UTC(),
		Versions:      []keyVersion{b.newVersion(id, 1)},

		RotationPeriod: int64(req.RotationPeriod / time.Second),
	}
	if len(req.Tags) > 0 {
		f.Tags = make(map[string]string, len(req.Tags))
		for k, v := range req.Tags {
			f.Tags[k] = v
		}
	}
	defer f.wipe()

	l := b.stripe(id)
	l.Lock()
	defer l.Unlock()
	unlock, err := b.lock.lock(ctx, true)
	if err != nil {
		return backend.KeyMetadata{}, &backend.Error{Op: op, KeyID: id, Err: err}
	}
	defer unlock()
	switch gone, err := b.tombstoned(id); {
	case err != nil:
		return backend.KeyMetadata{}, &backend.Error{Op: op, KeyID: id, Err: err}
	case gone:
		return backend.KeyMetadata{}, &backend.Error{Op: op, KeyID: id, Err: backend.ErrKeyDeleted}
	}
	e, err := b.entryFromFile(b.keyPath(id), &f)
	if err != nil {
		return backend.KeyMetadata{}, &backend.Error{Op: op, KeyID: id, Err: err}
	}
	data, err := b.encodeKeyFile(f)
	if err != nil {
		return backend.KeyMetadata{}, &backend.Error{Op: op, KeyID: id, Err: err}
	}
	defer clear(data)
	if err := b.writeAtomic(b.keyPath(id), data, true); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return backend.KeyMetadata{}, &backend.Error{Op: op, KeyID: id, Err: backend.ErrKeyExists}
		}
		return backend.KeyMetadata{}, &backend.Error{Op: op, KeyID: id, Err: err}
	}
	if e.file, err = os.Lstat(b.keyPath(id)); err != nil {
		return backend.KeyMetadata{}, &backend.Error{Op: op, KeyID: id, Err: &FileError{Path: b.keyPath(id), Err: err}}
	}
	b.install(id, e)
	b.log.Info("local: key created", "key_id", id)
	return b.meta(e), nil
}

// DescribeKey returns a key's metadata.
func (b *Backend) DescribeKey(ctx context.Context, keyID string) (backend.KeyMetadata, error) {
	const op = "DescribeKey"
	if err := b.begin(ctx, op, keyID); err != nil {
		return backend.KeyMetadata{}, err
	}
	defer b.end()
	if err := backend.ValidateKeyID(keyID); err != nil {
		return backend.KeyMetadata{}, &backend.Error{Op: op, Err: err}
	}
	e, err := b.entry(ctx, keyID)
	if err != nil {
		return backend.KeyMetadata{}, keyErr(op, keyID, err)
	}
	return b.meta(e), nil
}

// listIDs returns the ids of all key files in the directory, sorted.
func (b *Backend) listIDs() ([]string, error) {
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return nil, &FileError{Path: b.dir, Err: err}
	}
	var ids []string
	for _, de := range entries {
		if id, ok := keyIDFromName(de.Name()); ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids) // not the file name order: "a-b.json" < "a.json" but "a" < "a-b"
	return ids, nil
}

// ListKeys lists keys in ascending id order. Key files that fail to load are
// reported in UnreadableKeyIDs (and logged, a *FileError at Warn level),
// never failing the listing; they count towards the page size. A key
// file removed meanwhile is not listed.
func (b *Backend) ListKeys(ctx context.Context, req backend.ListKeysRequest) (backend.ListKeysResult, error) {
	const op = "ListKeys"
	if err := b.begin(ctx, op, ""); err != nil {
		return backend.ListKeysResult{}, err
	}
	defer b.end()
	if req.Limit < 0 {
		return backend.ListKeysResult{}, &backend.Error{Op: op, Err: fmt.Errorf("%w: negative limit", backend.ErrInvalidArgument)}
	}
	limit := req.Limit
	if limit == 0 {
		limit = backend.DefaultListLimit
	}
	ids, err := b.listIDs()
	if err != nil {
		return backend.ListKeysResult{}, &backend.Error{Op: op, Err: fmt.Errorf("%w: %w", backend.ErrUnavailable, err)}
	}
	start, _ := slices.BinarySearch(ids, req.Marker)
	if start < len(ids) && ids[start] == req.Marker {
		start++
	}
	var res backend.ListKeysResult
	n, last := 0, ""
	for i := start; i < len(ids); i++ {
		if n == limit {
			res.Truncated = true
			res.NextMarker = last
			break
		}
		if err := ctx.Err(); err != nil {
			return backend.ListKeysResult{}, &backend.Error{Op: op, Err: err}
		}
		e, err := b.entry(ctx, ids[i])
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) { // deleted meanwhile: not listed
				b.log.Warn("local: listing an unreadable key file", "key_id", ids[i], "error", err)
				res.UnreadableKeyIDs = append(res.UnreadableKeyIDs, ids[i])
				n, last = n+1, ids[i]
			}
			continue
		}
		res.Keys = append(res.Keys, b.meta(e))
		n, last = n+1, ids[i]
	}
	return res, nil
}

// update applies change to the key file of id and writes it back
// atomically if change reports a change. It holds the directory lock
// exclusively from reading the file to the fsync after the rename, so an
// update through another Backend or process can neither be lost nor lose
// this one, and change always sees the file as it is on disk.
func (b *Backend) update(ctx context.Context, op, id string, change func(f *keyFile) (bool, error)) (backend.KeyMetadata, error) {
	if err := b.begin(ctx, op, id); err != nil {
		return backend.KeyMetadata{}, err
	}
	defer b.end()
	return b.updateLocked(ctx, op, id, change)
}

// updateLocked is update for a caller between begin and end.
func (b *Backend) updateLocked(ctx context.Context, op, id string, change func(f *keyFile) (bool, error)) (backend.KeyMetadata, error) {
	if err := backend.ValidateKeyID(id); err != nil {
		return backend.KeyMetadata{}, &backend.Error{Op: op, Err: err}
	}
	l := b.stripe(id)
	l.Lock()
	defer l.Unlock()
	unlock, err := b.lock.lock(ctx, true)
	if err != nil {
		return backend.KeyMetadata{}, &backend.Error{Op: op, KeyID: id, Err: err}
	}
	defer unlock()
	path := b.keyPath(id)
	f, fi, err := b.readKeyFileStat(id)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			b.forget(id)
		}
		return backend.KeyMetadata{}, keyErr(op, id, err)
	}
	defer f.wipe()
	changed, err := change(f)
	if err != nil {
		return backend.KeyMetadata{}, &backend.Error{Op: op, KeyID: id, Err: err}
	}
	e, err := b.entryFromFile(path, f)
	if err != nil {
		return backend.KeyMetadata{}, keyErr(op, id, err)
	}
	e.file = fi
	if changed {
		data, err := b.encodeKeyFile(*f)
		if err != nil {
			return backend.KeyMetadata{}, &backend.Error{Op: op, KeyID: id, Err: err}
		}
		defer clear(data)
		if err := b.writeAtomic(path, data, false); err != nil {
			b.forget(id) // the file may be the old or the new one: reload it
			return backend.KeyMetadata{}, &backend.Error{Op: op, KeyID: id, Err: err}
		}
		if e.file, err = os.Lstat(path); err != nil {
			b.forget(id)
			return backend.KeyMetadata{}, &backend.Error{Op: op, KeyID: id, Err: &FileError{Path: path, Err: err}}
		}
		b.log.Info("local: key updated", "op", op, "key_id", id, "state", string(f.State), "version", len(f.Versions))
	}
	b.install(id, e)
	return b.meta(e), nil
}

// EnableKey re-enables a disabled key. A key pending deletion must be
// cancelled first (backend.ErrKeyPendingDeletion).
func (b *Backend) EnableKey(ctx context.Context, keyID string) error {
	_, err := b.update(ctx, "EnableKey", keyID, func(f *keyFile) (bool, error) {
		return setState(f, backend.KeyStateEnabled)
	})
	return err
}

// DisableKey disables a key: GenerateDataKey and Rewrap are refused,
// Decrypt keeps working.
func (b *Backend) DisableKey(ctx context.Context, keyID string) error {
	_, err := b.update(ctx, "DisableKey", keyID, func(f *keyFile) (bool, error) {
		return setState(f, backend.KeyStateDisabled)
	})
	return err
}

func setState(f *keyFile, s backend.KeyState) (bool, error) {
	switch f.State {
	case backend.KeyStatePendingDeletion:
		return false, backend.ErrKeyPendingDeletion
	case s:
		return false, nil
	}
	f.State = s
	return true, nil
}

// ScheduleKeyDeletion marks a key PendingDeletion with a deletion date
// pendingDays from now. The key is destroyed only by Purge after that date.
// Scheduling a key already pending deletion fails with
// backend.ErrKeyPendingDeletion.
func (b *Backend) ScheduleKeyDeletion(ctx context.Context, keyID string, pendingDays int) (backend.KeyMetadata, error) {
	if err := backend.ValidatePendingDays(pendingDays); err != nil {
		if berr := backend.ValidateKeyID(keyID); berr != nil {
			err = berr
		}
		return backend.KeyMetadata{}, &backend.Error{Op: "ScheduleKeyDeletion", KeyID: keyID, Err: err}
	}
	return b.update(ctx, "ScheduleKeyDeletion", keyID, func(f *keyFile) (bool, error) {
		if f.State == backend.KeyStatePendingDeletion {
			return false, backend.ErrKeyPendingDeletion
		}
		d := b.now().Add(time.Duration(pendingDays) * 24 * time.Hour).UTC()
		f.State = backend.KeyStatePendingDeletion
		f.DeletionDate = &d
		return true, nil
	})
}

// CancelKeyDeletion returns a key pending deletion to Disabled and clears
// its deletion date, as AWS KMS does: Decrypt works again, but new data keys
// need an explicit EnableKey. On a key not pending deletion it fails with
// backend.ErrInvalidArgument.
func (b *Backend) CancelKeyDeletion(ctx context.Context, keyID string) (backend.KeyMetadata, error) {
	return b.update(ctx, "CancelKeyDeletion", keyID, func(f *keyFile) (bool, error) {
		if f.State != backend.KeyStatePendingDeletion {
			return false, fmt.Errorf("%w: key is not pending deletion", backend.ErrInvalidArgument)
		}
		f.State = backend.KeyStateDisabled
		f.DeletionDate = nil
		return true, nil
	})
}

// RotateKey adds a key version with fresh key material; new data keys use
// it, older versions keep decrypting. Refused for a key pending deletion.
func (b *Backend) RotateKey(ctx context.Context, keyID string) (backend.KeyMetadata, error) {
	return b.update(ctx, "RotateKey", keyID, func(f *keyFile) (bool, error) {
		if f.State == backend.KeyStatePendingDeletion {
			return false, backend.ErrKeyPendingDeletion
		}
		if len(f.Versions) >= maxVersions {
			return false, fmt.Errorf("%w: key has the maximum of %d versions", backend.ErrInvalidArgument, maxVersions)
		}
		f.Versions = append(f.Versions, b.newVersion(f.KeyID, len(f.Versions)+1))
		return true, nil
	})
}

// Purge destroys every key whose deletion date has passed: it deletes the
// key file (and with it the only copy of the key material) and returns the
// ids it destroyed, in order. Each purged id is tombstoned first
// (<key id>.deleted): CreateKey then refuses it with backend.ErrKeyDeleted.
// Nothing calls Purge automatically: operators
// run it explicitly, e.g. from a daily job, once they are sure no data still
// depends on those keys. Files that fail to load are skipped and reported in
// the joined error; the other keys are still purged.
func (b *Backend) Purge(ctx context.Context) ([]string, error) {
	const op = "Purge"
	if err := b.begin(ctx, op, ""); err != nil {
		return nil, err
	}
	defer b.end()
	ids, err := b.listIDs()
	if err != nil {
		return nil, &backend.Error{Op: op, Err: err}
	}
	var purged []string
	var errs []error
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		done, err := b.purgeOne(ctx, id)
		if err != nil {
			errs = append(errs, &backend.Error{Op: op, KeyID: id, Err: err})
		}
		if done {
			purged = append(purged, id)
			b.log.Info("local: key purged", "key_id", id)
		}
	}
	return purged, errors.Join(errs...)
}

func (b *Backend) purgeOne(ctx context.Context, id string) (bool, error) {
	l := b.stripe(id)
	l.Lock()
	defer l.Unlock()
	unlock, err := b.lock.lock(ctx, true)
	if err != nil {
		return false, err
	}
	defer unlock()
	f, err := b.readKeyFile(id)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	defer f.wipe()
	if f.State != backend.KeyStatePendingDeletion || b.now().Before(*f.DeletionDate) {
		return false, nil
	}
	// Tombstone first: a crash before the key file is removed leaves a key
	// still pending deletion (the next Purge finishes), never a removed key
	// whose id CreateKey would hand out again.
	if err := b.writeTombstone(f); err != nil {
		return false, err
	}
	if err := b.removeFile(b.keyPath(id)); err != nil {
		return false, err
	}
	b.forget(id)
	return true, nil
}
