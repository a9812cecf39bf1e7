package kms

import (
	"bytes"
	"reflect"
	"time"
)

// BackendType names a master-key backend: one of the built-ins below or a
// type registered on the Manager with WithBackend.
type BackendType string

// Built-in backend types accepted in Config.BackendType.
const (
	BackendLocal BackendType = "local"
	BackendVault BackendType = "vault"
)

// Config is the full KMS configuration. It unmarshals from the JSON the admin
// API's configure endpoint takes (and LoadConfig reads), with these names:
//
//	{
//	  "backend_type": "local",            // "local" | "vault" | a type registered with WithBackend
//	  "key_dir": "/var/lib/kms/keys",      // local: absolute path
//	  "master_key": "...",                 // local: secret that seals key files (or master_key_file)
//	  "default_key_id": "default",
//	  "address": "https://vault:8200",     // vault
//	  "auth_method": {"token": "..."} | {"approle": {"role_id": "...", "secret_id": "..."}},
//	  "namespace": "", "mount_path": "transit", "kv_mount": "secret", "key_path_prefix": "envkms/keys",
//	  "tls": {"ca_file": "", "client_cert": "", "client_key": "", "skip_tls_verify": false},
//	  "backend_options": {...},            // a registered backend's own settings (raw JSON)
//	  "enable_cache": true, "max_cached_keys": 1000, "cache_ttl_seconds": 300,
//	  "timeout_seconds": 30, "retry_attempts": 3
//	}
//
// # Zero values are the defaults
//
// The zero value of every field means its documented default, the same in a
// Go struct literal, in JSON (absent or 0) and in the environment: a nil
// EnableCache means true, MaxCachedKeys 0 means 1000, CacheTTLSeconds 0 means
// 300, TimeoutSeconds 0 means 30 and RetryAttempts 0 means 3. To turn
// something off, say so: EnableCache new(false), RetryAttempts NoRetries
// (-1). Status and Summary show the effective values.
//
// # Adding a field
//
// A field is declared once here, with its JSON name (json tag), its
// environment variable (env tag, read by ConfigFromEnv) and, when Status
// shows it, the backend whose summary lists it (summary tag; a Secret shows
// as "[REDACTED]"). ConfigPatch needs the same field as a pointer (a test
// checks they match); Validate checks its value.
//
// Secrets are of type Secret, which never prints or marshals its value.
type Config struct {
	BackendType BackendType `json:"backend_type" env:"BACKEND"`

	// Local backend.
	KeyDir        string `json:"key_dir,omitempty" env:"KEY_DIR" summary:"local"`
	MasterKey     Secret `json:"master_key,omitempty" env:"MASTER_KEY" summary:"local"`
	MasterKeyFile string `json:"master_key_file,omitempty" env:"MASTER_KEY_FILE" summary:"local"`
	// InsecurePlaintextKeys stores key files unsealed. Development only.
	InsecurePlaintextKeys bool `json:"insecure_plaintext_keys,omitempty" env:"INSECURE_PLAINTEXT_KEYS" summary:"local"`

	// DefaultKeyID is the key GenerateDataKey and NewEncryptWriter use when
	// given an empty key id. See WithDefaultKeyCreation.
	DefaultKeyID string `json:"default_key_id,omitempty" env:"DEFAULT_KEY_ID"`

	// Vault backend.
	Address       string      `json:"address,omitempty" env:"VAULT_ADDR" summary:"vault"`
	AuthMethod    *AuthMethod `json:"auth_method,omitempty" env:"-"` // read from KMS_VAULT_TOKEN etc., see ConfigFromEnv
	Namespace     string      `json:"namespace,omitempty" env:"VAULT_NAMESPACE" summary:"vault"`
	MountPath     string      `json:"mount_path,omitempty" env:"VAULT_MOUNT_PATH" summary:"vault"`
	KVMount       string      `json:"kv_mount,omitempty" env:"VAULT_KV_MOUNT" summary:"vault"`
	KeyPathPrefix string      `json:"key_path_prefix,omitempty" env:"VAULT_KEY_PATH_PREFIX" summary:"vault"`
	TLS           *TLSConfig  `json:"tls,omitempty" env:"VAULT_"`

	// BackendOptions holds the settings of a backend registered with
	// WithBackend, as raw JSON the factory decodes (BackendOptions.Decode).
	// It is redacted in summaries, logs and fmt output, since it may hold
	// credentials. The built-in backends take none.
	BackendOptions BackendOptions `json:"backend_options,omitempty" env:"BACKEND_OPTIONS"`

	// Data-key cache. A nil EnableCache means DefaultEnableCache (true).
	EnableCache     *bool `json:"enable_cache,omitempty" env:"ENABLE_CACHE"`
	MaxCachedKeys   int   `json:"max_cached_keys,omitempty" env:"MAX_CACHED_KEYS"`
	CacheTTLSeconds int   `json:"cache_ttl_seconds,omitempty" env:"CACHE_TTL_SECONDS"`

	// Per backend call: a deadline (retries included) and how many times a
	// call that is safe to repeat is retried after ErrUnavailable; 0 means
	// DefaultRetryAttempts, NoRetries means none.
	TimeoutSeconds int `json:"timeout_seconds,omitempty" env:"TIMEOUT_SECONDS"`
	RetryAttempts  int `json:"retry_attempts,omitempty" env:"RETRY_ATTEMPTS"`
}

// AuthMethod is how the vault backend authenticates: exactly one of Token and
// AppRole. In JSON, {"token": "s.xxx"} (or {"token": {"token": "s.xxx"}},
// or {"token_file": "/path"}) or {"approle": {"role_id", "secret_id" |
// "secret_id_file", "mount_path"}}.
type AuthMethod struct {
	Token     Secret   `json:"token,omitempty"`
	TokenFile string   `json:"token_file,omitempty"`
	AppRole   *AppRole `json:"approle,omitempty"`
}

// AppRole holds Vault AppRole credentials.
type AppRole struct {
	RoleID       string `json:"role_id"`
	SecretID     Secret `json:"secret_id,omitempty"`
	SecretIDFile string `json:"secret_id_file,omitempty"`
	// MountPath of the approle auth method; default "approle".
	MountPath string `json:"mount_path,omitempty"`
}

// TLSConfig configures TLS to Vault.
type TLSConfig struct {
	CAFile        string `json:"ca_file,omitempty" env:"CACERT"`
	ClientCert    string `json:"client_cert,omitempty" env:"CLIENT_CERT"`
	ClientKey     string `json:"client_key,omitempty" env:"CLIENT_KEY"`
	SkipTLSVerify bool   `json:"skip_tls_verify,omitempty" env:"SKIP_VERIFY"`
}

// ConfigPatch is a partial Config for Reconfigure: only non-nil fields are
// applied. It unmarshals from the same JSON names as Config and has exactly
// Config's fields, each as a pointer (or, for BackendOptions, nil when
// absent).
type ConfigPatch struct {
	BackendType           *BackendType   `json:"backend_type,omitempty"`
	KeyDir                *string        `json:"key_dir,omitempty"`
	MasterKey             *Secret        `json:"master_key,omitempty"`
	MasterKeyFile         *string        `json:"master_key_file,omitempty"`
	InsecurePlaintextKeys *bool          `json:"insecure_plaintext_keys,omitempty"`
	DefaultKeyID          *string        `json:"default_key_id,omitempty"`
	Address               *string        `json:"address,omitempty"`
	AuthMethod            *AuthMethod    `json:"auth_method,omitempty"`
	Namespace             *string        `json:"namespace,omitempty"`
	MountPath             *string        `json:"mount_path,omitempty"`
	KVMount               *string        `json:"kv_mount,omitempty"`
	KeyPathPrefix         *string        `json:"key_path_prefix,omitempty"`
	TLS                   *TLSConfig     `json:"tls,omitempty"`
	BackendOptions        BackendOptions `json:"backend_options,omitempty"`
	EnableCache           *bool          `json:"enable_cache,omitempty"`
	MaxCachedKeys         *int           `json:"max_cached_keys,omitempty"`
	CacheTTLSeconds       *int           `json:"cache_ttl_seconds,omitempty"`
	TimeoutSeconds        *int           `json:"timeout_seconds,omitempty"`
	RetryAttempts         *int           `json:"retry_attempts,omitempty"`
}

// Defaults that zero Config fields stand for.
const (
	DefaultEnableCache     = true
	DefaultMaxCachedKeys   = 1000
	DefaultCacheTTLSeconds = 300
	DefaultTimeoutSeconds  = 30
	DefaultRetryAttempts   = 3
)

// NoRetries as Config.RetryAttempts turns retries off (0 means the default).
const NoRetries = -1

// Upper bounds accepted by Validate; they catch typos (a TTL in
// milliseconds, a timeout of a day) rather than limit real deployments.
const (
	MaxMaxCachedKeys   = 10_000_000
	MaxCacheTTLSeconds = 7 * 24 * 3600
	MaxTimeoutSeconds  = 3600
	MaxRetryAttempts   = 10
)

// DefaultConfig returns a Config with the documented defaults spelt out and
// no backend. Since zero values mean the same defaults, Config{} behaves the
// same; DefaultConfig is for code that wants to read them.
func DefaultConfig() Config {
	return Config{}.withDefaults()
}

// withDefaults returns c with every zero field replaced by its default: the
// effective configuration the Manager serves with and Status shows.
func (c Config) withDefaults() Config {
	c = c.clone()
	if c.EnableCache == nil {
		c.EnableCache = new(DefaultEnableCache)
	}
	orInt(&c.MaxCachedKeys, DefaultMaxCachedKeys)
	orInt(&c.CacheTTLSeconds, DefaultCacheTTLSeconds)
	orInt(&c.TimeoutSeconds, DefaultTimeoutSeconds)
	orInt(&c.RetryAttempts, DefaultRetryAttempts)
	if c.BackendType == BackendVault {
		orString(&c.MountPath, DefaultVaultMountPath)
		orString(&c.KVMount, DefaultVaultKVMount)
		orString(&c.KeyPathPrefix, DefaultVaultKeyPathPrefix)
	}
	return c
}

func orInt(v *int, def int) {
	if *v == 0 {
		*v = def
	}
}

func orString(v *string, def string) {
	if *v == "" {
		*v = def
	}
}

// cacheEnabled reports whether the data-key cache is on.
func (c Config) cacheEnabled() bool { return c.EnableCache == nil || *c.EnableCache }

// retries is how many times a retryable call is repeated.
func (c Config) retries() int {
	switch {
	case c.RetryAttempts == 0:
		return DefaultRetryAttempts
	case c.RetryAttempts < 0:
		return 0
	}
	return c.RetryAttempts
}

// timeout is the per-call deadline.
func (c Config) timeout() time.Duration {
	return time.Duration(c.effectiveTimeoutSeconds()) * time.Second
}

func (c Config) effectiveTimeoutSeconds() int {
	if c.TimeoutSeconds <= 0 {
		return DefaultTimeoutSeconds
	}
	return c.TimeoutSeconds
}

// Merge returns c with every non-nil field of p applied. auth_method, tls and
// backend_options are replaced as a whole when given. The result is not
// validated.
func (c Config) Merge(p ConfigPatch) Config {
	dst := reflect.ValueOf(&c).Elem()
	src := reflect.ValueOf(p)
	for i := range src.NumField() {
		f := src.Field(i)
		if f.IsNil() {
			continue
		}
		d := dst.FieldByName(src.Type().Field(i).Name)
		if d.Type() == f.Type() {
			d.Set(f) // pointer or slice fields: copied by clone below
		} else {
			d.Set(f.Elem())
		}
	}
	return c.clone()
}

// clone returns a deep copy of c (the pointer fields are copied, so the
// Manager's Config can't be changed through a caller's Config).
func (c Config) clone() Config {
	c.AuthMethod = c.AuthMethod.clone()
	if c.TLS != nil {
		t := *c.TLS
		c.TLS = &t
	}
	if c.EnableCache != nil {
		c.EnableCache = new(*c.EnableCache)
	}
	c.BackendOptions = BackendOptions(bytes.Clone(c.BackendOptions))
	return c
}

func (a *AuthMethod) clone() *AuthMethod {
	if a == nil {
		return nil
	}
	b := *a
	if a.AppRole != nil {
		r := *a.AppRole
		b.AppRole = &r
	}
	return &b
}
