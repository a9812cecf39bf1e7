package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms"
	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/vault"
)

// vaultDataKeyer is what the load generator calls: a vault.Backend or a
// kms.Manager.
type vaultDataKeyer interface {
	GenerateDataKey(ctx context.Context, keyID string, ec backend.EncryptionContext) (backend.DataKey, error)
	Decrypt(ctx context.Context, ciphertext []byte, ec backend.EncryptionContext) (backend.DataKey, error)
}

// vaultLoadStats records every call's outcome and duration.
type vaultLoadStats struct {
	mu       sync.Mutex
	calls    int
	failures int
	slowest  time.Duration
	badErrs  []error // failures that are not ErrUnavailable
	lastOK   atomic.Int64
}

func (s *vaultLoadStats) record(d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	s.slowest = max(s.slowest, d)
	if err == nil {
		s.lastOK.Store(time.Now().UnixNano())
		return
	}
	s.failures++
	if !errors.Is(err, backend.ErrUnavailable) && len(s.badErrs) < 5 {
		s.badErrs = append(s.badErrs, err)
	}
}

func (s *vaultLoadStats) snapshot() (calls, failures int, slowest time.Duration, bad []error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, s.failures, s.slowest, append([]error(nil), s.badErrs...)
}

func (s *vaultLoadStats) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls, s.failures, s.slowest, s.badErrs = 0, 0, 0, nil
}

// vaultRunLoad calls GenerateDataKey+Decrypt in workers goroutines until stop is
// closed. Calls use context.Background(): only the backend's own timeout
// bounds them.
func vaultRunLoad(dk vaultDataKeyer, keyID string, workers int, st *vaultLoadStats, stop <-chan struct{}, wg *sync.WaitGroup) {
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ec := backend.EncryptionContext{"worker": fmt.Sprint(w)}
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				k, err := dk.GenerateDataKey(context.Background(), keyID, ec)
				st.record(time.Since(start), err)
				if err == nil {
					start = time.Now()
					got, err := dk.Decrypt(context.Background(), k.Ciphertext, ec)
					st.record(time.Since(start), err)
					got.Zero()
					k.Zero()
				} else {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
}

// TestVaultFaultsMidLoad: under load, Vault is frozen (SIGSTOP: connections
// accepted, nothing answered), then killed (SIGKILL), then restarted from
// its file storage and unsealed. No call ever outlives the timeout, failures
// are ErrUnavailable, and the same Backend and the same kms.Manager recover
// without being restarted; old ciphertexts still decrypt.
func TestVaultFaultsMidLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("takes ~30s")
	}
	srv := newFileVault(t)
	ctx := vaultTestCtx(t, 3*time.Minute)
	const timeout = 2 * time.Second
	// A call may take the timeout plus scheduling noise (race detector, 2
	// cores); what must never happen is a call that hangs.
	const bound = timeout + 1500*time.Millisecond

	logs := &vaultLogBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b, err := vault.New(ctx, vault.Config{Address: srv.Addr, Token: srv.Token, Timeout: timeout, RetryAttempts: 2, Logger: logger})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	id := "fault-" + backend.NewKeyID()
	_, err = b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id})
	require.NoError(t, err)
	before, err := b.GenerateDataKey(ctx, id, backend.EncryptionContext{"phase": "before"})
	require.NoError(t, err)

	m := kms.NewManager(kms.WithLogger(logger))
	require.NoError(t, m.Configure(ctx, kms.Config{
		BackendType:    kms.BackendVault,
		Address:        srv.Addr,
		AuthMethod:     &kms.AuthMethod{Token: kms.Secret(srv.Token)},
		DefaultKeyID:   id,
		TimeoutSeconds: int(timeout / time.Second),
		RetryAttempts:  2,
	}))
	require.NoError(t, m.Start(ctx))
	t.Cleanup(func() { _ = m.Stop(context.Background()) })

	stats := map[string]*vaultLoadStats{"backend": {}, "manager": {}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	vaultRunLoad(b, id, 3, stats["backend"], stop, &wg)
	vaultRunLoad(m, id, 3, stats["manager"], stop, &wg)
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()

	check := func(phase string, wantFailures bool) {
		t.Helper()
		for name, st := range stats {
			calls, failures, slowest, bad := st.snapshot()
			t.Logf("%-8s %-10s calls %5d, failures %5d, slowest %v", phase, name, calls, failures, slowest.Round(time.Millisecond))
			require.Empty(t, bad, "%s/%s: failures other than ErrUnavailable", phase, name)
			require.LessOrEqual(t, slowest, bound, "%s/%s: a call took longer than the timeout", phase, name)
			require.Positive(t, calls, "%s/%s: no calls", phase, name)
			if wantFailures {
				require.Positive(t, failures, "%s/%s: Vault was down but no call failed", phase, name)
			} else {
				require.Zero(t, failures, "%s/%s", phase, name)
			}
			st.reset()
		}
	}

	time.Sleep(time.Second)
	check("healthy", false)

	// Frozen: the kernel still accepts connections, Vault answers nothing.
	pid, err := srv.vaultPID()
	require.NoError(t, err)
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	time.Sleep(3 * timeout)
	hctx, hcancel := context.WithTimeout(context.Background(), time.Minute)
	start := time.Now()
	require.ErrorIs(t, b.Health(hctx), backend.ErrUnavailable)
	require.LessOrEqual(t, time.Since(start), bound)
	hcancel()
	require.NoError(t, syscall.Kill(pid, syscall.SIGCONT))
	vaultWaitRecovered(t, stats, 20*time.Second)
	check("frozen", true)

	// Killed: connection refused until it is back.
	srv.Kill(t)
	time.Sleep(2 * timeout)
	require.ErrorIs(t, b.Health(ctx), backend.ErrUnavailable)
	st := m.Status(ctx)
	require.False(t, st.Healthy, "Manager status healthy while Vault is down: %+v", st)
	srv.Restart(t) // comes back sealed
	time.Sleep(timeout)
	require.ErrorIs(t, b.Health(ctx), backend.ErrUnavailable)
	srv.unseal(t)
	vaultWaitRecovered(t, stats, 30*time.Second)
	check("killed", true)

	// Same Backend, same Manager: fully working, old ciphertexts too.
	time.Sleep(time.Second)
	check("restarted", false)
	close(stop)
	wg.Wait()
	require.NoError(t, b.Health(ctx))
	got, err := b.Decrypt(ctx, before.Ciphertext, backend.EncryptionContext{"phase": "before"})
	require.NoError(t, err)
	require.Equal(t, before.Plaintext, got.Plaintext)
	got, err = m.Decrypt(ctx, before.Ciphertext, backend.EncryptionContext{"phase": "before"})
	require.NoError(t, err)
	require.Equal(t, before.Plaintext, got.Plaintext)
	require.Equal(t, kms.StateRunning, m.Status(ctx).State)
	require.True(t, m.Status(ctx).Healthy)
	require.NotContains(t, logs.String(), srv.Token, "root token in logs")
	require.NotContains(t, fmt.Sprintf("%v %+v", m.Status(ctx), m.Status(ctx)), srv.Token)
}

// vaultWaitRecovered waits until every load generator has had a success after
// now.
func vaultWaitRecovered(t *testing.T, stats map[string]*vaultLoadStats, d time.Duration) {
	t.Helper()
	since := time.Now().UnixNano()
	deadline := time.Now().Add(d)
	for {
		ok := true
		for _, st := range stats {
			if st.lastOK.Load() <= since {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery within %s", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestVaultManagerHotSwapFromLocal: a kms.Manager serving from a local key
// directory is reconfigured to Vault while a workload runs; no data-key call
// fails and new data keys come from Vault.
func TestVaultManagerHotSwapFromLocal(t *testing.T) {
	srv := sharedDevVault(t)
	ctx := vaultTestCtx(t, 2*time.Minute)
	admin, _ := newVaultBackend(t, srv, vault.Config{})
	vk := "swap-" + backend.NewKeyID()
	_, err := admin.CreateKey(ctx, backend.CreateKeyRequest{KeyID: vk})
	require.NoError(t, err)

	logs := &vaultLogBuffer{}
	m := kms.NewManager(kms.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	cfg := kms.DefaultConfig()
	cfg.BackendType = kms.BackendLocal
	cfg.KeyDir = t.TempDir()
	cfg.InsecurePlaintextKeys = true
	cfg.DefaultKeyID = "local-default"
	require.NoError(t, m.Configure(ctx, cfg))
	require.NoError(t, m.Start(ctx))
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	_, err = m.CreateKey(ctx, kms.CreateKeyRequest{KeyID: "local-default"})
	require.NoError(t, err)

	var gens, fails atomic.Int64
	var vaultKeys atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ec := backend.EncryptionContext{"w": fmt.Sprint(w)}
			for {
				select {
				case <-stop:
					return
				default:
				}
				dk, err := m.GenerateDataKey(ctx, "", ec) // the default key of whichever backend serves
				if err != nil {
					fails.Add(1)
					t.Errorf("GenerateDataKey during the swap: %v", err)
					return
				}
				gens.Add(1)
				if dk.KeyID == vk {
					vaultKeys.Add(1)
					got, err := m.Decrypt(ctx, dk.Ciphertext, ec)
					if err != nil {
						t.Errorf("Decrypt after the swap: %v", err)
						return
					}
					got.Zero()
				}
				dk.Zero()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	bt, addr, def := kms.BackendVault, srv.Addr, vk
	require.NoError(t, m.Reconfigure(ctx, kms.ConfigPatch{
		BackendType:  &bt,
		Address:      &addr,
		AuthMethod:   &kms.AuthMethod{Token: kms.Secret(srv.Token)},
		DefaultKeyID: &def,
	}))
	st := m.Status(ctx)
	require.Equal(t, kms.StateRunning, st.State)
	require.Equal(t, kms.BackendVault, st.BackendType)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	require.Zero(t, fails.Load())
	require.Positive(t, vaultKeys.Load(), "no data keys from Vault after the swap")
	t.Logf("%d data keys, %d from Vault after the swap", gens.Load(), vaultKeys.Load())
	require.NotContains(t, logs.String(), srv.Token)
	require.NotContains(t, fmt.Sprintf("%v %+v", st, st), srv.Token)
}
