package kms

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/backend/memory"
)

func TestManagerBackupRestore(t *testing.T) {
	ctx := context.Background()
	cfg := localConfig(newKeyDir(t, testMasterKey))
	on := true
	cfg.EnableCache = &on
	m := startLocal(t, cfg)
	_, err := m.CreateKey(ctx, CreateKeyRequest{KeyID: "k1"})
	require.NoError(t, err)
	dk, err := m.GenerateDataKey(ctx, "k1", nil)
	require.NoError(t, err)
	secret := []byte("manager backup secret 0123456789")

	var buf bytes.Buffer
	info, err := m.Backup(ctx, &buf, secret)
	require.NoError(t, err)
	require.Len(t, info.Keys, 2) // default, k1
	require.NoError(t, m.DisableKey(ctx, "k1"))

	pl, err := m.RestoreDryRun(ctx, bytes.NewReader(buf.Bytes()), secret)
	require.NoError(t, err)
	require.Equal(t, info.BundleID, pl.Bundle.BundleID)
	require.Len(t, pl.Conflicts, 1)
	require.Equal(t, "k1", pl.Conflicts[0].KeyID)

	_, err = m.Restore(ctx, bytes.NewReader(buf.Bytes()), secret, RestoreOptions{BundleID: "nope", Conflict: ConflictReplace})
	require.ErrorIs(t, err, ErrBundleIDMismatch)
	_, err = m.Restore(ctx, bytes.NewReader(buf.Bytes()), []byte("wrong secret, long enough"), RestoreOptions{BundleID: info.BundleID, Conflict: ConflictReplace})
	require.ErrorIs(t, err, ErrWrongBackupSecret)

	gen := m.CacheGeneration()
	res, err := m.Restore(ctx, bytes.NewReader(buf.Bytes()), secret, RestoreOptions{BundleID: info.BundleID, Conflict: ConflictReplace})
	require.NoError(t, err)
	require.Equal(t, []string{"k1"}, res.Replaced)
	require.Greater(t, m.CacheGeneration(), gen, "the data-key cache is cleared after a restore")
	md, err := m.DescribeKey(ctx, "k1")
	require.NoError(t, err)
	require.Equal(t, KeyStateEnabled, md.State)
	out, err := m.Decrypt(ctx, dk.Ciphertext, nil)
	require.NoError(t, err)
	require.Equal(t, dk.Plaintext, out.Plaintext)
}

func TestManagerBackupUnsupported(t *testing.T) {
	ctx := context.Background()
	m := NewManager(WithLogger(slog.New(slog.DiscardHandler)), WithBackend("memory", func(ctx context.Context, cfg Config) (Backend, error) {
		return memory.Open(ctx, cfg.BackendOptions.Decode)
	}))
	_, err := m.Backup(ctx, &bytes.Buffer{}, []byte("0123456789abcdef"))
	require.ErrorIs(t, err, ErrNotRunning)
	require.NoError(t, m.Configure(ctx, Config{BackendType: "memory", DefaultKeyID: "app", BackendOptions: BackendOptions(`{"keys": ["app"]}`)}))
	require.NoError(t, m.Start(ctx))
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	_, err = m.Backup(ctx, &bytes.Buffer{}, []byte("0123456789abcdef"))
	require.ErrorIs(t, err, ErrUnsupported)
	_, err = m.RestoreDryRun(ctx, &bytes.Buffer{}, []byte("0123456789abcdef"))
	require.ErrorIs(t, err, ErrUnsupported)
	_, err = m.Restore(ctx, &bytes.Buffer{}, []byte("0123456789abcdef"), RestoreOptions{BundleID: "x", Conflict: ConflictSkip})
	require.ErrorIs(t, err, ErrUnsupported)
}
