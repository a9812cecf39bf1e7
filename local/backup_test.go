package local

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/backend"
)

var testBackupSecret = []byte("backup secret for tests, 0123456789")

func mustBackup(t *testing.T, b *Backend) ([]byte, backend.BackupInfo) {
	t.Helper()
	var buf bytes.Buffer
	info, err := b.backup(context.Background(), &buf, testBackupSecret, testKDF)
	require.NoError(t, err)
	require.Equal(t, int64(buf.Len()), info.Size)
	return buf.Bytes(), info
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if id, ok := keyIDFromName(e.Name()); ok {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			require.NoError(t, err)
			out[id] = data
		}
	}
	return out
}

// backupScenario: k1 (rotated after the backup: the bundle is older), k2
// (disabled after it), k3 (its file lost after it), k4 (created after it),
// k5 (unchanged).
func backupScenario(t *testing.T) (dir string, b *Backend, bundle []byte, info backend.BackupInfo, dks map[string]backend.DataKey) {
	t.Helper()
	ctx := context.Background()
	dir = t.TempDir()
	b = openTest(t, testConfig(dir))
	dks = map[string]backend.DataKey{}
	for _, id := range []string{"k1", "k2", "k3", "k5"} {
		mustCreate(t, b, id)
		dks[id] = mustGenerate(t, b, id, nil)
	}
	bundle, info = mustBackup(t, b)
	_, err := b.RotateKey(ctx, "k1")
	require.NoError(t, err)
	require.NoError(t, b.DisableKey(ctx, "k2"))
	require.NoError(t, os.Remove(filepath.Join(dir, "k3.json")))
	mustCreate(t, b, "k4")
	return dir, b, bundle, info, dks
}

func TestBackupRestorePlanAndPolicies(t *testing.T) {
	ctx := context.Background()
	_, b, bundle, info, dks := backupScenario(t)
	require.Len(t, info.BundleID, 32)
	require.Equal(t, "envkms-local-backup", info.Format)
	require.Equal(t, 2, info.FormatVersion)
	ids := []string{}
	for _, k := range info.Keys {
		ids = append(ids, k.KeyID)
	}
	require.Equal(t, []string{"k1", "k2", "k3", "k5"}, ids)

	pl, err := b.RestorePlan(ctx, bytes.NewReader(bundle), testBackupSecret)
	require.NoError(t, err)
	require.Equal(t, info.BundleID, pl.Bundle.BundleID)
	require.Equal(t, []string{"k3"}, pl.Add)
	require.Equal(t, []string{"k5"}, pl.Unchanged)
	require.Equal(t, []string{"k4"}, pl.OnlyInStore)
	require.Len(t, pl.Conflicts, 2)
	c1, c2 := pl.Conflicts[0], pl.Conflicts[1]
	require.Equal(t, "k1", c1.KeyID)
	require.True(t, c1.BundleOlder)
	require.Equal(t, 1, c1.Bundle.Versions)
	require.Equal(t, 2, c1.Current.Versions)
	require.Equal(t, "k2", c2.KeyID)
	require.False(t, c2.BundleOlder)
	require.Equal(t, backend.KeyStateEnabled, c2.Bundle.State)
	require.Equal(t, backend.KeyStateDisabled, c2.Current.State)

	// The dry run changed nothing.
	_, err = os.Stat(filepath.Join(b.dir, "k3.json"))
	require.ErrorIs(t, err, os.ErrNotExist)

	// fail: aborts, nothing written.
	_, err = b.Restore(ctx, bytes.NewReader(bundle), testBackupSecret, backend.RestoreOptions{BundleID: info.BundleID, Conflict: backend.ConflictFail})
	require.ErrorIs(t, err, backend.ErrRestoreConflict)
	_, err = os.Stat(filepath.Join(b.dir, "k3.json"))
	require.ErrorIs(t, err, os.ErrNotExist)

	// skip: adds k3, keeps k1 and k2.
	res, err := b.Restore(ctx, bytes.NewReader(bundle), testBackupSecret, backend.RestoreOptions{BundleID: info.BundleID, Conflict: backend.ConflictSkip})
	require.NoError(t, err)
	require.Equal(t, []string{"k3"}, res.Added)
	require.Equal(t, []string{}, res.Replaced)
	require.Equal(t, []string{"k1", "k2"}, res.Skipped)
	md, err := b.DescribeKey(ctx, "k1")
	require.NoError(t, err)
	require.Equal(t, 2, md.Version)
	out, err := b.Decrypt(ctx, dks["k3"].Ciphertext, nil)
	require.NoError(t, err)
	require.Equal(t, dks["k3"].Plaintext, out.Plaintext)

	// fail now passes? No: k1 and k2 still conflict.
	_, err = b.Restore(ctx, bytes.NewReader(bundle), testBackupSecret, backend.RestoreOptions{BundleID: info.BundleID, Conflict: backend.ConflictFail})
	require.ErrorIs(t, err, backend.ErrRestoreConflict)

	// replace: the bundle wins, even for k1 with fewer versions.
	res, err = b.Restore(ctx, bytes.NewReader(bundle), testBackupSecret, backend.RestoreOptions{BundleID: info.BundleID, Conflict: backend.ConflictReplace})
	require.NoError(t, err)
	require.Equal(t, []string{}, res.Added)
	require.Equal(t, []string{"k1", "k2"}, res.Replaced)
	md, err = b.DescribeKey(ctx, "k1")
	require.NoError(t, err)
	require.Equal(t, 1, md.Version)
	md, err = b.DescribeKey(ctx, "k2")
	require.NoError(t, err)
	require.Equal(t, backend.KeyStateEnabled, md.State)
	_, err = b.DescribeKey(ctx, "k4")
	require.NoError(t, err, "keys only in the directory are kept")
	for id, dk := range dks {
		out, err := b.Decrypt(ctx, dk.Ciphertext, nil)
		require.NoError(t, err, id)
		require.Equal(t, dk.Plaintext, out.Plaintext)
	}
	// Now everything matches: fail succeeds and writes nothing.
	res, err = b.Restore(ctx, bytes.NewReader(bundle), testBackupSecret, backend.RestoreOptions{BundleID: info.BundleID, Conflict: backend.ConflictFail})
	require.NoError(t, err)
	require.Equal(t, []string{"k1", "k2", "k3", "k5"}, res.Plan.Unchanged)
	require.Empty(t, tempFiles(t, b.dir))
}

func TestRestoreRefusals(t *testing.T) {
	ctx := context.Background()
	_, b, bundle, info, _ := backupScenario(t)
	ok := backend.RestoreOptions{BundleID: info.BundleID, Conflict: backend.ConflictReplace}

	_, err := b.RestorePlan(ctx, bytes.NewReader(bundle), []byte("another secret, long enough"))
	require.ErrorIs(t, err, backend.ErrWrongBackupSecret)
	_, err = b.Restore(ctx, bytes.NewReader(bundle), []byte("another secret, long enough"), ok)
	require.ErrorIs(t, err, backend.ErrWrongBackupSecret)
	_, err = b.RestorePlan(ctx, bytes.NewReader(bundle), []byte("short"))
	require.ErrorIs(t, err, backend.ErrInvalidArgument)
	var buf bytes.Buffer
	_, err = b.Backup(ctx, &buf, []byte("short"))
	require.ErrorIs(t, err, backend.ErrInvalidArgument)

	_, err = b.Restore(ctx, bytes.NewReader(bundle), testBackupSecret, backend.RestoreOptions{BundleID: strings.Repeat("0", 32), Conflict: backend.ConflictReplace})
	require.ErrorIs(t, err, backend.ErrBundleIDMismatch)
	_, err = b.Restore(ctx, bytes.NewReader(bundle), testBackupSecret, backend.RestoreOptions{Conflict: backend.ConflictReplace})
	require.ErrorIs(t, err, backend.ErrBundleIDMismatch)
	_, err = b.Restore(ctx, bytes.NewReader(bundle), testBackupSecret, backend.RestoreOptions{BundleID: info.BundleID, Conflict: "merge"})
	require.ErrorIs(t, err, backend.ErrInvalidArgument)
	_, err = b.Restore(ctx, bytes.NewReader(bundle), testBackupSecret, backend.RestoreOptions{BundleID: info.BundleID})
	require.ErrorIs(t, err, backend.ErrInvalidArgument)

	// Tampering: every member of the bundle, and its ciphertext.
	var raw map[string]any
	require.NoError(t, json.Unmarshal(bundle, &raw))
	edit := func(f func(m map[string]any)) []byte {
		m := map[string]any{}
		require.NoError(t, json.Unmarshal(bundle, &m))
		f(m)
		out, err := json.Marshal(m)
		require.NoError(t, err)
		return out
	}
	ct := raw["ciphertext"].(string)
	flipped := []byte(ct)
	if flipped[10] == 'A' {
		flipped[10] = 'B'
	} else {
		flipped[10] = 'A'
	}
	tampered := map[string][]byte{
		"ciphertext":    edit(func(m map[string]any) { m["ciphertext"] = string(flipped) }),
		"bundle_id":     edit(func(m map[string]any) { m["bundle_id"] = strings.Repeat("ab", 16) }),
		"creation_date": edit(func(m map[string]any) { m["creation_date"] = "2020-01-01T00:00:00Z" }),
		"nonce":         edit(func(m map[string]any) { m["nonce"] = "AAAAAAAAAAAAAAAA" }),
		"version":       edit(func(m map[string]any) { m["format_version"] = 3 }),
		"version 1":     edit(func(m map[string]any) { m["format_version"] = 1 }),
		"unknown":       edit(func(m map[string]any) { m["extra"] = 1 }),
		"truncated":     bundle[:len(bundle)/2],
		"empty":         nil,
	}
	for name, tb := range tampered {
		_, err := b.RestorePlan(ctx, bytes.NewReader(tb), testBackupSecret)
		require.ErrorIs(t, err, backend.ErrInvalidBundle, name)
		_, err = b.Restore(ctx, bytes.NewReader(tb), testBackupSecret, ok)
		require.ErrorIs(t, err, backend.ErrInvalidBundle, name)
	}
	// Altered KDF parameters or salt derive another key: the check value
	// says wrong secret (as the directory's verifier says wrong master key).
	salt := edit(func(m map[string]any) { m["kdf"].(map[string]any)["salt"] = strings.Repeat("A", 43) + "=" })
	_, err = b.RestorePlan(ctx, bytes.NewReader(salt), testBackupSecret)
	require.ErrorIs(t, err, backend.ErrWrongBackupSecret)
	costly := edit(func(m map[string]any) { m["kdf"].(map[string]any)["memory_kib"] = 4 << 20 })
	_, err = b.RestorePlan(ctx, bytes.NewReader(costly), testBackupSecret)
	require.ErrorIs(t, err, ErrKDFTooCostly)
	require.Empty(t, tempFiles(t, b.dir))
}

// TestRestoreOtherDirectory: a bundle restores only into its own key
// directory (same header, so same master key), or into a new one prepared
// with RestoreHeader.
func TestRestoreOtherDirectory(t *testing.T) {
	ctx := context.Background()
	_, _, bundle, info, dks := backupScenario(t)

	other := openTest(t, testConfig(t.TempDir()))
	_, err := other.RestorePlan(ctx, bytes.NewReader(bundle), testBackupSecret)
	require.ErrorIs(t, err, backend.ErrBundleMismatch)
	insecure := openTest(t, Config{Dir: t.TempDir(), InsecurePlaintext: true})
	_, err = insecure.RestorePlan(ctx, bytes.NewReader(bundle), testBackupSecret)
	require.ErrorIs(t, err, backend.ErrBundleMismatch)

	fresh := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, RestoreHeader(ctx, fresh, bytes.NewReader(bundle), testBackupSecret, nil))
	require.ErrorIs(t, RestoreHeader(ctx, fresh, bytes.NewReader(bundle), testBackupSecret, nil), backend.ErrInvalidArgument)
	cfg := testConfig(fresh)
	cfg.MasterKey = []byte("not the master key of the bundle's directory")
	_, err = New(ctx, cfg)
	require.ErrorIs(t, err, ErrWrongMasterKey)
	nb := openTest(t, testConfig(fresh))
	res, err := nb.Restore(ctx, bytes.NewReader(bundle), testBackupSecret, backend.RestoreOptions{BundleID: info.BundleID, Conflict: backend.ConflictFail})
	require.NoError(t, err)
	require.Equal(t, []string{"k1", "k2", "k3", "k5"}, res.Added)
	for id, dk := range dks {
		out, err := nb.Decrypt(ctx, dk.Ciphertext, nil)
		require.NoError(t, err, id)
		require.Equal(t, dk.Plaintext, out.Plaintext)
	}
}

// TestBackupInsecureAndLeak: a bundle of an insecure directory carries the
// plaintext key files, encrypted; no bundle shows key material, sealed or
// not, or the secret, and no log line does either.
func TestBackupInsecureAndLeak(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	for _, insecure := range []bool{false, true} {
		dir := t.TempDir()
		cfg := testConfig(dir)
		if insecure {
			cfg = Config{Dir: dir, InsecurePlaintext: true}
		}
		cfg.Logger = newTextLogger(&logs)
		b := openTest(t, cfg)
		mustCreate(t, b, "k1")
		_, err := b.RotateKey(ctx, "k1")
		require.NoError(t, err)
		bundle, info := mustBackup(t, b)
		f, err := b.readKeyFile("k1")
		require.NoError(t, err)
		for _, v := range f.Versions {
			for _, secret := range [][]byte{v.Sealed, v.Plaintext} {
				if secret != nil {
					require.NotContains(t, string(bundle), string(jsonB64(t, secret)))
					require.NotContains(t, logs.String(), string(jsonB64(t, secret)))
				}
			}
		}
		f.wipe()
		require.NotContains(t, string(bundle), string(testBackupSecret))
		pl, err := b.RestorePlan(ctx, bytes.NewReader(bundle), testBackupSecret)
		require.NoError(t, err)
		require.Equal(t, []string{"k1"}, pl.Unchanged)
		_, err = b.Restore(ctx, bytes.NewReader(bundle), testBackupSecret, backend.RestoreOptions{BundleID: info.BundleID, Conflict: backend.ConflictFail})
		require.NoError(t, err)
		_, err = b.RestorePlan(ctx, bytes.NewReader(bundle), []byte("the wrong backup secret"))
		require.Error(t, err)
		require.NotContains(t, err.Error(), "the wrong backup secret")
	}
	require.Contains(t, logs.String(), "backup written")
	require.NotContains(t, logs.String(), string(testBackupSecret))
}

func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func jsonB64(t *testing.T, b []byte) []byte {
	t.Helper()
	out, err := json.Marshal(b)
	require.NoError(t, err)
	return bytes.Trim(out, `"`)
}

// TestCrashDuringRestore crashes a replace-restore after each of its steps
// (every staged file, every rename, the directory fsync) and checks that a
// fresh Backend then finds each key file either as it was or as the bundle
// has it, and verifying; that nothing changed before the first rename; and
// that restoring again completes.
func TestCrashDuringRestore(t *testing.T) {
	ctx := context.Background()
	// Count the steps of one uninterrupted restore.
	countSteps := func() int {
		dir, _, bundle, info, _ := backupScenario(t)
		n := 0
		cfg := testConfig(dir)
		cfg.testHook = func(string) error { n++; return nil }
		b := openTest(t, cfg)
		_, err := b.Restore(ctx, bytes.NewReader(bundle), testBackupSecret, backend.RestoreOptions{BundleID: info.BundleID, Conflict: backend.ConflictReplace})
		require.NoError(t, err)
		return n
	}
	total := countSteps()
	require.Equal(t, 3+3+1, total, "k1, k2, k3: staged, renamed; dirsync")
	for crashAfter := 1; crashAfter <= total; crashAfter++ {
		dir, _, bundle, info, dks := backupScenario(t)
		before := readDir(t, dir)
		var payload map[string][]byte
		{
			_, p, err := openBundle(ctx, bytes.NewReader(bundle), testBackupSecret, DefaultMaxKDFParams())
			require.NoError(t, err)
			payload = map[string][]byte{}
			for _, k := range p.Keys {
				payload[k.KeyID] = bytes.Clone(k.File)
			}
		}
		var seen []string
		n := 0
		cfg := testConfig(dir)
		cfg.testHook = func(s string) error {
			seen = append(seen, s)
			if n++; n == crashAfter {
				return errCrash
			}
			return nil
		}
		crashy := openTest(t, cfg)
		_, err := crashy.Restore(ctx, bytes.NewReader(bundle), testBackupSecret, backend.RestoreOptions{BundleID: info.BundleID, Conflict: backend.ConflictReplace})
		require.ErrorIs(t, err, errCrash, "crash after step %d", crashAfter)

		fresh := openTest(t, testConfig(dir))
		after := readDir(t, dir)
		changed := 0
		for id, data := range after {
			if !bytes.Equal(data, before[id]) {
				require.Equal(t, payload[id], data, "%s after crash at step %d (%v): neither old nor new", id, crashAfter, seen)
				changed++
			}
			_, err := fresh.DescribeKey(ctx, id)
			require.NoError(t, err, "%s after crash at step %d", id, crashAfter)
		}
		if seen[len(seen)-1] == stepRestoreStaged {
			require.Zero(t, changed, "nothing may change before the first rename")
			require.Len(t, after, len(before))
		}
		for id, dk := range dks {
			if _, ok := after[id]; !ok {
				continue // k3 not restored yet
			}
			out, err := fresh.Decrypt(ctx, dk.Ciphertext, nil)
			require.NoError(t, err, id)
			require.Equal(t, dk.Plaintext, out.Plaintext)
		}
		// Restoring again finishes the job.
		_, err = fresh.Restore(ctx, bytes.NewReader(bundle), testBackupSecret, backend.RestoreOptions{BundleID: info.BundleID, Conflict: backend.ConflictReplace})
		require.NoError(t, err)
		final := readDir(t, dir)
		for id, data := range payload {
			require.Equal(t, data, final[id], id)
		}
		require.Contains(t, final, "k4", "keys only in the directory are kept")
	}
}

// TestRestoreRepairsDamagedKeyFile: a key file that no longer loads is a
// conflict marked unreadable; skip keeps it, replace restores it.
func TestRestoreRepairsDamagedKeyFile(t *testing.T) {
	ctx := context.Background()
	dir, _, bundle, info, dks := backupScenario(t)
	path := filepath.Join(dir, "k5.json")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, bytes.Replace(data, []byte(`"Enabled"`), []byte(`"Disabled"`), 1), 0o600))
	b := openTest(t, testConfig(dir))
	_, err = b.DescribeKey(ctx, "k5")
	require.ErrorIs(t, err, ErrCorruptFile)

	pl, err := b.RestorePlan(ctx, bytes.NewReader(bundle), testBackupSecret)
	require.NoError(t, err)
	var k5 *backend.KeyConflict
	for i := range pl.Conflicts {
		if pl.Conflicts[i].KeyID == "k5" {
			k5 = &pl.Conflicts[i]
		}
	}
	require.NotNil(t, k5)
	require.True(t, k5.Unreadable)
	require.Zero(t, k5.Current.Versions)

	_, err = b.Restore(ctx, bytes.NewReader(bundle), testBackupSecret, backend.RestoreOptions{BundleID: info.BundleID, Conflict: backend.ConflictSkip})
	require.NoError(t, err)
	_, err = b.DescribeKey(ctx, "k5")
	require.ErrorIs(t, err, ErrCorruptFile)
	_, err = b.Restore(ctx, bytes.NewReader(bundle), testBackupSecret, backend.RestoreOptions{BundleID: info.BundleID, Conflict: backend.ConflictReplace})
	require.NoError(t, err)
	out, err := b.Decrypt(ctx, dks["k5"].Ciphertext, nil)
	require.NoError(t, err)
	require.Equal(t, dks["k5"].Plaintext, out.Plaintext)

	// A backup refuses a directory with a damaged key file, naming it.
	require.NoError(t, os.WriteFile(path, []byte("{}"), 0o600))
	var buf bytes.Buffer
	_, err = b.backup(ctx, &buf, testBackupSecret, testKDF)
	var fe *FileError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, path, fe.Path)
	require.Zero(t, buf.Len())
}

// TestRestoreWhileAnotherBackendWrites: restores and rotations through two
// Backends on one directory serialise on the directory lock; afterwards
// every key file verifies and is the bundle's or a later rotation of it.
func TestRestoreWhileAnotherBackendWrites(t *testing.T) {
	ctx := context.Background()
	dir, _, bundle, info, dks := backupScenario(t)
	other := openTest(t, testConfig(dir))
	restorer := openTest(t, testConfig(dir))
	done := make(chan error, 1)
	go func() {
		for range 5 {
			if _, err := restorer.Restore(ctx, bytes.NewReader(bundle), testBackupSecret, backend.RestoreOptions{BundleID: info.BundleID, Conflict: backend.ConflictReplace}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range 20 {
		if _, err := other.RotateKey(ctx, "k2"); err != nil {
			require.ErrorIs(t, err, backend.ErrKeyNotFound)
		}
	}
	require.NoError(t, <-done)
	fresh := openTest(t, testConfig(dir))
	for id, dk := range dks {
		out, err := fresh.Decrypt(ctx, dk.Ciphertext, nil)
		require.NoError(t, err, id)
		require.Equal(t, dk.Plaintext, out.Plaintext)
	}
	require.Empty(t, tempFiles(t, dir))
}
