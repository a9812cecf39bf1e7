package kms

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// BackendType names a master-key backend.
type BackendType string

// Backend types accepted in Config.BackendType.
const (
	BackendLocal BackendType = "local"
	BackendVault BackendType = "vault"
)

// Config is the full KMS configuration. It unmarshals from the JSON the admin
// API's configure endpoint takes (and LoadConfig reads), with these names:
//
//	{
//	  "backend_type": "local",            // "local" | "vault"
//	  "key_dir": "/var/lib/kms/keys",      // local: absolute path
//	  "master_key": "...",                 // local: secret that seals key files (or master_key_file)
//	  "default_key_id": "default",
//	  "address": "https://vault:8200",     // vault
//	  "auth_method": {"token": "..."} | {"approle": {"role_id": "...", "secret_id": "..."}},
//	  "namespace": "", "mount_path": "transit", "kv_mount": "secret", "key_path_prefix": "envkms/keys",
//	  "tls": {"ca_file": "", "client_cert": "", "client_key": "", "skip_tls_verify": false},
//	  "enable_cache": true, "max_cached_keys": 1000, "cache_ttl_seconds": 300,
//	  "timeout_seconds": 30, "retry_attempts": 3
//	}
//
// Secrets are of type Secret, which never prints or marshals its value.
type Config struct {
	BackendType BackendType `json:"backend_type"`

	// Local backend.
	KeyDir        string `json:"key_dir,omitempty"`
	MasterKey     Secret `json:"master_key,omitempty"`
	MasterKeyFile string `json:"master_key_file,omitempty"`
	// InsecurePlaintextKeys stores key files unsealed. Development only.
	InsecurePlaintextKeys bool `json:"insecure_plaintext_keys,omitempty"`

	DefaultKeyID string `json:"default_key_id,omitempty"`

	// Vault backend.
	Address       string      `json:"address,omitempty"`
	AuthMethod    *AuthMethod `json:"auth_method,omitempty"`
	Namespace     string      `json:"namespace,omitempty"`
	MountPath     string      `json:"mount_path,omitempty"`
	KVMount       string      `json:"kv_mount,omitempty"`
	KeyPathPrefix string      `json:"key_path_prefix,omitempty"`
	TLS           *TLSConfig  `json:"tls,omitempty"`

	// Data-key cache.
	EnableCache     bool `json:"enable_cache"`
	MaxCachedKeys   int  `json:"max_cached_keys,omitempty"`
	CacheTTLSeconds int  `json:"cache_ttl_seconds,omitempty"`

	// Per backend call.
	TimeoutSeconds int `json:"timeout_seconds,omitempty"`
	RetryAttempts  int `json:"retry_attempts,omitempty"`
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

// UnmarshalJSON accepts "token" as a string or as {"token": "..."}.
func (a *AuthMethod) UnmarshalJSON(b []byte) error {
	var raw struct {
		Token     json.RawMessage `json:"token"`
		TokenFile string          `json:"token_file"`
		AppRole   *AppRole        `json:"approle"`
	}
	dec := json.NewDecoder(bytesReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("auth_method: %w", redactJSONError(err))
	}
	*a = AuthMethod{TokenFile: raw.TokenFile, AppRole: raw.AppRole}
	if len(raw.Token) == 0 || string(raw.Token) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw.Token, &s); err == nil {
		a.Token = Secret(s)
		return nil
	}
	var obj struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(raw.Token, &obj); err != nil {
		return fmt.Errorf("auth_method.token: want a string or {\"token\": string}")
	}
	a.Token = Secret(obj.Token)
	return nil
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
	CAFile        string `json:"ca_file,omitempty"`
	ClientCert    string `json:"client_cert,omitempty"`
	ClientKey     string `json:"client_key,omitempty"`
	SkipTLSVerify bool   `json:"skip_tls_verify,omitempty"`
}

// ConfigPatch is a partial Config for Reconfigure: only non-nil fields are
// applied. It unmarshals from the same JSON names as Config.
type ConfigPatch struct {
	BackendType           *BackendType `json:"backend_type,omitempty"`
	KeyDir                *string      `json:"key_dir,omitempty"`
	MasterKey             *Secret      `json:"master_key,omitempty"`
	MasterKeyFile         *string      `json:"master_key_file,omitempty"`
	InsecurePlaintextKeys *bool        `json:"insecure_plaintext_keys,omitempty"`
	DefaultKeyID          *string      `json:"default_key_id,omitempty"`
	Address               *string      `json:"address,omitempty"`
	AuthMethod            *AuthMethod  `json:"auth_method,omitempty"`
	Namespace             *string      `json:"namespace,omitempty"`
	MountPath             *string      `json:"mount_path,omitempty"`
	KVMount               *string      `json:"kv_mount,omitempty"`
	KeyPathPrefix         *string      `json:"key_path_prefix,omitempty"`
	TLS                   *TLSConfig   `json:"tls,omitempty"`
	EnableCache           *bool        `json:"enable_cache,omitempty"`
	MaxCachedKeys         *int         `json:"max_cached_keys,omitempty"`
	CacheTTLSeconds       *int         `json:"cache_ttl_seconds,omitempty"`
	TimeoutSeconds        *int         `json:"timeout_seconds,omitempty"`
	RetryAttempts         *int         `json:"retry_attempts,omitempty"`
}

// Secret is a string that never reveals itself: String, GoString, every fmt
// verb and MarshalJSON yield "[REDACTED]" (or "" when empty). Use Reveal to
// read the value.
type Secret string

const redacted = "[REDACTED]"

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String returns "[REDACTED]" for a non-empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString is like String.
func (s Secret) GoString() string { return s.String() }

// Format prints the redacted form for every verb.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// MarshalJSON marshals the redacted form, so a Config never serialises a secret.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads the secret value from a JSON string.
func (s *Secret) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		// A type error (which encoding/json completes with the field name)
		// that does not quote the value.
		return &json.UnmarshalTypeError{Value: "non-string", Type: reflect.TypeFor[string]()}
	}
	*s = Secret(v)
	return nil
}
