package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/backend/backendtest"
	"github.com/envkms/kms/vault"
)

// vaultLogBuffer is a goroutine-safe log sink.
type vaultLogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *vaultLogBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *vaultLogBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newVaultBackend returns a Backend for srv with cfg's auth (root token if
// none), closed by t.Cleanup. Logs go to the returned buffer at debug level.
func newVaultBackend(t testing.TB, srv *vaultServer, cfg vault.Config) (*vault.Backend, *vaultLogBuffer) {
	t.Helper()
	logs := &vaultLogBuffer{}
	cfg.Address = srv.Addr
	if cfg.Token == "" && cfg.TokenFile == "" && cfg.AppRole == nil {
		cfg.Token = srv.Token
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	b, err := vault.New(vaultTestCtx(t, time.Minute), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b, logs
}

func TestVaultBackendConformance(t *testing.T) {
	srv := sharedDevVault(t)
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		b, _ := newVaultBackend(t, srv, vault.Config{Timeout: 30 * time.Second})
		return b
	})
}

// TestVaultConfigRedacted: Token and SecretID never print.
func TestVaultConfigRedacted(t *testing.T) {
	const tok, sid = "hvs.SUPERSECRETTOKEN", "SECRETID-5f2b"
	cfg := vault.Config{Address: "http://127.0.0.1:1", Token: tok,
		AppRole: &vault.AppRole{RoleID: "role", SecretID: sid}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		for _, v := range []any{cfg, &cfg, *cfg.AppRole, cfg.AppRole} {
			out := fmt.Sprintf(verb, v)
			require.NotContains(t, out, tok, verb)
			require.NotContains(t, out, sid, verb)
		}
	}
	require.Contains(t, cfg.String(), "[REDACTED]")
	require.Contains(t, cfg.String(), "role")
	// Bad configs are refused without echoing secrets.
	_, err := vault.New(context.Background(), cfg) // both Token and AppRole
	require.ErrorIs(t, err, backend.ErrInvalidArgument)
	require.NotContains(t, err.Error(), tok)
	require.NotContains(t, err.Error(), sid)
}

// TestVaultRewrapNeedsContext: a rewrapped key moves to the newest version
// and stays bound to its context; transit/rewrap alone would have lost it.
func TestVaultRewrapNeedsContext(t *testing.T) {
	srv := sharedDevVault(t)
	b, _ := newVaultBackend(t, srv, vault.Config{})
	ctx := vaultTestCtx(t, time.Minute)
	id := "rewrap-" + backend.NewKeyID()
	_, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id})
	require.NoError(t, err)
	ec := backend.EncryptionContext{"bucket": "b1", "object": "o1"}
	dk, err := b.GenerateDataKey(ctx, id, ec)
	require.NoError(t, err)
	_, err = b.RotateKey(ctx, id)
	require.NoError(t, err)
	re, err := b.Rewrap(ctx, dk.Ciphertext, ec)
	require.NoError(t, err)
	kid, v, err := b.CiphertextVersion(re)
	require.NoError(t, err)
	require.Equal(t, id, kid)
	require.Equal(t, 2, v)
	got, err := b.Decrypt(ctx, re, ec)
	require.NoError(t, err)
	require.Equal(t, dk.Plaintext, got.Plaintext)
	for _, bad := range []backend.EncryptionContext{nil, {"bucket": "b1"}, {"bucket": "b1", "object": "o2"}} {
		_, err := b.Decrypt(ctx, re, bad)
		require.ErrorIs(t, err, backend.ErrInvalidCiphertext)
		_, err = b.Rewrap(ctx, dk.Ciphertext, bad)
		require.ErrorIs(t, err, backend.ErrInvalidCiphertext)
	}
	// The blob names key and version; transit sees the same ciphertext.
	require.True(t, bytes.HasPrefix(re, []byte("evt1:"+id+":vault:v2:")), "%s", re)
}

// TestVaultConcurrentAdminUpdates: many writers updating one key's KV record
// at once (tags, state) never lose an update: check-and-set retries.
func TestVaultConcurrentAdminUpdates(t *testing.T) {
	srv := sharedDevVault(t)
	ctx := vaultTestCtx(t, 2*time.Minute)
	id := "cas-" + backend.NewKeyID()
	// Separate Backends, as separate replicas would be.
	var bs []*vault.Backend
	for i := 0; i < 4; i++ {
		b, _ := newVaultBackend(t, srv, vault.Config{})
		bs = append(bs, b)
	}
	_, err := bs[0].CreateKey(ctx, backend.CreateKeyRequest{KeyID: id, Tags: map[string]string{"base": "1"}})
	require.NoError(t, err)
	const writers = 24
	var wg sync.WaitGroup
	errs := make(chan error, writers+8)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := bs[i%len(bs)].TagKey(ctx, id, map[string]string{fmt.Sprintf("w%02d", i): "x"})
			errs <- err
		}()
	}
	for i := 0; i < 8; i++ { // state flips in between
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				errs <- bs[i%len(bs)].DisableKey(ctx, id)
			} else {
				errs <- bs[i%len(bs)].EnableKey(ctx, id)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	md, err := bs[0].DescribeKey(ctx, id)
	require.NoError(t, err)
	require.Len(t, md.Tags, writers+1, "lost updates: %v", md.Tags)
	for i := 0; i < writers; i++ {
		require.Equal(t, "x", md.Tags[fmt.Sprintf("w%02d", i)])
	}
	require.Equal(t, "1", md.Tags["base"])
}

// TestVaultDuplicateCreateRace: of many concurrent CreateKey calls for one
// id exactly one wins.
func TestVaultDuplicateCreateRace(t *testing.T) {
	srv := sharedDevVault(t)
	ctx := vaultTestCtx(t, time.Minute)
	b, _ := newVaultBackend(t, srv, vault.Config{})
	id := "race-" + backend.NewKeyID()
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id})
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
				return
			}
			if !errors.Is(err, backend.ErrKeyExists) {
				t.Errorf("CreateKey: %v", err)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 1, wins)
}

// TestVaultAccessDenied: a token whose policy lacks transit → ErrAccessDenied,
// and the token appears in no error or log.
func TestVaultAccessDenied(t *testing.T) {
	srv := sharedDevVault(t)
	ctx := vaultTestCtx(t, time.Minute)
	root := srv.rootClient(t)
	admin, _ := newVaultBackend(t, srv, vault.Config{})
	id := "denied-" + backend.NewKeyID()
	_, err := admin.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id})
	require.NoError(t, err)
	dk, err := admin.GenerateDataKey(ctx, id, nil)
	require.NoError(t, err)

	require.NoError(t, root.Sys().PutPolicy("envkms-kv-only", `path "secret/data/envkms/keys/*" { capabilities = ["read"] }`))
	sec, err := root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"envkms-kv-only"}, NoDefaultPolicy: true, TTL: "10m"})
	require.NoError(t, err)
	tok := sec.Auth.ClientToken

	tokFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokFile, []byte(tok+"\n"), 0o600))
	for name, cfg := range map[string]vault.Config{
		"token":      {Token: tok, RetryAttempts: -1},
		"token file": {TokenFile: tokFile},
	} {
		t.Run(name, func(t *testing.T) {
			b, logs := newVaultBackend(t, srv, cfg)
			_, err := b.GenerateDataKey(ctx, id, nil)
			require.ErrorIs(t, err, backend.ErrAccessDenied)
			var be *backend.Error
			require.ErrorAs(t, err, &be)
			require.Equal(t, "GenerateDataKey", be.Op)
			_, err2 := b.Decrypt(ctx, dk.Ciphertext, nil)
			require.ErrorIs(t, err2, backend.ErrAccessDenied)
			_, err3 := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id + "-x"})
			require.ErrorIs(t, err3, backend.ErrAccessDenied)
			for _, e := range []error{err, err2, err3} {
				for _, verb := range []string{"%v", "%+v", "%#v"} {
					require.NotContains(t, fmt.Sprintf(verb, e), tok)
				}
			}
			require.NotContains(t, logs.String(), tok)
			require.NotContains(t, fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), tok)
		})
	}
	// Wrong token entirely.
	b, logs := newVaultBackend(t, srv, vault.Config{Token: "hvs.not-a-real-token-0123456789"})
	_, err = b.GenerateDataKey(ctx, id, nil)
	require.ErrorIs(t, err, backend.ErrAccessDenied)
	require.NotContains(t, err.Error(), "not-a-real-token")
	require.NotContains(t, logs.String(), "not-a-real-token")
}

// TestVaultSealed: a sealed Vault is ErrUnavailable for Health and for
// every call.
func TestVaultSealed(t *testing.T) {
	srv := newDevVault(t)
	ctx := vaultTestCtx(t, time.Minute)
	b, _ := newVaultBackend(t, srv, vault.Config{Timeout: 5 * time.Second})
	id := "sealed-" + backend.NewKeyID()
	_, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id})
	require.NoError(t, err)
	dk, err := b.GenerateDataKey(ctx, id, nil)
	require.NoError(t, err)
	require.NoError(t, b.Health(ctx))

	require.NoError(t, srv.rootClient(t).Sys().Seal()) // vault operator seal
	start := time.Now()
	require.ErrorIs(t, b.Health(ctx), backend.ErrUnavailable)
	_, err = b.GenerateDataKey(ctx, id, nil)
	require.ErrorIs(t, err, backend.ErrUnavailable)
	_, err = b.Decrypt(ctx, dk.Ciphertext, nil)
	require.ErrorIs(t, err, backend.ErrUnavailable)
	_, err = b.DescribeKey(ctx, id)
	require.ErrorIs(t, err, backend.ErrUnavailable)
	_, err = b.ListKeys(ctx, backend.ListKeysRequest{})
	require.ErrorIs(t, err, backend.ErrUnavailable)
	require.Less(t, time.Since(start), 10*time.Second)
	require.NotContains(t, err.Error(), srv.Token)
}

// TestVaultPurge: scheduled deletion destroys nothing until the date has
// passed and an operator runs Purge; then the transit key is gone.
func TestVaultPurge(t *testing.T) {
	srv := sharedDevVault(t)
	ctx := vaultTestCtx(t, time.Minute)
	prefix := "purge-" + backend.NewKeyID()[:8]
	b, _ := newVaultBackend(t, srv, vault.Config{KeyPathPrefix: "envkms/" + prefix})
	root := srv.rootClient(t)
	keep, gone := prefix+"-keep", prefix+"-gone"
	for _, id := range []string{keep, gone} {
		_, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id})
		require.NoError(t, err)
	}
	dk, err := b.GenerateDataKey(ctx, gone, nil)
	require.NoError(t, err)
	for _, id := range []string{keep, gone} {
		_, err := b.ScheduleKeyDeletion(ctx, id, 7)
		require.NoError(t, err)
	}
	purged, err := b.Purge(ctx)
	require.NoError(t, err)
	require.Empty(t, purged, "purged before the deletion date")

	// Let time pass for one key: backdate its deletion date in KV.
	path := "secret/data/envkms/" + prefix + "/" + gone
	s, err := root.Logical().Read(path)
	require.NoError(t, err)
	data := s.Data["data"].(map[string]any)
	data["deletion_date"] = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)
	_, err = root.Logical().Write(path, map[string]any{"data": data})
	require.NoError(t, err)

	purged, err = b.Purge(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{gone}, purged)
	_, err = b.DescribeKey(ctx, gone)
	require.ErrorIs(t, err, backend.ErrKeyNotFound)
	_, err = b.Decrypt(ctx, dk.Ciphertext, nil)
	require.ErrorIs(t, err, backend.ErrKeyNotFound)
	tk, err := root.Logical().Read("transit/keys/" + gone)
	require.NoError(t, err)
	require.Nil(t, tk, "transit key still exists")
	md, err := b.DescribeKey(ctx, keep)
	require.NoError(t, err)
	require.Equal(t, backend.KeyStatePendingDeletion, md.State)
	purged, err = b.Purge(ctx)
	require.NoError(t, err)
	require.Empty(t, purged)
}

// TestVaultAppRoleRenewal: a short-lived AppRole token (ttl 5s, max 15s) is
// renewed and replaced in the background; calls keep working well past the
// max TTL, and neither the secret id nor a token shows up in the logs.
func TestVaultAppRoleRenewal(t *testing.T) {
	if testing.Short() {
		t.Skip("takes ~25s")
	}
	srv := sharedDevVault(t)
	ctx := vaultTestCtx(t, 2*time.Minute)
	root := srv.rootClient(t)
	admin, _ := newVaultBackend(t, srv, vault.Config{})
	id := "approle-" + backend.NewKeyID()
	_, err := admin.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id})
	require.NoError(t, err)

	mount := "approle-" + backend.NewKeyID()[:8]
	require.NoError(t, root.Sys().EnableAuthWithOptions(mount, &api.EnableAuthOptions{Type: "approle"}))
	require.NoError(t, root.Sys().PutPolicy("envkms-user", `
path "transit/encrypt/*" { capabilities = ["update"] }
path "transit/decrypt/*" { capabilities = ["update"] }
path "secret/data/envkms/keys/*" { capabilities = ["read"] }
`))
	_, err = root.Logical().Write("auth/"+mount+"/role/kms", map[string]any{
		"token_policies": "envkms-user", "token_ttl": "5s", "token_max_ttl": "15s",
	})
	require.NoError(t, err)
	r, err := root.Logical().Read("auth/" + mount + "/role/kms/role-id")
	require.NoError(t, err)
	roleID := r.Data["role_id"].(string)
	sid, err := root.Logical().Write("auth/"+mount+"/role/kms/secret-id", nil)
	require.NoError(t, err)
	secretID := sid.Data["secret_id"].(string)
	sidFile := filepath.Join(t.TempDir(), "secret-id")
	require.NoError(t, os.WriteFile(sidFile, []byte(secretID), 0o600))

	for name, ar := range map[string]*vault.AppRole{
		"secret id":      {RoleID: roleID, SecretID: secretID, MountPath: mount},
		"secret id file": {RoleID: roleID, SecretIDFile: sidFile, MountPath: mount},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, logs := newVaultBackend(t, srv, vault.Config{AppRole: ar, Timeout: 5 * time.Second})
			start := time.Now()
			for time.Since(start) < 22*time.Second { // > token_max_ttl
				dk, err := b.GenerateDataKey(ctx, id, backend.EncryptionContext{"t": name})
				require.NoError(t, err, "after %s", time.Since(start))
				got, err := b.Decrypt(ctx, dk.Ciphertext, backend.EncryptionContext{"t": name})
				require.NoError(t, err)
				require.Equal(t, dk.Plaintext, got.Plaintext)
				require.NoError(t, b.Health(ctx))
				time.Sleep(500 * time.Millisecond)
			}
			out := logs.String()
			t.Logf("%d logins, %d renewals, %d 403-triggered logins in %s", strings.Count(out, "AppRole login"),
				strings.Count(out, "token renewed"), strings.Count(out, "after a 403"), time.Since(start).Round(time.Second))
			require.NotContains(t, out, "after a 403", "the token expired before it was replaced")
			require.GreaterOrEqual(t, strings.Count(out, "AppRole login"), 2, "no re-login after max TTL:\n%s", out)
			require.GreaterOrEqual(t, strings.Count(out, "token renewed"), 1, "no renewal:\n%s", out)
			require.NotContains(t, out, secretID)
			require.NotContains(t, out, "hvs.")
			require.NotContains(t, fmt.Sprintf("%v %+v %#v", b, ar, *ar), secretID)
		})
	}
	// A wrong secret id is refused at New with ErrAccessDenied-ish and no leak.
	_, err = vault.New(ctx, vault.Config{Address: srv.Addr, AppRole: &vault.AppRole{RoleID: roleID, SecretID: "wrong-" + secretID, MountPath: mount}})
	require.Error(t, err)
	require.True(t, errors.Is(err, backend.ErrAccessDenied) || errors.Is(err, backend.ErrInvalidArgument), "%v", err)
	require.NotContains(t, err.Error(), secretID)
}

// TestVaultTLS: HTTPS with the CA file verifies; without it the server is
// refused (ErrUnavailable, not a hang); SkipVerify connects; a client
// certificate pair is loaded (and a broken one refused at New).
func TestVaultTLS(t *testing.T) {
	srv := newDevVault(t, "-dev-tls")
	ctx := vaultTestCtx(t, time.Minute)
	id := "tls-" + backend.NewKeyID()

	b, _ := newVaultBackend(t, srv, vault.Config{TLS: vault.TLSConfig{CAFile: srv.tlsFile("vault-ca.pem")}})
	require.NoError(t, b.Health(ctx))
	_, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id})
	require.NoError(t, err)
	dk, err := b.GenerateDataKey(ctx, id, nil)
	require.NoError(t, err)

	untrusted, _ := newVaultBackend(t, srv, vault.Config{RetryAttempts: -1})
	err = untrusted.Health(ctx)
	require.ErrorIs(t, err, backend.ErrUnavailable)
	require.Contains(t, err.Error(), "certificate")

	skip, _ := newVaultBackend(t, srv, vault.Config{TLS: vault.TLSConfig{SkipVerify: true}})
	got, err := skip.Decrypt(ctx, dk.Ciphertext, nil)
	require.NoError(t, err)
	require.Equal(t, dk.Plaintext, got.Plaintext)

	mtls, _ := newVaultBackend(t, srv, vault.Config{TLS: vault.TLSConfig{
		CAFile: srv.tlsFile("vault-ca.pem"), ClientCert: srv.tlsFile("vault-cert.pem"), ClientKey: srv.tlsFile("vault-key.pem")}})
	require.NoError(t, mtls.Health(ctx))

	_, err = vault.New(ctx, vault.Config{Address: srv.Addr, Token: srv.Token, TLS: vault.TLSConfig{
		ClientCert: srv.tlsFile("vault-cert.pem"), ClientKey: srv.tlsFile("vault-ca.pem")}})
	require.ErrorIs(t, err, backend.ErrInvalidArgument)
	_, err = vault.New(ctx, vault.Config{Address: srv.Addr, Token: srv.Token, TLS: vault.TLSConfig{CAFile: "/nonexistent/ca.pem"}})
	require.ErrorIs(t, err, backend.ErrInvalidArgument)
}
