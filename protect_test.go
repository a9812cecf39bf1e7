package kms

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// moveDefaultKey makes "other" the default key, so tests may schedule the
// deletion of "default".
func moveDefaultKey(t *testing.T, m *Manager) {
	t.Helper()
	other := "other"
	require.NoError(t, m.Reconfigure(context.Background(), ConfigPatch{DefaultKeyID: &other}))
}

func TestScheduleKeyDeletionRefusesKeysInUse(t *testing.T) {
	ctx := context.Background()
	w := newFakeWorld()
	m := startFake(t, w, fakeConfig("a"))
	_, err := m.ScheduleKeyDeletion(ctx, "default", 7)
	require.ErrorIs(t, err, ErrKeyInUse)
	var kerr *KeyInUseError
	require.ErrorAs(t, err, &kerr)
	require.Equal(t, "default", kerr.KeyID)
	require.Contains(t, err.Error(), "default key")
	md, err := m.DescribeKey(ctx, "default")
	require.NoError(t, err)
	require.Equal(t, KeyStateEnabled, md.State, "a refused deletion changes nothing")

	moveDefaultKey(t, m)
	_, err = m.ScheduleKeyDeletion(ctx, "default", 7)
	require.NoError(t, err, "no longer the default key")
}

func TestWithKeyReferences(t *testing.T) {
	ctx := context.Background()
	refsErr := error(nil)
	refs := []string{"bucket-key"}
	m := startFake(t, newFakeWorld(), fakeConfig("a"), WithKeyReferences(func(context.Context) ([]string, error) { return refs, refsErr }))
	for _, id := range []string{"bucket-key", "free"} {
		_, err := m.CreateKey(ctx, CreateKeyRequest{KeyID: id})
		require.NoError(t, err)
	}
	_, err := m.ScheduleKeyDeletion(ctx, "bucket-key", 7)
	require.ErrorIs(t, err, ErrKeyInUse)
	require.Contains(t, err.Error(), "storage server still references it")

	refsErr = errors.New("inventory unavailable")
	_, err = m.ScheduleKeyDeletion(ctx, "free", 7)
	require.ErrorContains(t, err, "inventory unavailable", "fails closed")
	refsErr = nil
	_, err = m.ScheduleKeyDeletion(ctx, "free", 7)
	require.NoError(t, err)
}
