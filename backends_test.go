package kms

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// A registered backend: the fake world opened through WithBackend, with its
// own settings in backend_options.
func registered(w *fakeWorld, seen *[]string) Option {
	return WithBackend("acme", func(ctx context.Context, cfg Config) (Backend, error) {
		var opts struct {
			Store  string `json:"store"`
			APIKey string `json:"api_key"`
		}
		if err := cfg.BackendOptions.Decode(&opts); err != nil {
			return nil, err
		}
		if seen != nil {
			*seen = append(*seen, opts.Store)
		}
		return w.open(ctx, Config{KeyDir: opts.Store, MasterKey: fakeMasterKey}, nil)
	})
}

func acmeConfig(store string) Config {
	return Config{
		BackendType:    "acme",
		DefaultKeyID:   "default",
		BackendOptions: BackendOptions(fmt.Sprintf(`{"store":%q,"api_key":"acme-api-key-value"}`, store)),
	}
}

func TestWithBackend(t *testing.T) {
	ctx := context.Background()
	w := newFakeWorld()
	var seen []string
	m := NewManager(registered(w, &seen), WithLogger(quietLogger()), WithDefaultKeyCreation())

	t.Run("common fields validated", func(t *testing.T) {
		c := acmeConfig("s1")
		c.DefaultKeyID, c.TimeoutSeconds, c.CacheTTLSeconds = "../x", -1, -1
		require.Equal(t, []string{"default_key_id", "cache_ttl_seconds", "timeout_seconds"}, problemFields(t, m.Configure(ctx, c)))
	})
	t.Run("unregistered type is a ConfigError", func(t *testing.T) {
		c := acmeConfig("s1")
		c.BackendType = "other"
		require.Equal(t, []string{"backend_type"}, problemFields(t, m.Configure(ctx, c)))
		require.Equal(t, []string{"backend_type"}, problemFields(t, NewManager().Configure(ctx, acmeConfig("s1"))), "registration is per Manager")
	})
	t.Run("options reach the factory, bad options fail Start", func(t *testing.T) {
		c := acmeConfig("s1")
		c.BackendOptions = BackendOptions(`{"stor":"typo"}`)
		require.NoError(t, m.Configure(ctx, c))
		err := m.Start(ctx)
		require.ErrorIs(t, err, ErrInvalidConfig)
		require.Equal(t, StateError, m.Status(ctx).State)
	})

	require.NoError(t, m.Configure(ctx, acmeConfig("s1")))
	require.NoError(t, m.Start(ctx))
	t.Cleanup(func() { _ = m.Stop(ctx) })
	require.Equal(t, []string{"s1"}, seen[len(seen)-1:])

	t.Run("status names the type and redacts the options", func(t *testing.T) {
		st := m.Status(ctx)
		require.Equal(t, StateRunning, st.State)
		require.True(t, st.Healthy)
		require.Equal(t, BackendType("acme"), st.BackendType)
		require.Equal(t, BackendType("acme"), st.ConfigSummary.BackendType)
		require.Equal(t, redacted, st.ConfigSummary.BackendSummary["backend_options"])
		b, err := json.Marshal(st)
		require.NoError(t, err)
		cfg, _ := m.Config()
		for _, out := range []string{string(b), cfg.String(), fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg.BackendOptions)} {
			require.NotContains(t, out, "acme-api-key-value")
		}
	})
	t.Run("cache and retries apply", func(t *testing.T) {
		dk, err := m.GenerateDataKey(ctx, "", EncryptionContext{"b": "1"}) // default key created at Start
		require.NoError(t, err)
		before := w.backendOps.Load()
		for range 5 {
			got, err := m.Decrypt(ctx, dk.Ciphertext, EncryptionContext{"b": "1"})
			require.NoError(t, err)
			require.Equal(t, dk.Plaintext, got.Plaintext)
		}
		require.LessOrEqual(t, w.backendOps.Load()-before, int64(1), "cache hits do not reach the backend")
		m.ClearCache()
		w.failNext.Store(2)
		_, err = m.Decrypt(ctx, dk.Ciphertext, EncryptionContext{"b": "1"})
		require.NoError(t, err, "ErrUnavailable retried (retry_attempts defaults to 3)")
	})
	t.Run("hot swap to another store of the same type", func(t *testing.T) {
		opts := BackendOptions(`{"store":"s2"}`)
		require.NoError(t, m.Reconfigure(ctx, ConfigPatch{BackendOptions: opts}))
		require.Equal(t, "s2", seen[len(seen)-1])
		_, err := m.DescribeKey(ctx, "default")
		require.NoError(t, err, "default key created on the new backend too")
		ttl := 5
		n := len(seen)
		require.NoError(t, m.Reconfigure(ctx, ConfigPatch{CacheTTLSeconds: &ttl}))
		require.Len(t, seen, n, "a Manager-only change reuses the running backend")
	})
}

// A struct literal and JSON with the same fields configure the same Manager:
// zero values are the documented defaults (retries were silently off once).
func TestZeroValuesAreDefaults(t *testing.T) {
	ctx := context.Background()
	lit := NewManager(withFakes(newFakeWorld()), WithLogger(quietLogger()))
	require.NoError(t, lit.Configure(ctx, Config{BackendType: BackendLocal, KeyDir: "/fake/z", MasterKey: fakeMasterKey}))
	var fromJSON Config
	require.NoError(t, json.Unmarshal([]byte(`{"backend_type":"local","key_dir":"/fake/z","master_key":"`+fakeMasterKey+`"}`), &fromJSON))
	js := NewManager(withFakes(newFakeWorld()), WithLogger(quietLogger()))
	require.NoError(t, js.Configure(ctx, fromJSON))

	a, b := lit.Status(ctx).ConfigSummary, js.Status(ctx).ConfigSummary
	require.Equal(t, a, b)
	require.Equal(t, DefaultRetryAttempts, a.RetryAttempts)
	require.Equal(t, DefaultTimeoutSeconds, a.TimeoutSeconds)
	require.True(t, a.EnableCache)
	require.Equal(t, DefaultMaxCachedKeys, a.CacheSummary.MaxKeys)
	require.Equal(t, DefaultCacheTTLSeconds, a.CacheSummary.TTLSeconds)
	cfg, _ := lit.Config()
	require.Equal(t, DefaultRetryAttempts, cfg.RetryAttempts, "Config() is the effective configuration")
}

func TestDefaultKeyCreation(t *testing.T) {
	ctx := context.Background()
	without := NewManager(withFakes(newFakeWorld()), WithLogger(quietLogger()))
	require.NoError(t, without.Configure(ctx, fakeConfig("a")))
	require.NoError(t, without.Start(ctx))
	defer without.Stop(ctx)
	_, err := without.GenerateDataKey(ctx, "", nil)
	require.ErrorIs(t, err, ErrKeyNotFound, "without the option the default key must be created first")

	w := newFakeWorld()
	for range 2 { // the second Start finds the key and leaves it alone
		m := NewManager(withFakes(w), WithLogger(quietLogger()), WithDefaultKeyCreation())
		require.NoError(t, m.Configure(ctx, fakeConfig("a")))
		require.NoError(t, m.Start(ctx))
		_, err = m.GenerateDataKey(ctx, "", nil)
		require.NoError(t, err)
		require.NoError(t, m.Stop(ctx))
	}
}
