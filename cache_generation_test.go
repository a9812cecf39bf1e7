package kms

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCacheGeneration: every invalidation, rotation and restart changes the
// generation before the call returns; plain calls and failed ones don't.
func TestCacheGeneration(t *testing.T) {
	ctx := context.Background()
	m := startFake(t, newFakeWorld(), fakeConfig("gen"))
	changes := func(name string, f func() error) {
		t.Helper()
		g := m.CacheGeneration()
		require.NoError(t, f(), name)
		require.NotEqual(t, g, m.CacheGeneration(), name)
	}
	same := func(name string, f func() error) {
		t.Helper()
		g := m.CacheGeneration()
		_ = f()
		require.Equal(t, g, m.CacheGeneration(), name)
	}
	same("GenerateDataKey", func() error {
		dk, err := m.GenerateDataKey(ctx, "", EncryptionContext{"a": "b"})
		dk.Zero()
		return err
	})
	same("DisableKey of a missing key", func() error { return m.DisableKey(ctx, "missing") })
	changes("ClearCache", func() error { m.ClearCache(); return nil })
	changes("RotateKey", func() error { _, err := m.RotateKey(ctx, "default"); return err })
	changes("DisableKey", func() error { return m.DisableKey(ctx, "default") })
	require.NoError(t, m.EnableKey(ctx, "default"))
	moveDefaultKey(t, m)
	changes("ScheduleKeyDeletion", func() error { _, err := m.ScheduleKeyDeletion(ctx, "default", 7); return err })
	stopped := m.CacheGeneration()
	changes("Stop", func() error { return m.Stop(ctx) })
	g := m.CacheGeneration()
	changes("Start", func() error { return m.Start(ctx) })
	require.NotEqual(t, stopped, m.CacheGeneration(), "a restart must not bring back the generation before Stop")
	require.NotEqual(t, g, m.CacheGeneration())
}
