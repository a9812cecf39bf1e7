package local

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/backend"
)

// TestDestroyKeyVersions: the destroyed versions' material leaves the key
// file (sealed and insecure directories), another Backend on the directory
// stops decrypting under them within revalidateAfter, the file still loads, backs up and
// restores, and a hand-made file destroying the newest version or a
// non-prefix is corrupt.
func TestDestroyKeyVersions(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range map[string]func(dir string) Config{
		"sealed":   testConfig,
		"insecure": func(dir string) Config { return Config{Dir: dir, InsecurePlaintext: true} },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			a := openTest(t, cfg(dir))
			other := openTest(t, cfg(dir))
			mustCreate(t, a, "k")
			var dks []backend.DataKey
			for v := 1; v <= 3; v++ {
				if v > 1 {
					_, err := a.RotateKey(ctx, "k")
					require.NoError(t, err)
				}
				dks = append(dks, mustGenerate(t, a, "k", nil))
			}
			_, err := other.Decrypt(ctx, dks[0].Ciphertext, nil) // cached by the other Backend
			require.NoError(t, err)
			before, err := os.ReadFile(filepath.Join(dir, "k.json"))
			require.NoError(t, err)

			md, err := a.DestroyKeyVersions(ctx, "k", 3)
			require.NoError(t, err)
			require.Equal(t, 3, md.Version)
			time.Sleep(revalidateAfter + 10*time.Millisecond) // the other Backend's bound
			for bi, b := range []*Backend{a, other} {
				for _, dk := range dks[:2] {
					_, err := b.Decrypt(ctx, dk.Ciphertext, nil)
					require.ErrorIs(t, err, backend.ErrInvalidCiphertext, "backend %d", bi)
				}
				_, err := b.Decrypt(ctx, dks[2].Ciphertext, nil)
				require.NoError(t, err)
			}
			raw, err := os.ReadFile(filepath.Join(dir, "k.json"))
			require.NoError(t, err)
			var f map[string]any
			require.NoError(t, json.Unmarshal(raw, &f))
			vs := f["versions"].([]any)
			require.Len(t, vs, 3)
			for i, v := range vs {
				m := v.(map[string]any)
				require.Equal(t, i < 2, m["destroyed"] == true, "version %d", i+1)
				_, sealed := m["sealed"]
				_, plain := m["plaintext_key"]
				require.Equal(t, i == 2, sealed || plain, "version %d material", i+1)
			}
			var old map[string]any
			require.NoError(t, json.Unmarshal(before, &old))
			for _, v := range old["versions"].([]any)[:2] {
				for _, field := range []string{"sealed", "plaintext_key"} {
					if s, ok := v.(map[string]any)[field].(string); ok {
						require.NotContains(t, string(raw), s, "destroyed material still in the file")
					}
				}
			}
			// A new Backend loads it; backup and restore carry it.
			fresh := openTest(t, cfg(dir))
			_, err = fresh.Decrypt(ctx, dks[2].Ciphertext, nil)
			require.NoError(t, err)
			if name == "sealed" {
				var buf bytes.Buffer
				_, err = fresh.backup(ctx, &buf, testBackupSecret, testKDF)
				require.NoError(t, err)
				pl, err := fresh.RestorePlan(ctx, bytes.NewReader(buf.Bytes()), testBackupSecret)
				require.NoError(t, err)
				require.Equal(t, []string{"k"}, pl.Unchanged)
			}
			// Again: a no-op.
			_, err = a.DestroyKeyVersions(ctx, "k", 2)
			require.NoError(t, err)
		})
	}
}

// TestDestroyedVersionFileChecks: the reader refuses destroyed versions
// that are not an old prefix (insecure directory: no MAC to forge).
func TestDestroyedVersionFileChecks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := openTest(t, Config{Dir: dir, InsecurePlaintext: true})
	mustCreate(t, b, "k")
	for range 2 {
		_, err := b.RotateKey(ctx, "k")
		require.NoError(t, err)
	}
	path := filepath.Join(dir, "k.json")
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	for name, edit := range map[string]func(vs []any){
		"newest":     func(vs []any) { destroyV(vs[2]) },
		"not prefix": func(vs []any) { destroyV(vs[1]) },
		"material":   func(vs []any) { vs[0].(map[string]any)["destroyed"] = true },
	} {
		var f map[string]any
		require.NoError(t, json.Unmarshal(good, &f))
		edit(f["versions"].([]any))
		raw, err := json.MarshalIndent(f, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, raw, 0o600))
		nb := openTest(t, Config{Dir: dir, InsecurePlaintext: true})
		_, err = nb.DescribeKey(ctx, "k")
		require.Error(t, err, name)
		require.NotErrorIs(t, err, backend.ErrKeyNotFound, name)
	}
}

func destroyV(v any) {
	m := v.(map[string]any)
	m["destroyed"] = true
	delete(m, "plaintext_key")
	delete(m, "sealed")
}
