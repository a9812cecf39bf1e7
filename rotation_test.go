package kms

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/backend"
)

// TestManagerSetRotationPeriod: through the Manager, on the local backend;
// ErrUnsupported on a backend without a rotation policy.
func TestManagerSetRotationPeriod(t *testing.T) {
	ctx := context.Background()
	m := startLocal(t, localConfig(newKeyDir(t, testMasterKey)))
	md, err := m.CreateKey(ctx, CreateKeyRequest{KeyID: "rot", RotationPeriod: 90 * 24 * time.Hour})
	require.NoError(t, err)
	require.Equal(t, 90*24*time.Hour, md.RotationPeriod)
	md, err = m.SetRotationPeriod(ctx, "rot", 48*time.Hour)
	require.NoError(t, err)
	require.Equal(t, 48*time.Hour, md.RotationPeriod)
	require.False(t, md.RotationDue)
	got, err := m.DescribeKey(ctx, "rot")
	require.NoError(t, err)
	require.Equal(t, 48*time.Hour, got.RotationPeriod)
	md, err = m.SetRotationPeriod(ctx, "rot", 0)
	require.NoError(t, err)
	require.Zero(t, md.RotationPeriod)

	_, err = m.SetRotationPeriod(ctx, "rot", time.Minute)
	require.ErrorIs(t, err, ErrInvalidArgument)
	_, err = m.SetRotationPeriod(ctx, "missing", time.Hour)
	require.ErrorIs(t, err, ErrKeyNotFound)
	_, err = m.ScheduleKeyDeletion(ctx, "rot", backend.MinPendingDays)
	require.NoError(t, err)
	_, err = m.SetRotationPeriod(ctx, "rot", time.Hour)
	require.ErrorIs(t, err, ErrKeyPendingDeletion)
	require.Equal(t, uint64(5), m.Stats().Operations["SetRotationPeriod"])
	require.Equal(t, uint64(3), m.Stats().Errors["SetRotationPeriod"])
}
