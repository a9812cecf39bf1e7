package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/envkms/kms"
	"github.com/envkms/kms/admin"
	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/vault"
)

// backdateDeletion moves keyID's deletion date an hour into the past by
// rewriting its KV record as an operator could, so Purge finds it due.
func backdateDeletion(t *testing.T, root *api.Client, prefix, keyID string) {
	t.Helper()
	path := "secret/data/" + prefix + "/" + keyID
	s, err := root.Logical().Read(path)
	require.NoError(t, err)
	data := s.Data["data"].(map[string]any)
	data["deletion_date"] = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)
	_, err = root.Logical().Write(path, map[string]any{"data": data})
	require.NoError(t, err)
}

// TestVaultTombstone: a purged id is tombstoned in KV and CreateKey never
// re-creates it (backend.ErrKeyDeleted, also errors.Is ErrKeyExists), from
// this Backend or another; the tombstone is not listed as a key.
func TestVaultTombstone(t *testing.T) {
	srv := sharedDevVault(t)
	ctx := vaultTestCtx(t, time.Minute)
	prefix := "envkms/tomb-" + backend.NewKeyID()[:8]
	b, _ := newVaultBackend(t, srv, vault.Config{KeyPathPrefix: prefix})
	root := srv.rootClient(t)
	id, keep := "gone", "keep"
	for _, k := range []string{id, keep} {
		_, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: k})
		require.NoError(t, err)
	}
	_, err := b.ScheduleKeyDeletion(ctx, id, 7)
	require.NoError(t, err)
	backdateDeletion(t, root, prefix, id)
	purged, err := b.Purge(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{id}, purged)

	ts, err := root.Logical().Read("secret/data/" + prefix + "/.deleted/" + id)
	require.NoError(t, err)
	require.NotNil(t, ts, "no tombstone")
	data := ts.Data["data"].(map[string]any)
	require.Equal(t, id, data["key_id"])

	other, _ := newVaultBackend(t, srv, vault.Config{KeyPathPrefix: prefix})
	for _, bk := range []*vault.Backend{b, other} {
		_, err = bk.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id})
		require.ErrorIs(t, err, backend.ErrKeyDeleted)
		require.ErrorIs(t, err, backend.ErrKeyExists)
	}
	tk, err := root.Logical().Read("transit/keys/" + id)
	require.NoError(t, err)
	require.Nil(t, tk, "CreateKey of a tombstoned id created a transit key")
	res, err := b.ListKeys(ctx, backend.ListKeysRequest{})
	require.NoError(t, err)
	require.Len(t, res.Keys, 1)
	require.Equal(t, keep, res.Keys[0].KeyID)
	require.Empty(t, res.UnreadableKeyIDs)
}

// TestVaultTombstoneAbandonedCreate: a record left behind by a creation
// that found the tombstone after claiming the id and could not roll back
// (old enough to look abandoned) is never completed into a key.
func TestVaultTombstoneAbandonedCreate(t *testing.T) {
	srv := sharedDevVault(t)
	ctx := vaultTestCtx(t, time.Minute)
	prefix := "envkms/tombab-" + backend.NewKeyID()[:8]
	b, _ := newVaultBackend(t, srv, vault.Config{KeyPathPrefix: prefix, Timeout: 5 * time.Second})
	root := srv.rootClient(t)
	const id = "abandoned"
	_, err := root.Logical().Write("secret/data/"+prefix+"/.deleted/"+id, map[string]any{"data": map[string]any{
		"format": 1, "key_id": id, "purge_date": time.Now().UTC().Format(time.RFC3339Nano)}})
	require.NoError(t, err)
	_, err = root.Logical().Write("secret/data/"+prefix+"/"+id, map[string]any{"data": map[string]any{
		"format": 1, "key_id": id, "description": "", "key_usage": "ENCRYPT_DECRYPT", "state": "Enabled",
		"creation_date": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)}})
	require.NoError(t, err)
	_, err = b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id})
	require.ErrorIs(t, err, backend.ErrKeyDeleted)
	tk, err := root.Logical().Read("transit/keys/" + id)
	require.NoError(t, err)
	require.Nil(t, tk, "an abandoned creation of a tombstoned id was completed")

	// A damaged tombstone blocks the id too.
	const id2 = "damaged"
	_, err = root.Logical().Write("secret/data/"+prefix+"/.deleted/"+id2, map[string]any{"data": map[string]any{"format": 99}})
	require.NoError(t, err)
	_, err = b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id2})
	require.ErrorIs(t, err, backend.ErrKeyDeleted)
}

// TestVaultPurgeCreateRace: CreateKey calls for an id racing the Purge of
// that id, from two Backends, never succeed: before the purge the record
// blocks the id, after it the tombstone, and in between the check after the
// claim. Afterwards neither a record nor a transit key exists.
func TestVaultPurgeCreateRace(t *testing.T) {
	srv := sharedDevVault(t)
	ctx := vaultTestCtx(t, 2*time.Minute)
	prefix := "envkms/tombrace-" + backend.NewKeyID()[:8]
	b, _ := newVaultBackend(t, srv, vault.Config{KeyPathPrefix: prefix})
	other, _ := newVaultBackend(t, srv, vault.Config{KeyPathPrefix: prefix})
	root := srv.rootClient(t)
	for round := 0; round < 5; round++ {
		id := "race-" + backend.NewKeyID()[:8]
		_, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id})
		require.NoError(t, err)
		_, err = b.ScheduleKeyDeletion(ctx, id, 7)
		require.NoError(t, err)
		backdateDeletion(t, root, prefix, id)

		stop := make(chan struct{})
		var wins, attempts atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			bk := []*vault.Backend{b, other}[i%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					attempts.Add(1)
					_, err := bk.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id})
					switch {
					case err == nil:
						wins.Add(1)
					case !errors.Is(err, backend.ErrKeyExists):
						t.Errorf("CreateKey during Purge: %v", err)
						return
					}
				}
			}()
		}
		purged, err := b.Purge(ctx)
		// let the creators run on past the purge for a moment
		time.Sleep(50 * time.Millisecond)
		close(stop)
		wg.Wait()
		require.NoError(t, err)
		require.True(t, slices.Contains(purged, id), "Purge = %v", purged)
		require.Zero(t, wins.Load(), "a CreateKey re-created a purged id (of %d attempts)", attempts.Load())
		_, err = b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id})
		require.ErrorIs(t, err, backend.ErrKeyDeleted)
		_, err = b.DescribeKey(context.WithoutCancel(ctx), id)
		require.ErrorIs(t, err, backend.ErrKeyNotFound)
		tk, err := root.Logical().Read("transit/keys/" + id)
		require.NoError(t, err)
		require.Nil(t, tk, "transit key of a purged id exists")
		rec, err := root.Logical().Read("secret/data/" + prefix + "/" + id)
		require.NoError(t, err)
		if rec != nil {
			require.Nil(t, rec.Data["data"], "record of a purged id exists")
		}
	}
}

// TestVaultRotationPeriod: a key's rotation period is transit's
// auto_rotate_period, set at CreateKey and by SetRotationPeriod, and read
// back by DescribeKey (with RotationDue false for a fresh version).
func TestVaultRotationPeriod(t *testing.T) {
	srv := sharedDevVault(t)
	ctx := vaultTestCtx(t, time.Minute)
	b, _ := newVaultBackend(t, srv, vault.Config{})
	root := srv.rootClient(t)
	id := "rotp-" + backend.NewKeyID()[:8]
	autoRotate := func() time.Duration {
		t.Helper()
		s, err := root.Logical().Read("transit/keys/" + id)
		require.NoError(t, err)
		n, err := s.Data["auto_rotate_period"].(json.Number).Int64()
		require.NoError(t, err)
		return time.Duration(n) * time.Second
	}
	md, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id, RotationPeriod: 30 * 24 * time.Hour})
	require.NoError(t, err)
	require.Equal(t, 30*24*time.Hour, md.RotationPeriod)
	require.False(t, md.RotationDue)
	require.Equal(t, 30*24*time.Hour, autoRotate())
	for _, d := range []time.Duration{48 * time.Hour, time.Hour, 0} {
		md, err = b.SetRotationPeriod(ctx, id, d)
		require.NoError(t, err)
		require.Equal(t, d, md.RotationPeriod)
		require.Equal(t, d, autoRotate())
		got, err := b.DescribeKey(ctx, id)
		require.NoError(t, err)
		require.Equal(t, d, got.RotationPeriod)
		require.False(t, got.RotationDue)
	}
	_, err = b.SetRotationPeriod(ctx, id, time.Minute)
	require.ErrorIs(t, err, backend.ErrInvalidArgument)
	_, err = b.SetRotationPeriod(ctx, "missing-"+id, time.Hour)
	require.ErrorIs(t, err, backend.ErrKeyNotFound)
	_, err = b.ScheduleKeyDeletion(ctx, id, 7)
	require.NoError(t, err)
	_, err = b.SetRotationPeriod(ctx, id, time.Hour)
	require.ErrorIs(t, err, backend.ErrKeyPendingDeletion)

	// An existing transit key adopted by CreateKey gets the period too.
	adopt := "rotp-adopt-" + backend.NewKeyID()[:8]
	_, err = root.Logical().Write("transit/keys/"+adopt, map[string]any{"type": "aes256-gcm96"})
	require.NoError(t, err)
	md, err = b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: adopt, RotationPeriod: 72 * time.Hour})
	require.NoError(t, err)
	require.Equal(t, 72*time.Hour, md.RotationPeriod)
}

// TestVaultListUnreadable: ListKeys names keys it cannot read (a malformed
// or unknown-format KV record, a record without its transit key that no
// creation in flight explains) in UnreadableKeyIDs instead of dropping
// them or failing; through the admin API a full listing of which nothing is
// readable is a 500.
func TestVaultListUnreadable(t *testing.T) {
	srv := sharedDevVault(t)
	ctx := vaultTestCtx(t, time.Minute)
	prefix := "envkms/unread-" + backend.NewKeyID()[:8]
	b, logs := newVaultBackend(t, srv, vault.Config{KeyPathPrefix: prefix})
	root := srv.rootClient(t)
	_, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "good"})
	require.NoError(t, err)
	put := func(id string, data map[string]any) {
		t.Helper()
		_, err := root.Logical().Write("secret/data/"+prefix+"/"+id, map[string]any{"data": data})
		require.NoError(t, err)
	}
	record := func(id string, created time.Time) map[string]any {
		return map[string]any{"format": 1, "key_id": id, "description": "", "key_usage": "ENCRYPT_DECRYPT",
			"state": "Enabled", "creation_date": created.UTC().Format(time.RFC3339Nano)}
	}
	put("bad-format", map[string]any{"format": 99, "key_id": "bad-format"})
	put("bad-state", map[string]any{"format": 1, "key_id": "bad-state", "state": "Melted"})
	put("orphan", record("orphan", time.Now().Add(-time.Hour)))
	put("young", record("young", time.Now())) // a creation in flight: not listed

	res, err := b.ListKeys(ctx, backend.ListKeysRequest{})
	require.NoError(t, err)
	require.Len(t, res.Keys, 1)
	require.Equal(t, "good", res.Keys[0].KeyID)
	require.Equal(t, []string{"bad-format", "bad-state", "orphan"}, res.UnreadableKeyIDs)
	require.Contains(t, logs.String(), "bad-format")
	// Pages: unreadable keys count towards the limit and the marker moves
	// past them.
	page, err := b.ListKeys(ctx, backend.ListKeysRequest{Limit: 2})
	require.NoError(t, err)
	require.True(t, page.Truncated)
	require.Equal(t, []string{"bad-format", "bad-state"}, page.UnreadableKeyIDs)
	page, err = b.ListKeys(ctx, backend.ListKeysRequest{Limit: 2, Marker: page.NextMarker})
	require.NoError(t, err)
	require.Equal(t, []string{"orphan"}, page.UnreadableKeyIDs)
	require.Len(t, page.Keys, 1)

	// Nothing readable: the admin API's full listing is an error.
	only := "envkms/unread-only-" + backend.NewKeyID()[:8]
	_, err = root.Logical().Write("secret/data/"+only+"/broken", map[string]any{"data": map[string]any{"format": 7}})
	require.NoError(t, err)
	m := kms.NewManager(kms.WithLogger(slog.New(slog.DiscardHandler)))
	cfg := kms.DefaultConfig()
	cfg.BackendType = kms.BackendVault
	cfg.Address = srv.Addr
	cfg.AuthMethod = &kms.AuthMethod{Token: kms.Secret(srv.Token)}
	cfg.KeyPathPrefix = only
	cfg.DefaultKeyID = "broken"
	require.NoError(t, m.Configure(ctx, cfg))
	require.NoError(t, m.Start(ctx))
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	h := admin.NewHandler(m, admin.WithLogger(slog.New(slog.DiscardHandler)), admin.WithAuthenticator(admin.AuthenticatorFunc(
		func(*http.Request) (admin.Principal, error) {
			return admin.Principal{AccessKey: "e2e", Admin: true}, nil
		})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/kms/keys", nil))
	require.Equal(t, http.StatusInternalServerError, rec.Code, rec.Body.String())
	require.NotContains(t, rec.Body.String(), srv.Token)
	res, err = m.ListKeys(ctx, backend.ListKeysRequest{})
	require.NoError(t, err)
	require.Equal(t, []string{"broken"}, res.UnreadableKeyIDs)
}
