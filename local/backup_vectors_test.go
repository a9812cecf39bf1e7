package local

// The test vector of the backup bundle format (BACKUP_FORMAT.md):
// testdata/backup-v1/bundle.json, a bundle of testdata/keydir-v1-sealed
// written once by the version-1 code, and testdata/backup-v1/vector.json
// with the (public) backup secret and the values derived from it. Written
// once by
//
//	LOCAL_UPDATE_TESTDATA=1 go test -run TestBackupVectors ./local/
//
// which refuses to overwrite them.

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"

	"github.com/envkms/kms/backend"
)

const (
	bvDir    = "testdata/backup-v1"
	bvBundle = bvDir + "/bundle.json"
	bvVector = bvDir + "/vector.json"
)

type bvVectorFile struct {
	Comment      string   `json:"comment"`
	SourceDir    string   `json:"source_dir"`
	MasterKey    string   `json:"master_key"`
	BackupSecret string   `json:"backup_secret"`
	BundleID     string   `json:"bundle_id"`
	BundleKey    string   `json:"bundle_key"` // hex
	Check        string   `json:"check"`      // hex
	KeyIDs       []string `json:"key_ids"`
}

func TestBackupVectors(t *testing.T) {
	ctx := context.Background()
	if os.Getenv("LOCAL_UPDATE_TESTDATA") == "1" {
		bvWrite(t)
	}
	raw, err := os.ReadFile(bvVector)
	require.NoError(t, err)
	var v bvVectorFile
	require.NoError(t, json.Unmarshal(raw, &v))
	bundle, err := os.ReadFile(bvBundle)
	require.NoError(t, err)

	// The API: a copy of the source directory finds every key unchanged.
	dir := fvCopy(t, v.SourceDir)
	b := openTest(t, Config{Dir: dir, MasterKey: []byte(v.MasterKey)})
	pl, err := b.RestorePlan(ctx, bytes.NewReader(bundle), []byte(v.BackupSecret))
	require.NoError(t, err)
	require.Equal(t, v.BundleID, pl.Bundle.BundleID)
	require.Equal(t, v.KeyIDs, pl.Unchanged)
	require.Empty(t, pl.Add)
	require.Empty(t, pl.Conflicts)
	_, err = b.RestorePlan(ctx, bytes.NewReader(bundle), []byte(v.BackupSecret+"x"))
	require.ErrorIs(t, err, backend.ErrWrongBackupSecret)

	// A new directory prepared with RestoreHeader gets every key back.
	fresh := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, RestoreHeader(ctx, fresh, bytes.NewReader(bundle), []byte(v.BackupSecret), nil))
	nb := openTest(t, Config{Dir: fresh, MasterKey: []byte(v.MasterKey)})
	res, err := nb.Restore(ctx, bytes.NewReader(bundle), []byte(v.BackupSecret), backend.RestoreOptions{BundleID: v.BundleID, Conflict: backend.ConflictFail})
	require.NoError(t, err)
	require.Equal(t, v.KeyIDs, res.Added)
	for _, id := range v.KeyIDs {
		want, err := os.ReadFile(filepath.Join("testdata", v.SourceDir, id+".json"))
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(fresh, id+".json"))
		require.NoError(t, err)
		require.Equal(t, want, got, id)
	}

	// The reference decoder, from BACKUP_FORMAT.md alone.
	outer, root, pt := bvOpen(t, v, bundle, 1)
	check, err := hkdf.Key(sha256.New, root, nil, "envkms/local/backup/v1/check", 16)
	require.NoError(t, err)
	require.Equal(t, v.Check, hex.EncodeToString(check))
	require.Equal(t, check, bvB64(t, outer["check"]))
	var payload struct {
		Format     string `json:"format"`
		Protection string `json:"protection"`
		Header     []byte `json:"header"`
		Keys       []struct {
			KeyID    string `json:"key_id"`
			State    string `json:"state"`
			Versions int    `json:"versions"`
			SHA256   string `json:"sha256"`
			File     []byte `json:"file"`
		} `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(pt, &payload))
	require.Equal(t, "envkms-local-backup-payload", payload.Format)
	require.Equal(t, "argon2id+aes-256-gcm", payload.Protection)
	hdr, err := os.ReadFile(filepath.Join("testdata", v.SourceDir, ".keydir.json"))
	require.NoError(t, err)
	require.Equal(t, hdr, payload.Header)
	require.Len(t, payload.Keys, len(v.KeyIDs))
	for i, k := range payload.Keys {
		require.Equal(t, v.KeyIDs[i], k.KeyID)
		want, err := os.ReadFile(filepath.Join("testdata", v.SourceDir, k.KeyID+".json"))
		require.NoError(t, err)
		require.Equal(t, want, k.File)
		sum := sha256.Sum256(want)
		require.Equal(t, hex.EncodeToString(sum[:]), k.SHA256)
	}
}

// bvOpen is the reference decoder of BACKUP_FORMAT.md, written from the
// document alone: it checks the outer format and version, derives the
// bundle key from v's backup secret (and checks it against the vector) and
// opens the payload. It returns the outer object, the Argon2id root key and
// the payload.
func bvOpen(t *testing.T, v bvVectorFile, bundle []byte, version int) (outer map[string]any, root, pt []byte) {
	t.Helper()
	require.NoError(t, json.Unmarshal(bundle, &outer))
	require.Equal(t, "envkms-local-backup", outer["format"])
	require.Equal(t, float64(version), outer["format_version"])
	kdf := outer["kdf"].(map[string]any)
	root = argon2.IDKey([]byte(v.BackupSecret), bvB64(t, kdf["salt"]), uint32(kdf["time"].(float64)), uint32(kdf["memory_kib"].(float64)), uint8(kdf["threads"].(float64)), 32)
	key, err := hkdf.Key(sha256.New, root, nil, "envkms/local/backup/v1/bundle-key", 32)
	require.NoError(t, err)
	require.Equal(t, v.BundleKey, hex.EncodeToString(key))
	var compact bytes.Buffer
	require.NoError(t, json.Compact(&compact, bundle))
	c := compact.Bytes()
	cut := bytes.LastIndex(c, []byte(`,"ciphertext":`))
	require.Positive(t, cut)
	aad := append([]byte("envkms/local/backup/v1/bundle\x00"), c[:cut]...)
	aad = append(aad, '}')
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)
	pt, err = gcm.Open(nil, bvB64(t, outer["nonce"]), bvB64(t, outer["ciphertext"]), aad)
	require.NoError(t, err)
	return outer, root, pt
}

// bvB64 decodes a base64 member of a decoded bundle.
func bvB64(t *testing.T, s any) []byte {
	t.Helper()
	out, err := base64.StdEncoding.DecodeString(s.(string))
	require.NoError(t, err)
	return out
}

func bvWrite(t *testing.T) {
	t.Helper()
	for _, p := range []string{bvBundle, bvVector} {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("%s exists: backup vectors are written once", p)
		}
	}
	ctx := context.Background()
	const source = "keydir-v1-sealed"
	dir := fvCopy(t, source)
	b := openTest(t, Config{Dir: dir, MasterKey: []byte(fvMasterKey), Now: func() time.Time { return fvEpoch }})
	const secret = "envkms local backup test-vector secret (public, never use it)"
	var buf bytes.Buffer
	info, err := b.backup(ctx, &buf, []byte(secret), fvKDF)
	require.NoError(t, err)
	bf, _, err := openBundle(ctx, bytes.NewReader(buf.Bytes()), []byte(secret), DefaultMaxKDFParams())
	require.NoError(t, err)
	key, check, err := bundleKeys([]byte(secret), bf.KDF)
	require.NoError(t, err)
	v := bvVectorFile{
		Comment:   "Test vector of the local backend's backup bundle, version 1 (local/BACKUP_FORMAT.md): a bundle of testdata/keydir-v1-sealed. Every secret is public: never use it.",
		SourceDir: source, MasterKey: fvMasterKey, BackupSecret: secret, BundleID: info.BundleID,
		BundleKey: hex.EncodeToString(key), Check: hex.EncodeToString(check),
	}
	for _, k := range info.Keys {
		v.KeyIDs = append(v.KeyIDs, k.KeyID)
	}
	out, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(bvDir, 0o755))
	require.NoError(t, os.WriteFile(bvBundle, buf.Bytes(), 0o644))
	require.NoError(t, os.WriteFile(bvVector, append(out, '\n'), 0o644))
}
