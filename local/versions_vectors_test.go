package local

// The test vector of a key file with a destroyed version (FORMAT.md):
// testdata/keydir-v1-destroyed/vector-key.json is
// testdata/keydir-v1-sealed/vector-key.json after DestroyKeyVersions(2).
// No randomness goes into it, so the test also rebuilds it and compares
// bytes. Written once by
//
//	LOCAL_UPDATE_TESTDATA=1 go test -run TestDestroyedVersionVector ./local/

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/backend"
)

const dvFile = "testdata/keydir-v1-destroyed/vector-key.json"

func TestDestroyedVersionVector(t *testing.T) {
	ctx := context.Background()
	vs := fvLoad(t)
	var kd fvKeyDir
	for _, k := range vs.KeyDirs {
		if k.Dir == "keydir-v1-sealed" {
			kd = k
		}
	}
	require.NotEmpty(t, kd.Dir)

	// Rebuild: the sealed vector directory, version 1 of vector-key
	// destroyed.
	dir := fvCopy(t, kd.Dir)
	b := openTest(t, fvConfig(kd, dir))
	_, err := b.DestroyKeyVersions(ctx, "vector-key", 2)
	require.NoError(t, err)
	rebuilt, err := os.ReadFile(filepath.Join(dir, "vector-key.json"))
	require.NoError(t, err)
	if os.Getenv("LOCAL_UPDATE_TESTDATA") == "1" {
		if _, err := os.Stat(dvFile); err != nil {
			require.NoError(t, os.MkdirAll(filepath.Dir(dvFile), 0o755))
			require.NoError(t, os.WriteFile(dvFile, rebuilt, 0o644))
		}
	}
	pinned, err := os.ReadFile(dvFile)
	require.NoError(t, err)
	require.Equal(t, string(pinned), string(rebuilt), "DestroyKeyVersions no longer writes the pinned file")

	// Today's code reads the pinned file: version 2's data keys decrypt,
	// version 1's are refused.
	dir2 := fvCopy(t, kd.Dir)
	require.NoError(t, os.WriteFile(filepath.Join(dir2, "vector-key.json"), pinned, 0o600))
	b2 := openTest(t, fvConfig(kd, dir2))
	md, err := b2.DescribeKey(ctx, "vector-key")
	require.NoError(t, err)
	require.Equal(t, 2, md.Version)
	seen := map[int]bool{}
	for _, dk := range kd.DataKeys {
		if dk.KeyID != "vector-key" {
			continue
		}
		got, err := b2.Decrypt(ctx, fvUnhex(t, dk.Ciphertext), backend.EncryptionContext(dk.Context))
		if dk.Version == 1 {
			require.ErrorIs(t, err, backend.ErrInvalidCiphertext, dk.Name)
		} else {
			require.NoError(t, err, dk.Name)
			require.Equal(t, dk.Plaintext, hex.EncodeToString(got.Plaintext))
		}
		seen[dk.Version] = true
	}
	require.True(t, seen[1] && seen[2], "the vectors have data keys under both versions")

	// From FORMAT.md: the MAC covers the destroyed flag, version 1 has no
	// material, version 2 is the sealed file's.
	hdr := map[string]any{}
	raw, err := os.ReadFile(filepath.Join("testdata", kd.Dir, ".keydir.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &hdr))
	_, _, macKey := fvRefKeys(t, hdr, kd.MasterKey)
	input, mac := fvRefMACInput(t, pinned)
	h := hmac.New(sha256.New, macKey)
	h.Write([]byte("envkms/local/v1/key-file\x00"))
	h.Write(input)
	require.Equal(t, mac, h.Sum(nil))
	var f map[string]any
	require.NoError(t, json.Unmarshal(pinned, &f))
	versions := f["versions"].([]any)
	require.Len(t, versions, 2)
	v1, v2 := versions[0].(map[string]any), versions[1].(map[string]any)
	require.Equal(t, true, v1["destroyed"])
	require.Nil(t, v1["sealed"])
	orig, err := os.ReadFile(filepath.Join("testdata", kd.Dir, "vector-key.json"))
	require.NoError(t, err)
	var of map[string]any
	require.NoError(t, json.Unmarshal(orig, &of))
	require.Equal(t, of["versions"].([]any)[1].(map[string]any)["sealed"], v2["sealed"])
	require.Nil(t, v2["destroyed"])
}
