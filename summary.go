package kms

// Summary returns the redacted view of c shown in Status and by the admin
// API: backend type, non-secret settings and, for secrets, only whether and
// how they are set ("[REDACTED]" for an inline value, "file" for a _file
// path, which is shown since it is not secret).
func (c Config) Summary() ConfigSummary {
	s := ConfigSummary{
		BackendType:    c.BackendType,
		DefaultKeyID:   c.DefaultKeyID,
		TimeoutSeconds: c.effectiveTimeoutSeconds(),
		RetryAttempts:  c.RetryAttempts,
		EnableCache:    c.EnableCache,
		CacheSummary: CacheSummary{
			MaxKeys:       c.MaxCachedKeys,
			TTLSeconds:    c.CacheTTLSeconds,
			EnableMetrics: true, // Stats counters are always kept
		},
		BackendSummary: map[string]any{},
	}
	b := s.BackendSummary
	switch c.BackendType {
	case BackendLocal:
		b["key_dir"] = c.KeyDir
		switch {
		case c.MasterKey != "":
			b["master_key"] = redacted
		case c.MasterKeyFile != "":
			b["master_key_file"] = c.MasterKeyFile
		}
		if c.InsecurePlaintextKeys {
			b["insecure_plaintext_keys"] = true
		}
	case BackendVault:
		b["address"] = c.Address
		b["mount_path"] = orDefault(c.MountPath, DefaultVaultMountPath)
		b["kv_mount"] = orDefault(c.KVMount, DefaultVaultKVMount)
		b["key_path_prefix"] = orDefault(c.KeyPathPrefix, DefaultVaultKeyPathPrefix)
		if c.Namespace != "" {
			b["namespace"] = c.Namespace
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
	}
	return s
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
