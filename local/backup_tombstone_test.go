package local

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/backend"
)

// purgeNow schedules id's deletion and purges it after the window.
func purgeNow(t *testing.T, b *Backend, clock *testClock, id string) {
	t.Helper()
	ctx := context.Background()
	_, err := b.ScheduleKeyDeletion(ctx, id, backend.MinPendingDays)
	require.NoError(t, err)
	clock.advance(backend.MinPendingDays*24*time.Hour + time.Hour)
	purged, err := b.Purge(ctx)
	require.NoError(t, err)
	require.Contains(t, purged, id)
}

// TestRestoreTombstones: a bundle carries the directory's tombstones; a
// restore never re-creates a tombstoned id (purged before the backup or
// after it), under any policy, shows such keys as Deleted in the dry run
// (ConflictFail refuses), and adds the bundle's tombstones, so a directory
// rebuilt from a bundle keeps refusing the purged ids.
func TestRestoreTombstones(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Now = clock.now
	b := openTest(t, cfg)
	for _, id := range []string{"early", "late", "live"} {
		mustCreate(t, b, id)
	}
	purgeNow(t, b, clock, "early") // before the backup: a tombstone in the bundle
	bundle, info := mustBackup(t, b)
	require.Equal(t, 2, info.FormatVersion)
	purgeNow(t, b, clock, "late") // after it: the bundle still has the key

	pl, err := b.RestorePlan(ctx, bytes.NewReader(bundle), testBackupSecret)
	require.NoError(t, err)
	require.Equal(t, []string{"late"}, pl.Deleted)
	require.Empty(t, pl.Add)
	require.Equal(t, []string{"live"}, pl.Unchanged)
	require.Empty(t, pl.AddTombstones)

	opts := backend.RestoreOptions{BundleID: info.BundleID, Conflict: backend.ConflictFail}
	_, err = b.Restore(ctx, bytes.NewReader(bundle), testBackupSecret, opts)
	require.ErrorIs(t, err, backend.ErrRestoreConflict)
	for _, policy := range []backend.ConflictPolicy{backend.ConflictSkip, backend.ConflictReplace} {
		opts.Conflict = policy
		res, err := b.Restore(ctx, bytes.NewReader(bundle), testBackupSecret, opts)
		require.NoError(t, err, policy)
		require.Empty(t, res.Added, policy)
		require.Empty(t, res.Replaced, policy)
		require.Equal(t, []string{"late"}, res.Plan.Deleted, policy)
		_, err = os.Stat(filepath.Join(dir, "late.json"))
		require.ErrorIs(t, err, os.ErrNotExist, "restore re-created a purged key (%s)", policy)
		_, err = b.DescribeKey(ctx, "late")
		require.ErrorIs(t, err, backend.ErrKeyNotFound)
	}

	// A new directory from the bundle: "early" stays purged there too.
	fresh := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, RestoreHeader(ctx, fresh, bytes.NewReader(bundle), testBackupSecret, nil))
	nb := openTest(t, testConfig(fresh))
	pl, err = nb.RestorePlan(ctx, bytes.NewReader(bundle), testBackupSecret)
	require.NoError(t, err)
	require.Equal(t, []string{"early"}, pl.AddTombstones)
	require.Equal(t, []string{"late", "live"}, pl.Add)
	require.Empty(t, pl.Deleted)
	res, err := nb.Restore(ctx, bytes.NewReader(bundle), testBackupSecret, backend.RestoreOptions{BundleID: info.BundleID, Conflict: backend.ConflictFail})
	require.NoError(t, err)
	require.Equal(t, []string{"early"}, res.TombstonesAdded)
	_, err = nb.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "early"})
	require.ErrorIs(t, err, backend.ErrKeyDeleted)
	want, err := os.ReadFile(filepath.Join(dir, "early"+tombstoneExt))
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(fresh, "early"+tombstoneExt))
	require.NoError(t, err)
	require.Equal(t, want, got)
	// Again: nothing left to do.
	pl, err = nb.RestorePlan(ctx, bytes.NewReader(bundle), testBackupSecret)
	require.NoError(t, err)
	require.Empty(t, pl.AddTombstones)
	require.Empty(t, pl.Add)
	require.Empty(t, tempFiles(t, fresh))
}
