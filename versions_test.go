package kms_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms"
	"github.com/envkms/kms/backend/memory"
)

func versionsManager(t *testing.T, refs kms.KeyVersionReferences) *kms.Manager {
	t.Helper()
	ctx := context.Background()
	opts := []kms.Option{kms.WithLogger(slog.New(slog.DiscardHandler)),
		kms.WithBackend("memory", func(ctx context.Context, cfg kms.Config) (kms.Backend, error) {
			return memory.Open(ctx, cfg.BackendOptions.Decode)
		})}
	if refs != nil {
		opts = append(opts, kms.WithKeyVersionReferences(refs))
	}
	m := kms.NewManager(opts...)
	require.NoError(t, m.Configure(ctx, kms.Config{BackendType: "memory", DefaultKeyID: "app", BackendOptions: kms.BackendOptions(`{"keys": ["app", "k"]}`)}))
	require.NoError(t, m.Start(ctx))
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	return m
}

// TestManagerDestroyKeyVersions: versions are destroyed only when the
// inventory hook says no object needs them; it fails closed without a
// hook or when the hook fails; cached data keys of destroyed versions go.
func TestManagerDestroyKeyVersions(t *testing.T) {
	ctx := context.Background()
	oldest := map[string]int{"k": 1}
	var hookErr error
	m := versionsManager(t, func(_ context.Context, id string) (int, error) { return oldest[id], hookErr })
	dk1, err := m.GenerateDataKey(ctx, "k", nil)
	require.NoError(t, err)
	_, err = m.RotateKey(ctx, "k")
	require.NoError(t, err)
	_, err = m.Decrypt(ctx, dk1.Ciphertext, nil) // cached now
	require.NoError(t, err)

	_, err = m.DestroyKeyVersions(ctx, "k", 2)
	require.ErrorIs(t, err, kms.ErrKeyInUse)
	var iu *kms.KeyInUseError
	require.ErrorAs(t, err, &iu)
	require.Equal(t, 2, iu.Below)
	require.Contains(t, err.Error(), "version 1")
	hookErr = errors.New("inventory unreadable")
	oldest["k"] = 0
	_, err = m.DestroyKeyVersions(ctx, "k", 2)
	require.ErrorContains(t, err, "inventory unreadable")
	require.ErrorIs(t, err, kms.ErrKeyInUse)
	_, err = m.Decrypt(ctx, dk1.Ciphertext, nil)
	require.NoError(t, err, "a refusal destroyed something")

	hookErr = nil
	oldest["k"] = 2 // objects moved to version 2
	md, err := m.DestroyKeyVersions(ctx, "k", 2)
	require.NoError(t, err)
	require.Equal(t, 2, md.Version)
	_, err = m.Decrypt(ctx, dk1.Ciphertext, nil)
	require.ErrorIs(t, err, kms.ErrInvalidCiphertext, "decrypted (from the cache?) under a destroyed version")
	_, err = m.DestroyKeyVersions(ctx, "k", 1)
	require.ErrorIs(t, err, kms.ErrInvalidArgument)
	_, err = m.DestroyKeyVersions(ctx, "k", 3)
	require.ErrorIs(t, err, kms.ErrKeyInUse) // version 2 is needed
	oldest["k"] = 0
	_, err = m.DestroyKeyVersions(ctx, "k", 3)
	require.ErrorIs(t, err, kms.ErrInvalidArgument) // there is no version 3

	// Without a hook nothing can be proven unused.
	plain := versionsManager(t, nil)
	_, err = plain.RotateKey(ctx, "k")
	require.NoError(t, err)
	_, err = plain.DestroyKeyVersions(ctx, "k", 2)
	require.ErrorIs(t, err, kms.ErrKeyInUse)
	require.ErrorContains(t, err, "WithKeyVersionReferences")
}
