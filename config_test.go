package kms

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func problemFields(t *testing.T, err error) []string {
	t.Helper()
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	require.ErrorIs(t, err, ErrInvalidConfig)
	var fields []string
	for _, p := range ce.Problems {
		fields = append(fields, p.Field)
	}
	return fields
}

func TestValidate(t *testing.T) {
	vault := func(mod func(*Config)) Config {
		c := DefaultConfig()
		c.BackendType = BackendVault
		c.Address = "https://vault.example:8200"
		c.AuthMethod = &AuthMethod{Token: "s.token"}
		mod(&c)
		return c
	}
	loc := func(mod func(*Config)) Config {
		c := localConfig("/var/lib/kms")
		mod(&c)
		return c
	}
	tests := []struct {
		name   string
		cfg    Config
		fields []string // nil: valid
	}{
		{"local ok", loc(func(*Config) {}), nil},
		{"local master key file", loc(func(c *Config) { c.MasterKey, c.MasterKeyFile = "", "/run/secrets/mk" }), nil},
		{"local insecure", loc(func(c *Config) { c.MasterKey, c.InsecurePlaintextKeys = "", true }), nil},
		{"vault token", vault(func(*Config) {}), nil},
		{"vault approle file", vault(func(c *Config) {
			c.AuthMethod = &AuthMethod{AppRole: &AppRole{RoleID: "r", SecretIDFile: "/s"}}
		}), nil},
		{"cache disabled with zero sizes", loc(func(c *Config) { c.EnableCache, c.MaxCachedKeys, c.CacheTTLSeconds = new(false), 0, 0 }), nil},
		{"zero timeout means default", loc(func(c *Config) { c.TimeoutSeconds, c.RetryAttempts = 0, 0 }), nil},

		{"empty", Config{}, []string{"backend_type"}},
		{"unknown backend", loc(func(c *Config) { c.BackendType = "kmip" }), []string{"backend_type"}},
		{"relative key_dir", loc(func(c *Config) { c.KeyDir = "keys" }), []string{"key_dir"}},
		{"missing key_dir", loc(func(c *Config) { c.KeyDir = "" }), []string{"key_dir"}},
		{"missing master key", loc(func(c *Config) { c.MasterKey = "" }), []string{"master_key"}},
		{"both master keys", loc(func(c *Config) { c.MasterKeyFile = "/x" }), []string{"master_key"}},
		{"insecure with master key", loc(func(c *Config) { c.InsecurePlaintextKeys = true }), []string{"insecure_plaintext_keys"}},
		{"zero cache size means default", loc(func(c *Config) { c.MaxCachedKeys = 0 }), nil},
		{"no retries", loc(func(c *Config) { c.RetryAttempts = NoRetries }), nil},
		{"retries below -1", loc(func(c *Config) { c.RetryAttempts = -2 }), []string{"retry_attempts"}},
		{"negative cache ttl", loc(func(c *Config) { c.CacheTTLSeconds = -1 }), []string{"cache_ttl_seconds"}},
		{"negative sizes, cache off", loc(func(c *Config) { c.EnableCache, c.MaxCachedKeys = new(false), -5 }), []string{"max_cached_keys"}},
		{"huge ttl", loc(func(c *Config) { c.CacheTTLSeconds = MaxCacheTTLSeconds + 1 }), []string{"cache_ttl_seconds"}},
		{"negative timeout and retries", loc(func(c *Config) { c.TimeoutSeconds, c.RetryAttempts = -1, -2 }), []string{"timeout_seconds", "retry_attempts"}},
		{"bad default key id", loc(func(c *Config) { c.DefaultKeyID = "../etc" }), []string{"default_key_id"}},
		{"vault no address", vault(func(c *Config) { c.Address = "" }), []string{"address"}},
		{"vault bad address", vault(func(c *Config) { c.Address = "vault:8200" }), []string{"address"}},
		{"vault no auth", vault(func(c *Config) { c.AuthMethod = nil }), []string{"auth_method"}},
		{"vault empty auth", vault(func(c *Config) { c.AuthMethod = &AuthMethod{} }), []string{"auth_method"}},
		{"vault two auths", vault(func(c *Config) { c.AuthMethod.TokenFile = "/t" }), []string{"auth_method"}},
		{"vault approle incomplete", vault(func(c *Config) {
			c.AuthMethod = &AuthMethod{AppRole: &AppRole{}}
		}), []string{"auth_method.approle.role_id", "auth_method.approle.secret_id"}},
		{"vault half client cert", vault(func(c *Config) { c.TLS = &TLSConfig{ClientCert: "/c"} }), []string{"tls.client_cert"}},
		{"everything wrong", Config{BackendType: "x", EnableCache: new(true), TimeoutSeconds: -3},
			[]string{"backend_type", "timeout_seconds"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.fields == nil {
				require.NoError(t, err)
				return
			}
			require.Equal(t, tt.fields, problemFields(t, err))
			for _, secret := range []string{"s.token", testMasterKey, "kmip", "../etc", "vault:8200"} {
				require.NotContains(t, err.Error(), secret, "problems never quote values")
			}
		})
	}
}

func TestConfigJSON(t *testing.T) {
	t.Run("absent fields are the struct literal's zero values", func(t *testing.T) {
		var c Config
		require.NoError(t, json.Unmarshal([]byte(`{"backend_type":"local","key_dir":"/k","master_key":"m"}`), &c))
		require.Equal(t, Config{BackendType: BackendLocal, KeyDir: "/k", MasterKey: "m"}, c)
		require.NoError(t, c.Validate())
		require.Equal(t, DefaultConfig().Summary().CacheSummary, c.Summary().CacheSummary)
		require.Equal(t, DefaultRetryAttempts, c.Summary().RetryAttempts)
	})
	t.Run("explicit zero means the default", func(t *testing.T) {
		var c Config
		require.NoError(t, json.Unmarshal([]byte(`{"backend_type":"local","key_dir":"/k","master_key":"m","max_cached_keys":0,"retry_attempts":0}`), &c))
		require.NoError(t, c.Validate())
		require.Equal(t, DefaultMaxCachedKeys, c.Summary().CacheSummary.MaxKeys)
		require.Equal(t, DefaultRetryAttempts, c.Summary().RetryAttempts)
	})
	t.Run("explicit off switches kept", func(t *testing.T) {
		var c Config
		require.NoError(t, json.Unmarshal([]byte(`{"enable_cache":false,"retry_attempts":-1}`), &c))
		require.False(t, *c.EnableCache)
		require.False(t, c.Summary().EnableCache)
		require.Zero(t, c.Summary().RetryAttempts)
	})
	t.Run("seed vault shape", func(t *testing.T) {
		var c Config
		require.NoError(t, json.Unmarshal([]byte(`{
			"backend_type": "vault", "address": "http://127.0.0.1:8200",
			"auth_method": {"token": {"token": "s.abc"}}, "mount_path": "transit",
			"kv_mount": "secret", "key_path_prefix": "envkms/keys", "namespace": "",
			"tls": {"ca_file": "/ca.pem", "skip_tls_verify": false},
			"enable_cache": true, "max_cached_keys": 10, "cache_ttl_seconds": 5,
			"timeout_seconds": 7, "retry_attempts": 1}`), &c))
		require.NoError(t, c.Validate())
		require.Equal(t, "s.abc", c.AuthMethod.Token.Reveal())
		require.Equal(t, 7, c.TimeoutSeconds)
		var a Config
		require.NoError(t, json.Unmarshal([]byte(`{"backend_type":"vault","address":"https://v","auth_method":{"approle":{"role_id":"r","secret_id":"sid"}}}`), &a))
		require.NoError(t, a.Validate())
		require.Equal(t, "sid", a.AuthMethod.AppRole.SecretID.Reveal())
	})
	t.Run("errors never echo values", func(t *testing.T) {
		for _, in := range []string{
			`{"master_key": 12345678}`,
			`{"max_cached_keys": "sekret-value"}`,
			`{"master_key": "sekret-value", "typo_field": 1}`,
			`{"auth_method": {"token": 99999999}}`,
			`{"master_key": "sekret-value"`,
			`{"master_key": "sekret-value"} {"x": 1}`,
			`{"master_key": sekret-value}`,
		} {
			var c Config
			err := json.Unmarshal([]byte(in), &c)
			require.Error(t, err, in)
			for _, v := range []string{"sekret", "12345678", "99999999"} {
				require.NotContains(t, err.Error(), v, in)
				require.NotContains(t, fmt.Sprintf("%+v", err), v, in)
			}
		}
	})
	t.Run("marshal redacts", func(t *testing.T) {
		c := localConfig("/k")
		c.AuthMethod = &AuthMethod{Token: "s.token-value", AppRole: &AppRole{SecretID: "secret-id-value"}}
		b, err := json.Marshal(c)
		require.NoError(t, err)
		for _, v := range []string{testMasterKey, "s.token-value", "secret-id-value"} {
			require.NotContains(t, string(b), v)
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
				require.NotContains(t, fmt.Sprintf(verb, c), v, verb)
				require.NotContains(t, fmt.Sprintf(verb, *c.AuthMethod), v, verb)
				require.NotContains(t, fmt.Sprintf(verb, *c.AuthMethod.AppRole), v, verb)
			}
		}
	})
}

func TestMerge(t *testing.T) {
	base := localConfig("/k")
	base.TLS = &TLSConfig{CAFile: "/a"}
	dir, ttl, on := "/other", 9, false
	got := base.Merge(ConfigPatch{KeyDir: &dir, CacheTTLSeconds: &ttl, EnableCache: &on, TLS: &TLSConfig{CAFile: "/b"}})
	want := localConfig("/other")
	want.CacheTTLSeconds, want.EnableCache, want.TLS = 9, new(false), &TLSConfig{CAFile: "/b"}
	require.Equal(t, want, got)
	require.Equal(t, "/a", base.TLS.CAFile, "Merge does not alias the receiver")
	require.Equal(t, base, base.Merge(ConfigPatch{}))

	var p ConfigPatch
	require.NoError(t, json.Unmarshal([]byte(`{"cache_ttl_seconds": 0, "auth_method": {"token": "t"}}`), &p))
	got = base.Merge(p)
	require.Equal(t, 0, got.CacheTTLSeconds, "an explicit 0 in a patch is applied (and means the default)")
	require.Equal(t, "t", got.AuthMethod.Token.Reveal())
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	c, err := LoadConfig(write("ok.json", `{"backend_type":"local","key_dir":"/k","master_key_file":"/run/mk","cache_ttl_seconds":60}`))
	require.NoError(t, err)
	require.Equal(t, 60, c.CacheTTLSeconds)
	require.Zero(t, c.MaxCachedKeys, "absent: the default")
	require.NoError(t, c.Validate())

	_, err = LoadConfig(write("unknown.json", `{"backend_type":"local","master_kye":"sekret-value"}`))
	require.ErrorIs(t, err, ErrInvalidConfig)
	require.Contains(t, err.Error(), "master_kye")
	require.NotContains(t, err.Error(), "sekret")

	_, err = LoadConfig(write("bad.json", `{"master_key": "sekret-value",}`))
	require.ErrorIs(t, err, ErrInvalidConfig)
	require.NotContains(t, err.Error(), "sekret")

	_, err = LoadConfig(write("big.json", `{"key_dir":"`+strings.Repeat("a", maxConfigFileSize)+`"}`))
	require.ErrorIs(t, err, ErrInvalidConfig)

	_, err = LoadConfig(filepath.Join(dir, "missing.json"))
	require.True(t, errors.Is(err, os.ErrNotExist))
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("KMS_BACKEND", "vault")
	t.Setenv("KMS_VAULT_ADDR", "https://vault:8200")
	t.Setenv("KMS_VAULT_TOKEN_FILE", "/run/secrets/vault-token")
	t.Setenv("KMS_VAULT_NAMESPACE", "team")
	t.Setenv("KMS_VAULT_MOUNT_PATH", "transit2")
	t.Setenv("KMS_VAULT_KV_MOUNT", "kv")
	t.Setenv("KMS_VAULT_KEY_PATH_PREFIX", "p/keys")
	t.Setenv("KMS_VAULT_CACERT", "/ca.pem")
	t.Setenv("KMS_VAULT_SKIP_VERIFY", "false")
	t.Setenv("KMS_DEFAULT_KEY_ID", "sse-default")
	t.Setenv("KMS_ENABLE_CACHE", "true")
	t.Setenv("KMS_MAX_CACHED_KEYS", "42")
	t.Setenv("KMS_CACHE_TTL_SECONDS", "7")
	t.Setenv("KMS_TIMEOUT_SECONDS", "3")
	t.Setenv("KMS_RETRY_ATTEMPTS", "0")
	t.Setenv("KMS_KEY_DIR", "") // empty = unset

	base := DefaultConfig()
	base.KeyDir = "/from-file"
	base.AuthMethod = &AuthMethod{Token: "file-token"}
	c, err := ConfigFromEnv("", base)
	require.NoError(t, err)
	want := Config{
		BackendType: BackendVault, KeyDir: "/from-file", DefaultKeyID: "sse-default",
		Address: "https://vault:8200", AuthMethod: &AuthMethod{TokenFile: "/run/secrets/vault-token"},
		Namespace: "team", MountPath: "transit2", KVMount: "kv", KeyPathPrefix: "p/keys",
		TLS:         &TLSConfig{CAFile: "/ca.pem"},
		EnableCache: new(true), MaxCachedKeys: 42, CacheTTLSeconds: 7, TimeoutSeconds: 3, RetryAttempts: 0,
	}
	require.Equal(t, want, c)
	require.NoError(t, c.Validate())
	require.Equal(t, "file-token", base.AuthMethod.Token.Reveal(), "base is not modified")

	t.Run("prefix and approle overlay", func(t *testing.T) {
		t.Setenv("APP_BACKEND", "vault")
		t.Setenv("APP_VAULT_APPROLE_SECRET_ID_FILE", "/run/sid")
		base := DefaultConfig()
		base.AuthMethod = &AuthMethod{AppRole: &AppRole{RoleID: "role", SecretID: "inline"}}
		c, err := ConfigFromEnv("APP_", base)
		require.NoError(t, err)
		require.Equal(t, &AuthMethod{AppRole: &AppRole{RoleID: "role", SecretIDFile: "/run/sid"}}, c.AuthMethod)
		require.Equal(t, "", c.Address, "KMS_ variables are not read with another prefix")
	})

	t.Run("local with master key", func(t *testing.T) {
		t.Setenv("L_BACKEND", "LOCAL")
		t.Setenv("L_KEY_DIR", "/keys")
		t.Setenv("L_MASTER_KEY", "env-master-secret")
		base := DefaultConfig()
		base.MasterKeyFile = "/from/file"
		c, err := ConfigFromEnv("L_", base)
		require.NoError(t, err)
		require.Equal(t, BackendLocal, c.BackendType)
		require.Equal(t, "env-master-secret", c.MasterKey.Reveal())
		require.Empty(t, c.MasterKeyFile, "the env secret replaces the file's")
		require.NoError(t, c.Validate())
	})

	t.Run("bad values", func(t *testing.T) {
		t.Setenv("B_MAX_CACHED_KEYS", "lots-sekret")
		t.Setenv("B_ENABLE_CACHE", "sekret-yes")
		t.Setenv("B_MASTER_KEY", "sekret-mk")
		t.Setenv("B_MASTER_KEY_FILE", "/f")
		t.Setenv("B_VAULT_TOKEN", "sekret-token")
		t.Setenv("B_VAULT_APPROLE_ROLE_ID", "r")
		_, err := ConfigFromEnv("B_", DefaultConfig())
		require.ElementsMatch(t, []string{"B_MAX_CACHED_KEYS", "B_ENABLE_CACHE", "B_MASTER_KEY_FILE", "B_VAULT_TOKEN"}, problemFields(t, err))
		require.NotContains(t, err.Error(), "sekret")
	})
}

func TestSummaryRedacts(t *testing.T) {
	c := localConfig("/k")
	s := c.Summary()
	require.Equal(t, "/k", s.BackendSummary["key_dir"])
	require.Equal(t, redacted, s.BackendSummary["master_key"])

	v := DefaultConfig()
	v.BackendType = BackendVault
	v.Address = "https://v"
	v.AuthMethod = &AuthMethod{AppRole: &AppRole{RoleID: "role-id-value", SecretID: "secret-id-value"}}
	s = v.Summary()
	require.Equal(t, "approle", s.BackendSummary["auth_method"])
	require.Equal(t, "transit", s.BackendSummary["mount_path"])
	b, err := json.Marshal(s)
	require.NoError(t, err)
	require.NotContains(t, string(b), "secret-id-value")
	require.NotContains(t, string(b), "role-id-value")
}

// A field given twice, in any case, is an error in every JSON form of the
// configuration (encoding/json would keep the last, and match names
// case-insensitively): LoadConfig, json.Unmarshal of Config and ConfigPatch,
// and BackendOptions.Decode. Values are never echoed.
func TestConfigJSONDuplicateFields(t *testing.T) {
	for _, in := range []string{
		`{"key_dir":"/a","KEY_DIR":"/b"}`,
		`{"cache_ttl_seconds":1,"cache_ttl_seconds":2}`,
		`{"auth_method":{"token":"s3cr3t-one","TOKEN":"s3cr3t-two"}}`,
		`{"tls":{"ca_file":"/a","CA_FILE":"/b"}}`,
	} {
		var c Config
		err := json.Unmarshal([]byte(in), &c)
		require.ErrorIs(t, err, ErrInvalidConfig, in)
		require.Contains(t, err.Error(), "given twice", in)
		require.NotContains(t, err.Error(), "s3cr3t", in)
		var p ConfigPatch
		require.ErrorIs(t, json.Unmarshal([]byte(in), &p), ErrInvalidConfig, in)
	}
	var p ConfigPatch
	require.ErrorIs(t, json.Unmarshal([]byte(`{"Key_Dir":"/a","key_dir":"/b"}`), &p), ErrInvalidConfig)
	require.ErrorIs(t, json.Unmarshal([]byte(`{"kye_dir":"/a"}`), &p), ErrInvalidConfig, "unknown fields too")
	require.NoError(t, json.Unmarshal([]byte(`{"key_dir":"/a"}`), &p))
	require.Equal(t, "/a", *p.KeyDir)

	var opts struct {
		A string `json:"a"`
	}
	require.ErrorIs(t, BackendOptions(`{"a":"x","A":"y"}`).Decode(&opts), ErrInvalidConfig)
}
