package kms

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/envkms/kms/local"
	"github.com/stretchr/testify/require"
)

const testMasterKey = "test master key: 7f3a9c0e5b1d4a6f8e2c"

// fastKDF keeps Argon2id cheap in tests; a directory keeps the parameters it
// was created with, so the Manager opening it later uses them too.
var fastKDF = local.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

// newKeyDir creates a key directory sealed with masterKey and cheap KDF
// parameters, and returns its path.
func newKeyDir(t testing.TB, masterKey string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keys")
	b, err := local.New(context.Background(), local.Config{Dir: dir, MasterKey: []byte(masterKey), KDF: &fastKDF})
	require.NoError(t, err)
	require.NoError(t, b.Close())
	return dir
}

func localConfig(dir string) Config {
	c := DefaultConfig()
	c.BackendType = BackendLocal
	c.KeyDir = dir
	c.MasterKey = testMasterKey
	c.DefaultKeyID = "default"
	return c
}

// startLocal returns a Running Manager on a fresh local key dir with key
// "default".
func startLocal(t testing.TB, cfg Config, opts ...Option) *Manager {
	t.Helper()
	ctx := context.Background()
	m := NewManager(append([]Option{WithLogger(quietLogger())}, opts...)...)
	require.NoError(t, m.Configure(ctx, cfg))
	require.NoError(t, m.Start(ctx))
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	if _, err := m.DescribeKey(ctx, cfg.DefaultKeyID); err != nil {
		_, err = m.CreateKey(ctx, CreateKeyRequest{KeyID: cfg.DefaultKeyID})
		require.NoError(t, err)
	}
	return m
}

// copyDir copies the regular files of src into a new directory (a replica
// of the key directory, as restored from a backup).
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "replica")
	require.NoError(t, os.Mkdir(dst, 0o700))
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		in, err := os.Open(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		out, err := os.OpenFile(filepath.Join(dst, e.Name()), os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
		require.NoError(t, err)
		_, err = io.Copy(out, in)
		require.NoError(t, err)
		require.NoError(t, in.Close())
		require.NoError(t, out.Close())
	}
	return dst
}

func TestLocalStartChecksMasterKey(t *testing.T) {
	ctx := context.Background()
	dir := newKeyDir(t, testMasterKey)

	cfg := localConfig(dir)
	cfg.MasterKey = "not the master key"
	m := NewManager(WithLogger(quietLogger()))
	require.NoError(t, m.Configure(ctx, cfg))
	err := m.Start(ctx)
	require.ErrorIs(t, err, ErrWrongMasterKey)
	st := m.Status(ctx)
	require.Equal(t, StateError, st.State)
	require.Contains(t, st.Error, "wrong master key")
	require.NotContains(t, st.Error, "not the master key")

	// master_key_file: missing file → typed config error naming the field.
	missing := filepath.Join(t.TempDir(), "nope")
	require.NoError(t, m.Configure(ctx, func() Config { c := localConfig(dir); c.MasterKey = ""; c.MasterKeyFile = missing; return c }()))
	err = m.Start(ctx)
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "master_key_file", ce.Problems[0].Field)

	// master_key_file with a trailing newline works.
	f := filepath.Join(t.TempDir(), "mk")
	require.NoError(t, os.WriteFile(f, []byte(testMasterKey+"\n"), 0o600))
	require.NoError(t, m.Configure(ctx, func() Config { c := localConfig(dir); c.MasterKey = ""; c.MasterKeyFile = f; return c }()))
	require.NoError(t, m.Start(ctx))
	require.True(t, m.Status(ctx).Healthy)
	require.NoError(t, m.Stop(ctx))
}

func TestLocalKeyManagementDelegates(t *testing.T) {
	ctx := context.Background()
	m := startLocal(t, localConfig(newKeyDir(t, testMasterKey)))
	md, err := m.CreateKey(ctx, CreateKeyRequest{KeyID: "k1", Description: "d"})
	require.NoError(t, err)
	require.Equal(t, "k1", md.KeyID)
	_, err = m.CreateKey(ctx, CreateKeyRequest{KeyID: "k1"})
	require.ErrorIs(t, err, ErrKeyExists)
	res, err := m.ListKeys(ctx, ListKeysRequest{})
	require.NoError(t, err)
	require.Len(t, res.Keys, 2)

	ec := EncryptionContext{"a": "1"}
	dk, err := m.GenerateDataKey(ctx, "k1", ec)
	require.NoError(t, err)
	require.NoError(t, m.DisableKey(ctx, "k1"))
	_, err = m.GenerateDataKey(ctx, "k1", ec)
	require.ErrorIs(t, err, ErrKeyDisabled)
	require.NoError(t, m.EnableKey(ctx, "k1"))

	md, err = m.RotateKey(ctx, "k1")
	require.NoError(t, err)
	require.Equal(t, 2, md.Version)
	ct2, err := m.Rewrap(ctx, dk.Ciphertext, ec)
	require.NoError(t, err)
	m.ClearCache()
	got, err := m.Decrypt(ctx, ct2, ec)
	require.NoError(t, err)
	require.Equal(t, dk.Plaintext, got.Plaintext)
	_, err = m.Decrypt(ctx, ct2, EncryptionContext{"a": "2"})
	require.Error(t, err)

	md, err = m.ScheduleKeyDeletion(ctx, "k1", 7)
	require.NoError(t, err)
	require.Equal(t, KeyStatePendingDeletion, md.State)
	_, err = m.Decrypt(ctx, dk.Ciphertext, ec)
	require.ErrorIs(t, err, ErrKeyPendingDeletion, "the cache must not outlive a scheduled deletion")
	md, err = m.CancelKeyDeletion(ctx, "k1")
	require.NoError(t, err)
	require.Equal(t, KeyStateDisabled, md.State, "a cancelled deletion leaves the key Disabled, as in AWS KMS")
	_, err = m.ScheduleKeyDeletion(ctx, "k1", 3)
	require.ErrorIs(t, err, ErrInvalidArgument)
}

func TestHotSwapLocal(t *testing.T) {
	ctx := context.Background()
	dirA := newKeyDir(t, testMasterKey)
	m := startLocal(t, localConfig(dirA))
	require.NoError(t, m.Stop(ctx))
	dirB := copyDir(t, dirA) // a replica: same keys, another directory
	require.NoError(t, m.Start(ctx))

	mkFile := filepath.Join(t.TempDir(), "mk")
	require.NoError(t, os.WriteFile(mkFile, []byte(testMasterKey), 0o600))
	empty := Secret("")
	noFile := ""
	inline := Secret(testMasterKey)
	swaps := hotSwapLoad(t, m, 8, 300, 100, func(i int) error {
		p := cacheAndTimeoutPatches(i)
		switch i % 6 {
		case 0: // another directory: a new backend
			dir := []string{dirA, dirB}[i/6%2]
			p.KeyDir = &dir
		case 3: // same directory, master key from a file: also a new backend
			p.MasterKey, p.MasterKeyFile = &empty, &mkFile
		case 5:
			p.MasterKey, p.MasterKeyFile = &inline, &noFile
		}
		return m.Reconfigure(ctx, p)
	})
	t.Logf("%d reconfigurations; stats %+v", swaps, m.Stats())
	require.GreaterOrEqual(t, swaps, 100)
}
