package kms

import (
	"fmt"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/envkms/kms/backend"
)

// Validate checks c for one of the built-in backends and returns a
// *ConfigError listing every invalid field (by JSON name), or nil. Problems
// never quote field values. It reads no files and contacts no backend. A
// Manager validates with its registered backends too (see WithBackend):
// there a registered backend_type is accepted, its common fields are checked
// here and its backend_options are its factory's to check.
//
// Fields of the backend not selected by backend_type are ignored, so a
// Reconfigure that switches backends may leave the other backend's fields in
// place.
func (c Config) Validate() error { return c.validate(nil) }

// validate is Validate with the types registered on a Manager.
func (c Config) validate(registered map[BackendType]BackendFactory) error {
	var p problems
	_, isRegistered := registered[c.BackendType]
	switch {
	case isRegistered:
	case c.BackendType == BackendLocal:
		c.validateLocal(&p)
	case c.BackendType == BackendVault:
		c.validateVault(&p)
	case c.BackendType == "":
		p.add("backend_type", "required: "+knownTypes(registered))
	default:
		p.add("backend_type", "unknown backend type, want "+knownTypes(registered))
	}
	if !isRegistered && len(c.BackendOptions) > 0 && (c.BackendType == BackendLocal || c.BackendType == BackendVault) {
		p.add("backend_options", "not used by the built-in backends")
	}
	if c.DefaultKeyID != "" && backend.ValidateKeyID(c.DefaultKeyID) != nil {
		p.add("default_key_id", fmt.Sprintf("must be 1..%d characters of [A-Za-z0-9_.-], starting with a letter or digit", backend.MaxKeyIDLen))
	}
	p.bounded("max_cached_keys", c.MaxCachedKeys, 0, MaxMaxCachedKeys)
	p.bounded("cache_ttl_seconds", c.CacheTTLSeconds, 0, MaxCacheTTLSeconds)
	p.bounded("timeout_seconds", c.TimeoutSeconds, 0, MaxTimeoutSeconds)
	p.bounded("retry_attempts", c.RetryAttempts, NoRetries, MaxRetryAttempts)
	return p.err()
}

func knownTypes(registered map[BackendType]BackendFactory) string {
	names := []string{`"local"`, `"vault"`}
	for t := range registered {
		if t != BackendLocal && t != BackendVault {
			names = append(names, fmt.Sprintf("%q", t))
		}
	}
	// Map order is random; keep the message stable.
	slices.Sort(names[2:])
	return strings.Join(names, ", ")
}

func (c Config) validateLocal(p *problems) {
	switch {
	case c.KeyDir == "":
		p.add("key_dir", "required for the local backend")
	case !filepath.IsAbs(c.KeyDir):
		p.add("key_dir", "must be an absolute path")
	}
	hasKey := c.MasterKey != "" || c.MasterKeyFile != ""
	switch {
	case c.MasterKey != "" && c.MasterKeyFile != "":
		p.add("master_key", "set only one of master_key and master_key_file")
	case c.InsecurePlaintextKeys && hasKey:
		p.add("insecure_plaintext_keys", "must not be combined with master_key or master_key_file")
	case !c.InsecurePlaintextKeys && !hasKey:
		p.add("master_key", "required for the local backend (or master_key_file; insecure_plaintext_keys for development only)")
	}
}

func (c Config) validateVault(p *problems) {
	if c.Address == "" {
		p.add("address", "required for the vault backend")
	} else if u, err := url.Parse(c.Address); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add("address", "must be an http:// or https:// URL with a host")
	}
	a := c.AuthMethod
	if a == nil {
		p.add("auth_method", "required for the vault backend: token, token_file or approle")
	} else {
		n := 0
		for _, set := range []bool{a.Token != "", a.TokenFile != "", a.AppRole != nil} {
			if set {
				n++
			}
		}
		switch {
		case n == 0:
			p.add("auth_method", "set one of token, token_file and approle")
		case n > 1:
			p.add("auth_method", "set only one of token, token_file and approle")
		}
		if r := a.AppRole; r != nil {
			if r.RoleID == "" {
				p.add("auth_method.approle.role_id", "required")
			}
			switch {
			case r.SecretID != "" && r.SecretIDFile != "":
				p.add("auth_method.approle.secret_id", "set only one of secret_id and secret_id_file")
			case r.SecretID == "" && r.SecretIDFile == "":
				p.add("auth_method.approle.secret_id", "required (or secret_id_file)")
			}
		}
	}
	if t := c.TLS; t != nil && (t.ClientCert == "") != (t.ClientKey == "") {
		p.add("tls.client_cert", "client_cert and client_key go together")
	}
}

// problems accumulates FieldProblems.
type problems []FieldProblem

func (p *problems) add(field, problem string) {
	*p = append(*p, FieldProblem{Field: field, Problem: problem})
}

// bounded checks lo <= v <= hi.
func (p *problems) bounded(field string, v, lo, hi int) {
	switch {
	case v < lo && lo == 0:
		p.add(field, "must not be negative (0 means the default)")
	case v < lo:
		p.add(field, fmt.Sprintf("must be at least %d", lo))
	case v > hi:
		p.add(field, fmt.Sprintf("must be at most %d", hi))
	}
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &ConfigError{Problems: p}
}

// Summary returns the redacted view of c shown in Status and by the admin
// API, with effective values (defaults filled in): backend type, non-secret
// settings and, for secrets, only whether and how they are set
// ("[REDACTED]" for an inline value or backend_options, the path for a
// _file setting, which is not secret). The fields listed for a backend are
// those whose summary tag names it.
func (c Config) Summary() ConfigSummary {
	c = c.withDefaults()
	s := ConfigSummary{
		BackendType:    c.BackendType,
		DefaultKeyID:   c.DefaultKeyID,
		TimeoutSeconds: c.TimeoutSeconds,
		RetryAttempts:  c.retries(),
		EnableCache:    c.cacheEnabled(),
		CacheSummary: CacheSummary{
			MaxKeys:       c.MaxCachedKeys,
			TTLSeconds:    c.CacheTTLSeconds,
			EnableMetrics: true, // Stats counters are always kept
		},
		BackendSummary: map[string]any{},
	}
	b := s.BackendSummary
	v := reflect.ValueOf(c)
	for i := range v.NumField() {
		sf := v.Type().Field(i)
		f := v.Field(i)
		if sf.Tag.Get("summary") != string(c.BackendType) || f.IsZero() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if sf.Type == reflect.TypeFor[Secret]() {
			b[name] = redacted
		} else {
			b[name] = f.Interface()
		}
	}
	if len(c.BackendOptions) > 0 {
		b["backend_options"] = redacted
	}
	if c.BackendType != BackendVault {
		return s
	}
	if a := c.AuthMethod; a != nil {
		switch {
		case a.AppRole != nil:
			b["auth_method"] = "approle"
		case a.TokenFile != "":
			b["auth_method"] = "token_file"
			b["token_file"] = a.TokenFile
		default:
			b["auth_method"] = "token"
		}
	}
	if t := c.TLS; t != nil {
		if t.CAFile != "" {
			b["tls_ca_file"] = t.CAFile
		}
		if t.ClientCert != "" {
			b["tls_client_cert"] = t.ClientCert
		}
		if t.SkipTLSVerify {
			b["skip_tls_verify"] = true
		}
	}
	return s
}
