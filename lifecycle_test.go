package kms

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/envkms/kms/backend"
	"github.com/stretchr/testify/require"
)

const fakeMasterKey = "correct horse battery staple"

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func fakeConfig(dir string) Config {
	c := DefaultConfig()
	c.BackendType = BackendLocal
	c.KeyDir = "/fake/" + dir
	c.MasterKey = fakeMasterKey
	c.DefaultKeyID = "default"
	return c
}

// startFake returns a Running Manager on a fake backend with key "default".
func startFake(t *testing.T, w *fakeWorld, cfg Config, opts ...Option) *Manager {
	t.Helper()
	ctx := context.Background()
	m := NewManager(append([]Option{withFakes(w), WithLogger(quietLogger())}, opts...)...)
	require.NoError(t, m.Configure(ctx, cfg))
	require.NoError(t, m.Start(ctx))
	if _, err := m.CreateKey(ctx, CreateKeyRequest{KeyID: cfg.DefaultKeyID}); err != nil && !errors.Is(err, ErrKeyExists) {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	return m
}

// TestLifecycleStates runs every lifecycle operation from every state.
func TestLifecycleStates(t *testing.T) {
	ctx := context.Background()
	// enter returns a Manager (with WithDefaultKeyCreation) in state st.
	enter := func(t *testing.T, st State) *Manager {
		w := newFakeWorld()
		m := NewManager(withFakes(w), WithLogger(quietLogger()), WithDefaultKeyCreation())
		t.Cleanup(func() { _ = m.Stop(ctx) })
		if st == StateNotConfigured {
			return m
		}
		require.NoError(t, m.Configure(ctx, fakeConfig("a")))
		switch st {
		case StateRunning:
			require.NoError(t, m.Start(ctx))
		case StateError:
			failure := error(&backend.Error{Op: "open", Err: backend.ErrUnavailable})
			w.openFailure.Store(&failure)
			require.Error(t, m.Start(ctx))
			w.openFailure.Store(nil)
		}
		require.Equal(t, st, m.Status(ctx).State)
		return m
	}
	ops := []struct {
		name string
		do   func(*Manager) error
	}{
		{"Configure", func(m *Manager) error { return m.Configure(ctx, fakeConfig("a")) }},
		{"Reconfigure", func(m *Manager) error { return m.Reconfigure(ctx, ConfigPatch{}) }},
		{"Start", func(m *Manager) error { return m.Start(ctx) }},
		{"Stop", func(m *Manager) error { return m.Stop(ctx) }},
		{"GenerateDataKey", func(m *Manager) error { _, err := m.GenerateDataKey(ctx, "", nil); return err }},
		{"DescribeKey", func(m *Manager) error { _, err := m.DescribeKey(ctx, "default"); return err }},
	}
	type want struct {
		err   error // nil: success
		state State
	}
	nc, cf, rn, er := StateNotConfigured, StateConfigured, StateRunning, StateError
	table := map[State][]want{ // one entry per op, in ops order
		nc: {{nil, cf}, {ErrNotConfigured, nc}, {ErrNotConfigured, nc}, {ErrNotRunning, nc}, {ErrNotRunning, nc}, {ErrNotRunning, nc}},
		cf: {{nil, cf}, {nil, cf}, {nil, rn}, {ErrNotRunning, cf}, {ErrNotRunning, cf}, {ErrNotRunning, cf}},
		rn: {{ErrAlreadyRunning, rn}, {nil, rn}, {ErrAlreadyRunning, rn}, {nil, cf}, {nil, rn}, {nil, rn}},
		er: {{nil, cf}, {nil, cf}, {nil, rn}, {nil, cf}, {ErrNotRunning, er}, {ErrNotRunning, er}},
	}
	for _, st := range []State{nc, cf, rn, er} {
		require.Len(t, table[st], len(ops))
		for i, op := range ops {
			w := table[st][i]
			t.Run(string(st)+"/"+op.name, func(t *testing.T) {
				m := enter(t, st)
				err := op.do(m)
				if w.err == nil {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, w.err)
				}
				got := m.Status(ctx)
				require.Equal(t, w.state, got.State)
				require.Equal(t, w.state == rn, got.Healthy)
				require.Equal(t, w.state != nc, got.ConfigSummary != nil)
			})
		}
	}
}

func TestLifecycleRestart(t *testing.T) {
	ctx := context.Background()
	w := newFakeWorld()
	m := NewManager(withFakes(w), WithLogger(quietLogger()))
	require.NoError(t, m.Configure(ctx, fakeConfig("a")))
	require.Empty(t, w.opened, "Configure must not open a backend")
	require.NoError(t, m.Start(ctx))
	require.Equal(t, BackendLocal, m.Status(ctx).BackendType)
	_, err := m.CreateKey(ctx, CreateKeyRequest{KeyID: "default"})
	require.NoError(t, err)
	dk, err := m.GenerateDataKey(ctx, "", EncryptionContext{"bucket": "b"})
	require.NoError(t, err)
	require.Equal(t, "default", dk.KeyID)
	require.NoError(t, m.Stop(ctx))
	require.True(t, w.opened[0].closed.Load(), "Stop closes the backend")

	// Restart: a new backend on the same store serves the old ciphertext.
	require.NoError(t, m.Start(ctx))
	got, err := m.Decrypt(ctx, dk.Ciphertext, EncryptionContext{"bucket": "b"})
	require.NoError(t, err)
	require.Equal(t, dk.Plaintext, got.Plaintext)
	require.NoError(t, m.Stop(ctx))
}

func TestStartFailureEntersError(t *testing.T) {
	ctx := context.Background()
	w := newFakeWorld()
	m0 := startFake(t, w, fakeConfig("a")) // creates the store with fakeMasterKey
	require.NoError(t, m0.Stop(ctx))

	t.Run("wrong master key", func(t *testing.T) {
		m := NewManager(withFakes(w), WithLogger(quietLogger()))
		cfg := fakeConfig("a")
		cfg.MasterKey = "wrong secret value"
		require.NoError(t, m.Configure(ctx, cfg))
		err := m.Start(ctx)
		require.ErrorIs(t, err, ErrAccessDenied)
		st := m.Status(ctx)
		require.Equal(t, StateError, st.State)
		require.NotEmpty(t, st.Error)
		require.NotContains(t, st.Error, "wrong secret value")
		_, err = m.ListKeys(ctx, ListKeysRequest{})
		require.ErrorIs(t, err, ErrNotRunning)

		// Fix the secret: Reconfigure leaves Error for Configured; Start works.
		good := Secret(fakeMasterKey)
		require.NoError(t, m.Reconfigure(ctx, ConfigPatch{MasterKey: &good}))
		require.Equal(t, StateConfigured, m.Status(ctx).State)
		require.NoError(t, m.Start(ctx))
		require.NoError(t, m.Stop(ctx))
	})

	t.Run("unhealthy backend", func(t *testing.T) {
		unavailable := error(&backend.Error{Op: "Health", Err: backend.ErrUnavailable})
		w.healthErr.Store(&unavailable)
		defer w.healthErr.Store(nil)
		m := NewManager(withFakes(w), WithLogger(quietLogger()))
		cfg := fakeConfig("a")
		cfg.RetryAttempts = 1
		require.NoError(t, m.Configure(ctx, cfg))
		n := len(w.opened)
		err := m.Start(ctx)
		require.ErrorIs(t, err, ErrUnavailable)
		require.Equal(t, StateError, m.Status(ctx).State)
		require.True(t, w.opened[n].closed.Load(), "a backend that failed its probe is closed")
		// Stop acknowledges the error.
		require.NoError(t, m.Stop(ctx))
		require.Equal(t, StateConfigured, m.Status(ctx).State)
	})
}

func TestConfigureRejectsInvalidAndKeepsState(t *testing.T) {
	ctx := context.Background()
	m := NewManager(withFakes(newFakeWorld()), WithLogger(quietLogger()))
	bad := fakeConfig("a")
	bad.KeyDir = "relative/dir"
	var ce *ConfigError
	require.ErrorAs(t, m.Configure(ctx, bad), &ce)
	require.Equal(t, "key_dir", ce.Problems[0].Field)
	require.Equal(t, StateNotConfigured, m.Status(ctx).State)

	require.NoError(t, m.Configure(ctx, fakeConfig("a")))
	require.ErrorIs(t, m.Configure(ctx, bad), ErrInvalidConfig)
	c, ok := m.Config()
	require.True(t, ok)
	require.Equal(t, "/fake/a", c.KeyDir, "an invalid Configure leaves the previous config")
}

func TestReconfigureMergesOnlyGivenFields(t *testing.T) {
	ctx := context.Background()
	m := NewManager(withFakes(newFakeWorld()), WithLogger(quietLogger()))
	require.NoError(t, m.Configure(ctx, fakeConfig("a")))
	ttl, id := 60, "other"
	require.NoError(t, m.Reconfigure(ctx, ConfigPatch{CacheTTLSeconds: &ttl, DefaultKeyID: &id}))
	c, _ := m.Config()
	want := fakeConfig("a")
	want.CacheTTLSeconds, want.DefaultKeyID = 60, "other"
	require.Equal(t, want, c)

	neg := -1
	var ce *ConfigError
	require.ErrorAs(t, m.Reconfigure(ctx, ConfigPatch{MaxCachedKeys: &neg}), &ce)
	require.Equal(t, "max_cached_keys", ce.Problems[0].Field)
	c2, _ := m.Config()
	require.Equal(t, c, c2)
}

func TestFailedHotSwapKeepsServing(t *testing.T) {
	ctx := context.Background()
	w := newFakeWorld()
	m := startFake(t, w, fakeConfig("a"))
	ec := EncryptionContext{"k": "v"}
	dk, err := m.GenerateDataKey(ctx, "", ec)
	require.NoError(t, err)

	// New dir whose open fails.
	boom := error(&backend.Error{Op: "open", Err: backend.ErrUnavailable})
	w.openFailure.Store(&boom)
	dir := "/fake/b"
	require.ErrorIs(t, m.Reconfigure(ctx, ConfigPatch{KeyDir: &dir}), ErrUnavailable)
	w.openFailure.Store(nil)

	// New dir whose health probe fails.
	unhealthy := error(&backend.Error{Op: "Health", Err: backend.ErrAccessDenied})
	w.healthErr.Store(&unhealthy)
	require.ErrorIs(t, m.Reconfigure(ctx, ConfigPatch{KeyDir: &dir}), ErrAccessDenied)
	w.healthErr.Store(nil)

	st := m.Status(ctx)
	require.Equal(t, StateRunning, st.State)
	require.True(t, st.Healthy)
	c, _ := m.Config()
	require.Equal(t, "/fake/a", c.KeyDir)
	m.ClearCache()
	got, err := m.Decrypt(ctx, dk.Ciphertext, ec)
	require.NoError(t, err)
	require.Equal(t, dk.Plaintext, got.Plaintext)
	require.False(t, w.opened[0].closed.Load())
}

func TestReconfigureReusesBackendForNonBackendFields(t *testing.T) {
	ctx := context.Background()
	w := newFakeWorld()
	m := startFake(t, w, fakeConfig("a"))
	ttl, retries, timeout := 10, 1, 5
	require.NoError(t, m.Reconfigure(ctx, ConfigPatch{CacheTTLSeconds: &ttl, RetryAttempts: &retries, TimeoutSeconds: &timeout}))
	require.Len(t, w.opened, 1, "no new backend for cache/retry/timeout changes on local")
	require.False(t, w.opened[0].closed.Load())

	dir := "/fake/b"
	require.NoError(t, m.Reconfigure(ctx, ConfigPatch{KeyDir: &dir}))
	require.Len(t, w.opened, 2)
	require.True(t, w.opened[0].closed.Load(), "the replaced backend is closed once drained")
	c, _ := m.Config()
	require.Equal(t, "/fake/b", c.KeyDir)
	require.Equal(t, 10, c.CacheTTLSeconds)
}

func TestRetryPolicy(t *testing.T) {
	ctx := context.Background()
	w := newFakeWorld()
	cfg := fakeConfig("a")
	cfg.RetryAttempts = 2
	cfg.EnableCache = new(false)
	m := startFake(t, w, cfg, WithCircuitBreaker(0, 0)) // about retries; the breaker has its own tests
	ec := EncryptionContext{"a": "b"}

	// Two failures then success: retried.
	w.failNext.Store(2)
	dk, err := m.GenerateDataKey(ctx, "", ec)
	require.NoError(t, err)
	w.failNext.Store(2)
	_, err = m.Decrypt(ctx, dk.Ciphertext, ec)
	require.NoError(t, err)

	// Three failures exceed 1 + 2 attempts.
	w.failNext.Store(3)
	_, err = m.DescribeKey(ctx, "default")
	require.ErrorIs(t, err, ErrUnavailable)
	require.Equal(t, int32(0), w.failNext.Load())

	// Not retried: CreateKey, RotateKey.
	w.failNext.Store(1)
	_, err = m.CreateKey(ctx, CreateKeyRequest{KeyID: "x"})
	require.ErrorIs(t, err, ErrUnavailable)
	w.failNext.Store(1)
	_, err = m.RotateKey(ctx, "default")
	require.ErrorIs(t, err, ErrUnavailable)

	// Errors other than ErrUnavailable are not retried.
	before := w.backendOps.Load()
	_, err = m.DescribeKey(ctx, "missing")
	require.ErrorIs(t, err, ErrKeyNotFound)
	require.Equal(t, before+1, w.backendOps.Load())

	s := m.Stats()
	require.Equal(t, uint64(2), s.Errors["DescribeKey"])
	require.Equal(t, uint64(1), s.Errors["CreateKey"])
}

func TestTimeoutBoundsEveryCall(t *testing.T) {
	ctx := context.Background()
	w := newFakeWorld()
	cfg := fakeConfig("a")
	cfg.TimeoutSeconds = 1
	cfg.RetryAttempts = 3
	cfg.EnableCache = new(false)
	m := startFake(t, w, cfg)
	w.delay.Store(int64(time.Hour))
	start := time.Now()
	_, err := m.GenerateDataKey(ctx, "", nil)
	require.ErrorIs(t, err, ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 3*time.Second, "retries stay within timeout_seconds")

	// The caller's own cancellation is reported as such.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = m.GenerateDataKey(cctx, "", nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	w.delay.Store(0)
}

func TestCacheAndStats(t *testing.T) {
	ctx := context.Background()
	w := newFakeWorld()
	m := startFake(t, w, fakeConfig("a"))
	ec := EncryptionContext{"bucket": "b", "object": "o"}
	dk, err := m.GenerateDataKey(ctx, "", ec)
	require.NoError(t, err)

	before := w.backendOps.Load()
	for range 10 {
		got, err := m.Decrypt(ctx, dk.Ciphertext, ec)
		require.NoError(t, err)
		require.Equal(t, dk.Plaintext, got.Plaintext)
		require.Equal(t, "default", got.KeyID)
		got.Zero() // must not damage the cached copy
	}
	require.Equal(t, before, w.backendOps.Load(), "GenerateDataKey primed the cache")

	// A different context is a different cache entry, and fails.
	_, err = m.Decrypt(ctx, dk.Ciphertext, EncryptionContext{"bucket": "b", "object": "other"})
	require.ErrorIs(t, err, ErrInvalidCiphertext)

	s := m.Stats()
	require.Equal(t, uint64(10), s.CacheHits)
	require.Equal(t, uint64(1), s.CacheMisses)
	require.InDelta(t, 10.0/11, s.CacheHitRatio, 1e-9)
	require.Equal(t, 1, s.CacheSize)
	require.Equal(t, uint64(11), s.Operations["Decrypt"])
	require.Equal(t, uint64(1), s.Errors["Decrypt"])

	m.ClearCache()
	require.Equal(t, 0, m.Stats().CacheSize)
	_, err = m.Decrypt(ctx, dk.Ciphertext, ec)
	require.NoError(t, err)
	require.Equal(t, before+2, w.backendOps.Load())

	// Scheduling deletion drops cached keys: Decrypt then fails as the backend says.
	moveDefaultKey(t, m) // the default key itself cannot be scheduled for deletion
	_, err = m.ScheduleKeyDeletion(ctx, "default", 7)
	require.NoError(t, err)
	_, err = m.Decrypt(ctx, dk.Ciphertext, ec)
	require.ErrorIs(t, err, ErrKeyPendingDeletion)
}

func TestGenerateDataKeyNeedsAKeyID(t *testing.T) {
	cfg := fakeConfig("a")
	m := startFake(t, newFakeWorld(), cfg)
	empty := ""
	require.NoError(t, m.Reconfigure(context.Background(), ConfigPatch{DefaultKeyID: &empty}))
	_, err := m.GenerateDataKey(context.Background(), "", nil)
	require.ErrorIs(t, err, ErrInvalidArgument)
	require.True(t, strings.Contains(err.Error(), "default_key_id"))
}
