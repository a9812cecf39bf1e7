package kms

import (
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/envkms/kms/backend"
)

// Validate checks c and returns a *ConfigError listing every invalid field
// (by JSON name), or nil. Problems never quote field values. Configure and
// Reconfigure call it; it reads no files and contacts no backend.
//
// Fields of the backend not selected by backend_type are ignored, so a
// Reconfigure that switches backends may leave the other backend's fields in
// place.
func (c Config) Validate() error {
	var p problems
	switch c.BackendType {
	case BackendLocal:
		c.validateLocal(&p)
	case BackendVault:
		c.validateVault(&p)
	case "":
		p.add("backend_type", "required: \"local\" or \"vault\"")
	default:
		p.add("backend_type", "unknown backend type, want \"local\" or \"vault\"")
	}
	if c.DefaultKeyID != "" && backend.ValidateKeyID(c.DefaultKeyID) != nil {
		p.add("default_key_id", fmt.Sprintf("must be 1..%d characters of [A-Za-z0-9_.-], starting with a letter or digit", backend.MaxKeyIDLen))
	}
	p.bounded("max_cached_keys", c.MaxCachedKeys, c.EnableCache, MaxMaxCachedKeys)
	p.bounded("cache_ttl_seconds", c.CacheTTLSeconds, c.EnableCache, MaxCacheTTLSeconds)
	p.bounded("timeout_seconds", c.TimeoutSeconds, false, MaxTimeoutSeconds)
	p.bounded("retry_attempts", c.RetryAttempts, false, MaxRetryAttempts)
	return p.err()
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

// bounded checks 0 <= v <= limit, and v > 0 when positive is set.
func (p *problems) bounded(field string, v int, positive bool, limit int) {
	switch {
	case v < 0:
		p.add(field, "must not be negative")
	case v == 0 && positive:
		p.add(field, "must be positive while enable_cache is true")
	case v > limit:
		p.add(field, fmt.Sprintf("must be at most %d", limit))
	}
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &ConfigError{Problems: p}
}
