package local

// The test vector of backup bundle format version 2 (BACKUP_FORMAT.md):
// testdata/backup-v2/bundle.json, a bundle of testdata/keydir-v1-sealed
// plus the tombstone of a purged id, and testdata/backup-v2/vector.json.
// Written once by
//
//	LOCAL_UPDATE_TESTDATA=1 go test -run TestBackupVectorsV2 ./local/
//
// which refuses to overwrite them. The version-1 vector (backup-v1) stays
// readable: TestBackupVectors.

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/backend"
)

const (
	bv2Dir    = "testdata/backup-v2"
	bv2Bundle = bv2Dir + "/bundle.json"
	bv2Vector = bv2Dir + "/vector.json"
)

type bv2VectorFile struct {
	bvVectorFile
	Tombstones []string `json:"tombstones"`
	// TombstoneFiles: base64 of each tombstone file, in Tombstones' order.
	TombstoneFiles [][]byte `json:"tombstone_files"`
}

func TestBackupVectorsV2(t *testing.T) {
	ctx := context.Background()
	if os.Getenv("LOCAL_UPDATE_TESTDATA") == "1" {
		bv2Write(t)
	}
	raw, err := os.ReadFile(bv2Vector)
	require.NoError(t, err)
	var v bv2VectorFile
	require.NoError(t, json.Unmarshal(raw, &v))
	require.NotEmpty(t, v.Tombstones)
	bundle, err := os.ReadFile(bv2Bundle)
	require.NoError(t, err)

	// The API: a copy of the source directory (without the tombstone)
	// gets the tombstone added and finds every key unchanged.
	dir := fvCopy(t, v.SourceDir)
	b := openTest(t, Config{Dir: dir, MasterKey: []byte(v.MasterKey)})
	pl, err := b.RestorePlan(ctx, bytes.NewReader(bundle), []byte(v.BackupSecret))
	require.NoError(t, err)
	require.Equal(t, 2, pl.Bundle.FormatVersion)
	require.Equal(t, v.BundleID, pl.Bundle.BundleID)
	require.Equal(t, v.KeyIDs, pl.Unchanged)
	require.Equal(t, v.Tombstones, pl.AddTombstones)
	require.Empty(t, pl.Add)
	require.Empty(t, pl.Deleted)

	// A new directory: every key and the tombstone come back, and the
	// purged id cannot be created there.
	fresh := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, RestoreHeader(ctx, fresh, bytes.NewReader(bundle), []byte(v.BackupSecret), nil))
	nb := openTest(t, Config{Dir: fresh, MasterKey: []byte(v.MasterKey)})
	res, err := nb.Restore(ctx, bytes.NewReader(bundle), []byte(v.BackupSecret), backend.RestoreOptions{BundleID: v.BundleID, Conflict: backend.ConflictFail})
	require.NoError(t, err)
	require.Equal(t, v.KeyIDs, res.Added)
	require.Equal(t, v.Tombstones, res.TombstonesAdded)
	for i, id := range v.Tombstones {
		got, err := os.ReadFile(filepath.Join(fresh, id+".deleted"))
		require.NoError(t, err)
		require.Equal(t, v.TombstoneFiles[i], got)
		_, err = nb.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id})
		require.ErrorIs(t, err, backend.ErrKeyDeleted)
	}

	// The reference decoder, from BACKUP_FORMAT.md alone.
	_, _, pt := bvOpen(t, v.bvVectorFile, bundle, 2)
	var payload struct {
		Format string `json:"format"`
		Keys   []struct {
			KeyID string `json:"key_id"`
		} `json:"keys"`
		Tombstones []struct {
			KeyID string `json:"key_id"`
			File  []byte `json:"file"`
		} `json:"tombstones"`
	}
	require.NoError(t, json.Unmarshal(pt, &payload))
	require.Equal(t, "envkms-local-backup-payload", payload.Format)
	require.Len(t, payload.Keys, len(v.KeyIDs))
	require.Len(t, payload.Tombstones, len(v.Tombstones))
	for i, ts := range payload.Tombstones {
		require.Equal(t, v.Tombstones[i], ts.KeyID)
		require.Equal(t, v.TombstoneFiles[i], ts.File)
		var tf map[string]any
		require.NoError(t, json.Unmarshal(ts.File, &tf))
		require.Equal(t, "envkms-local-tombstone", tf["format"])
		require.Equal(t, ts.KeyID, tf["key_id"])
	}
}

func bv2Write(t *testing.T) {
	t.Helper()
	for _, p := range []string{bv2Bundle, bv2Vector} {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("%s exists: backup vectors are written once", p)
		}
	}
	ctx := context.Background()
	const source = "keydir-v1-sealed"
	dir := fvCopy(t, source)
	b := openTest(t, Config{Dir: dir, MasterKey: []byte(fvMasterKey), Now: func() time.Time { return fvEpoch }})
	const purged = "purged-key"
	deletion := fvEpoch.Add(-time.Hour)
	require.NoError(t, b.writeTombstone(&keyFile{KeyID: purged, DeletionDate: &deletion}))
	const secret = "envkms local backup test-vector secret (public, never use it)"
	var buf bytes.Buffer
	info, err := b.backup(ctx, &buf, []byte(secret), fvKDF)
	require.NoError(t, err)
	bf, _, err := openBundle(ctx, bytes.NewReader(buf.Bytes()), []byte(secret), DefaultMaxKDFParams())
	require.NoError(t, err)
	key, check, err := bundleKeys([]byte(secret), bf.KDF)
	require.NoError(t, err)
	ts, err := os.ReadFile(filepath.Join(dir, purged+".deleted"))
	require.NoError(t, err)
	v := bv2VectorFile{
		bvVectorFile: bvVectorFile{
			Comment:   "Test vector of the local backend's backup bundle, version 2 (local/BACKUP_FORMAT.md): a bundle of testdata/keydir-v1-sealed and the tombstone of purged-key. Every secret is public: never use it.",
			SourceDir: source, MasterKey: fvMasterKey, BackupSecret: secret, BundleID: info.BundleID,
			BundleKey: hex.EncodeToString(key), Check: hex.EncodeToString(check),
		},
		Tombstones: []string{purged}, TombstoneFiles: [][]byte{ts},
	}
	for _, k := range info.Keys {
		v.KeyIDs = append(v.KeyIDs, k.KeyID)
	}
	out, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(bv2Dir, 0o755))
	require.NoError(t, os.WriteFile(bv2Bundle, buf.Bytes(), 0o644))
	require.NoError(t, os.WriteFile(bv2Vector, append(out, '\n'), 0o644))
}
