package kms

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/backend"
)

// RewrapBatch splits long lists into backend-sized chunks, keeps the order,
// reports a bad item in its own result, and the rewrapped keys name the
// newest version (CiphertextVersion) and still decrypt under their contexts.
func TestRewrapBatchLocal(t *testing.T) {
	ctx := context.Background()
	m := startLocal(t, localConfig(newKeyDir(t, string(testMasterKey))))
	n := backend.MaxRewrapBatch + 7
	items := make([]RewrapItem, n)
	plain := make([][]byte, n)
	for i := range items {
		ec := EncryptionContext{"object": fmt.Sprint(i)}
		dk, err := m.GenerateDataKey(ctx, "default", ec)
		require.NoError(t, err)
		items[i] = RewrapItem{Ciphertext: dk.Ciphertext, Context: ec}
		plain[i] = dk.Plaintext
		id, v, err := m.CiphertextVersion(dk.Ciphertext)
		require.NoError(t, err)
		require.Equal(t, "default", id)
		require.Equal(t, 1, v)
	}
	_, err := m.RotateKey(ctx, "default")
	require.NoError(t, err)
	items[5].Context = EncryptionContext{"object": "wrong"}

	res, err := m.RewrapBatch(ctx, items)
	require.NoError(t, err)
	require.Len(t, res, n)
	for i, r := range res {
		if i == 5 {
			require.ErrorIs(t, r.Err, backend.ErrInvalidCiphertext)
			continue
		}
		require.NoError(t, r.Err, "item %d", i)
		_, v, err := m.CiphertextVersion(r.Ciphertext)
		require.NoError(t, err)
		require.Equal(t, 2, v, "item %d", i)
		dk, err := m.Decrypt(ctx, r.Ciphertext, items[i].Context)
		require.NoError(t, err)
		require.Equal(t, plain[i], dk.Plaintext, "item %d", i)
	}
	res, err = m.RewrapBatch(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, res)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = m.RewrapBatch(cctx, items[:3])
	require.Error(t, err)

	_, _, err = m.CiphertextVersion([]byte("garbage"))
	require.ErrorIs(t, err, backend.ErrInvalidCiphertext)
}
