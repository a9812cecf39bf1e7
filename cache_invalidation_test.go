package kms

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// A Decrypt in flight when ScheduleKeyDeletion, DisableKey or ClearCache
// returns must not put its key back in the cache: after the call returns,
// no cached entry for the key may be served (it used to be, for up to
// cache_ttl_seconds).
func TestInvalidationBeatsCallsInFlight(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		invalidate func(m *Manager) error
		wantErr    error // of a Decrypt after the invalidation; nil: served by the backend
	}{
		{"ScheduleKeyDeletion", func(m *Manager) error { _, err := m.ScheduleKeyDeletion(ctx, "default", 7); return err }, ErrKeyPendingDeletion},
		{"DisableKey", func(m *Manager) error { return m.DisableKey(ctx, "default") }, nil},
		{"ClearCache", func(m *Manager) error { m.ClearCache(); return nil }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newFakeWorld()
			m := startFake(t, w, fakeConfig("a"))
			ec := EncryptionContext{"b": "1"}
			dk, err := m.GenerateDataKey(ctx, "", ec)
			require.NoError(t, err)
			moveDefaultKey(t, m) // so that "default" may be scheduled for deletion
			m.ClearCache()

			inBackend, release := make(chan struct{}), make(chan struct{})
			hook := func() { close(inBackend); <-release }
			w.afterDecrypt.Store(&hook)
			done := make(chan error, 1)
			go func() { _, err := m.Decrypt(ctx, dk.Ciphertext, ec); done <- err }()
			<-inBackend
			w.afterDecrypt.Store(nil)
			require.NoError(t, tc.invalidate(m))
			close(release)
			require.NoError(t, <-done, "the call in flight itself succeeds")

			before := w.backendOps.Load()
			_, err = m.Decrypt(ctx, dk.Ciphertext, ec)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
			}
			require.Greater(t, w.backendOps.Load(), before, "served by the backend, not by a stale cache entry")
		})
	}
}
