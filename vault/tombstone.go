package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/envkms/kms/backend"
)

// Tombstones: a purged key id is recorded in KV version 2 at
// <KVMount>/data/<KeyPathPrefix>/.deleted/<key id> before Purge deletes the
// transit key and the key's record, and CreateKey never creates an id that
// has one (backend.ErrKeyDeleted). ".deleted" cannot be a key id (ids start
// with a letter or digit), and ListKeys skips folders, so the tombstones
// never show up as keys. See FORMAT.md.
const (
	tombstoneDir    = ".deleted"
	tombstoneFormat = 1
)

// tombstone is the content of a tombstone record. Only its existence
// matters to CreateKey; the rest is for operators.
type tombstone struct {
	Format    int       `json:"format"` // tombstoneFormat
	KeyID     string    `json:"key_id"`
	PurgeDate time.Time `json:"purge_date"`
}

func (b *Backend) tombstoneDataPath(keyID string) string {
	return b.cfg.KVMount + "/data/" + b.cfg.KeyPathPrefix + "/" + tombstoneDir + "/" + keyID
}

// tombstoned reports whether keyID has a tombstone. Any record at its path
// counts, even one of an unknown format: a damaged tombstone still blocks
// the id.
func (b *Backend) tombstoned(ctx context.Context, keyID string) (bool, error) {
	s, err := b.read(ctx, b.tombstoneDataPath(keyID))
	switch {
	case errors.Is(err, backend.ErrKeyNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read the tombstone: %w", err)
	case s == nil || s.Data == nil:
		return false, nil
	}
	data, _ := s.Data["data"].(map[string]any)
	return data != nil, nil // a soft-deleted latest version has no data
}

// writeTombstone records that keyID is being purged. It is idempotent, so an
// interrupted Purge simply writes it again.
func (b *Backend) writeTombstone(ctx context.Context, keyID string) error {
	raw, err := json.Marshal(tombstone{Format: tombstoneFormat, KeyID: keyID, PurgeDate: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("vault: internal error: marshal tombstone: %w", err)
	}
	var data map[string]any
	if err := json.Unmarshal(raw, &data); err != nil {
		return fmt.Errorf("vault: internal error: unmarshal tombstone: %w", err)
	}
	if _, err := b.write(ctx, b.tombstoneDataPath(keyID), map[string]any{"data": data}, true); err != nil {
		return fmt.Errorf("write the tombstone: %w", err)
	}
	return nil
}

// refuseTombstoned returns backend.ErrKeyDeleted if keyID is tombstoned.
func (b *Backend) refuseTombstoned(ctx context.Context, keyID string) error {
	gone, err := b.tombstoned(ctx, keyID)
	switch {
	case err != nil:
		return err
	case gone:
		return backend.ErrKeyDeleted
	}
	return nil
}
