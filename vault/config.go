package vault

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/envkms/kms/backend"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultMountPath     = "transit"
	DefaultKVMount       = "secret"
	DefaultKeyPathPrefix = "envkms/keys"
	DefaultAppRoleMount  = "approle"
	DefaultTimeout       = 30 * time.Second
	DefaultRetryAttempts = 2
)

// Config configures a Vault backend. Token and AppRole.SecretID are secrets:
// printing a Config (String, GoString, every fmt verb) shows them as
// "[REDACTED]".
//
// The process environment (VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, ...) is
// never consulted: everything comes from Config.
type Config struct {
	// Address of the Vault server, e.g. "https://vault.example:8200".
	Address string
	// Token authenticates with a Vault token. Exactly one of Token,
	// TokenFile and AppRole must be set.
	Token string
	// TokenFile names a file holding the token (e.g. a Vault Agent sink). It
	// is read by New and read again when Vault answers 403, so a token the
	// agent rotated is picked up without a restart.
	TokenFile string
	// AppRole logs in with the AppRole auth method and keeps the token alive
	// in the background (renewing it, and logging in again when it can no
	// longer be renewed).
	AppRole *AppRole
	// Namespace is the Vault Enterprise namespace; empty for none.
	Namespace string
	// MountPath of the transit secrets engine; default "transit".
	MountPath string
	// KVMount is the mount path of the KV version 2 engine holding key
	// metadata; default "secret".
	KVMount string
	// KeyPathPrefix is the KV path under which each key's metadata is
	// stored as <KeyPathPrefix>/<key id>; default "envkms/keys".
	KeyPathPrefix string
	// TLS configures HTTPS to Vault.
	TLS TLSConfig
	// Timeout bounds every backend call, retries included; default 30s.
	Timeout time.Duration
	// RetryAttempts is how many times an idempotent request (a read, a
	// transit encrypt/decrypt, a health check) is retried after a transport
	// error or a 5xx answer. 0 means DefaultRetryAttempts; negative means no
	// retries. Writes that change state are never retried blindly.
	RetryAttempts int
	// Logger receives renewal and login events (never tokens); default
	// slog.Default().
	Logger *slog.Logger
}

// AppRole holds AppRole credentials. SecretID is a secret and never printed.
type AppRole struct {
	RoleID string
	// SecretID, or SecretIDFile: a file holding it, read at every login (so
	// a rotated secret id is picked up).
	SecretID     string
	SecretIDFile string
	// MountPath of the approle auth method; default "approle".
	MountPath string
}

// TLSConfig configures TLS to Vault. Paths name PEM files.
type TLSConfig struct {
	CAFile     string // CA bundle that verifies the server; default: system roots
	ClientCert string // client certificate for mutual TLS (with ClientKey)
	ClientKey  string
	SkipVerify bool // do not verify the server certificate; testing only
}

const redacted = "[REDACTED]"

func redact(s string) string {
	if s == "" {
		return `""`
	}
	return redacted
}

// String describes c with its secrets redacted.
func (c Config) String() string {
	approle := "<nil>"
	if c.AppRole != nil {
		approle = c.AppRole.String()
	}
	return fmt.Sprintf("vault.Config{Address: %q, Token: %s, TokenFile: %q, AppRole: %s, Namespace: %q, "+
		"MountPath: %q, KVMount: %q, KeyPathPrefix: %q, TLS: %+v, Timeout: %s, RetryAttempts: %d}",
		c.Address, redact(c.Token), c.TokenFile, approle, c.Namespace,
		c.MountPath, c.KVMount, c.KeyPathPrefix, c.TLS, c.Timeout, c.RetryAttempts)
}

// GoString is like String, so %#v redacts too.
func (c Config) GoString() string { return c.String() }

// Format implements fmt.Formatter: every verb prints the redacted String.
func (c Config) Format(f fmt.State, _ rune) { _, _ = fmt.Fprint(f, c.String()) }

// String describes a with SecretID redacted.
func (a AppRole) String() string {
	return fmt.Sprintf("vault.AppRole{RoleID: %q, SecretID: %s, SecretIDFile: %q, MountPath: %q}",
		a.RoleID, redact(a.SecretID), a.SecretIDFile, a.MountPath)
}

// GoString is like String.
func (a AppRole) GoString() string { return a.String() }

// Format implements fmt.Formatter: every verb prints the redacted String.
func (a AppRole) Format(f fmt.State, _ rune) { _, _ = fmt.Fprint(f, a.String()) }

// withDefaults returns a copy of c with defaults filled in and paths
// normalised, or an error wrapping backend.ErrInvalidArgument. The error
// never contains a secret.
func (c Config) withDefaults() (Config, error) {
	var problems []string
	if c.Address == "" {
		problems = append(problems, "Address is required")
	} else if u, err := url.Parse(c.Address); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, "Address must be an http:// or https:// URL")
	}
	methods := 0
	if c.Token != "" {
		methods++
	}
	if c.TokenFile != "" {
		methods++
	}
	if c.AppRole != nil {
		methods++
		a := *c.AppRole
		if a.RoleID == "" {
			problems = append(problems, "AppRole.RoleID is required")
		}
		if (a.SecretID == "") == (a.SecretIDFile == "") {
			problems = append(problems, "exactly one of AppRole.SecretID and AppRole.SecretIDFile is required")
		}
		if a.MountPath == "" {
			a.MountPath = DefaultAppRoleMount
		}
		var err error
		if a.MountPath, err = cleanPath(a.MountPath); err != nil {
			problems = append(problems, "AppRole.MountPath: "+err.Error())
		}
		c.AppRole = &a
	}
	if methods != 1 {
		problems = append(problems, "exactly one of Token, TokenFile and AppRole is required")
	}
	for _, p := range []struct {
		name string
		v    *string
		def  string
	}{
		{"MountPath", &c.MountPath, DefaultMountPath},
		{"KVMount", &c.KVMount, DefaultKVMount},
		{"KeyPathPrefix", &c.KeyPathPrefix, DefaultKeyPathPrefix},
	} {
		if *p.v == "" {
			*p.v = p.def
		}
		cleaned, err := cleanPath(*p.v)
		if err != nil {
			problems = append(problems, p.name+": "+err.Error())
		}
		*p.v = cleaned
	}
	if c.Namespace != "" {
		if _, err := cleanPath(c.Namespace); err != nil {
			problems = append(problems, "Namespace: "+err.Error())
		}
	}
	if (c.TLS.ClientCert == "") != (c.TLS.ClientKey == "") {
		problems = append(problems, "TLS.ClientCert and TLS.ClientKey go together")
	}
	if c.Timeout < 0 {
		problems = append(problems, "Timeout must not be negative")
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	switch {
	case c.RetryAttempts == 0:
		c.RetryAttempts = DefaultRetryAttempts
	case c.RetryAttempts < 0:
		c.RetryAttempts = 0
	case c.RetryAttempts > 10:
		problems = append(problems, "RetryAttempts must be at most 10")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if len(problems) > 0 {
		return Config{}, fmt.Errorf("%w: vault config: %s", backend.ErrInvalidArgument, strings.Join(problems, "; "))
	}
	return c, nil
}

// cleanPath trims surrounding slashes and rejects empty, "." and ".."
// segments and characters that do not belong in a Vault path.
func cleanPath(p string) (string, error) {
	p = strings.Trim(p, "/")
	if p == "" {
		return "", fmt.Errorf("empty path")
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("path %q has an empty, \".\" or \"..\" segment", p)
		}
		for _, r := range seg {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
				return "", fmt.Errorf("path %q: only [A-Za-z0-9_.-] segments separated by /", p)
			}
		}
	}
	return p, nil
}
