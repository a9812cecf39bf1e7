package vault

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/envkms/kms/backend"
)

// Purge destroys every key whose scheduled deletion date has passed: it
// claims the key (state Purging, so CancelKeyDeletion can no longer save it),
// sets deletion_allowed on the transit key, deletes the transit key — after
// which no blob under it can ever be decrypted — and deletes the key's KV
// metadata with all its versions. It returns the ids it purged. Before the
// transit key is deleted the id is tombstoned (a KV record under
// <prefix>/.deleted/, see FORMAT.md): CreateKey never re-creates it.
//
// Nothing calls Purge automatically: operators run it (for example daily
// from a cron job or an admin tool) when they mean to destroy key material.
// It needs, in addition to the usual policy, "update" on
// <mount>/keys/<id>/config, "delete" on <mount>/keys/<id> and
// <kv_mount>/metadata/<prefix>/<id>, and "create" on
// <kv_mount>/data/<prefix>/.deleted/<id>. A Purge interrupted half-way is
// completed by the next one. Each key is handled within Timeout; ctx bounds
// the whole run. Errors for single keys are joined; the other keys are still
// purged.
func (b *Backend) Purge(ctx context.Context) ([]string, error) {
	const op = "Purge"
	ids, err := call(ctx, b, op, "", nil, b.listIDs)
	if err != nil {
		return nil, err
	}
	var purged []string
	var errs []error
	for _, id := range ids {
		now := time.Now()
		done, err := call(ctx, b, op, id, nil, func(ctx context.Context) (bool, error) {
			return b.purgeOne(ctx, id, now)
		})
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if done {
			purged = append(purged, id)
		}
	}
	return purged, errors.Join(errs...)
}

// errSkip from an update function: this key is not due.
var errSkip = errors.New("vault: not due for purge")

// purgeOne purges id if it is due at now. Purge runs it within a Timeout of
// its own.
func (b *Backend) purgeOne(ctx context.Context, id string, now time.Time) (bool, error) {
	_, err := b.updateRecord(ctx, id, func(r *record) error {
		switch {
		case r.State == statePurging:
			return errNoChange // an earlier Purge was interrupted; finish it
		case r.State == string(backend.KeyStatePendingDeletion) && r.DeletionDate != nil && !now.Before(*r.DeletionDate):
			r.State = statePurging
			return nil
		}
		return errSkip
	})
	switch {
	case errors.Is(err, errSkip), errors.Is(err, backend.ErrKeyNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	b.states.put(id, statePurging)
	// The tombstone goes first: from here on CreateKey refuses the id,
	// before the record that blocks it today is deleted.
	if err := b.writeTombstone(ctx, id); err != nil {
		return false, err
	}
	if _, err := b.write(ctx, b.transitKeyPath(id)+"/config", map[string]any{"deletion_allowed": true}, true); err != nil && !errors.Is(err, backend.ErrKeyNotFound) {
		return false, fmt.Errorf("allow deletion of the transit key: %w", err)
	}
	if err := b.del(ctx, b.transitKeyPath(id)); err != nil && !errors.Is(err, backend.ErrKeyNotFound) {
		var se *statusError
		// Vault answers 400 "could not delete key; not found" for a key
		// already gone.
		if !errors.As(err, &se) || !se.has("not found") {
			return false, fmt.Errorf("delete the transit key: %w", err)
		}
	}
	if err := b.del(ctx, b.kvMetadataPath(id)); err != nil && !errors.Is(err, backend.ErrKeyNotFound) {
		return false, fmt.Errorf("delete the key metadata: %w", err)
	}
	b.states.drop(id)
	b.log.Warn("vault: key purged; its data keys can no longer be decrypted", "key_id", id)
	return true, nil
}
