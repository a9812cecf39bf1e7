package kms

// Merge returns c with every non-nil field of p applied. auth_method and tls
// are replaced as a whole when given. The result is not validated.
func (c Config) Merge(p ConfigPatch) Config {
	c = c.clone()
	set(&c.BackendType, p.BackendType)
	set(&c.KeyDir, p.KeyDir)
	set(&c.MasterKey, p.MasterKey)
	set(&c.MasterKeyFile, p.MasterKeyFile)
	set(&c.InsecurePlaintextKeys, p.InsecurePlaintextKeys)
	set(&c.DefaultKeyID, p.DefaultKeyID)
	set(&c.Address, p.Address)
	if p.AuthMethod != nil {
		c.AuthMethod = p.AuthMethod.clone()
	}
	set(&c.Namespace, p.Namespace)
	set(&c.MountPath, p.MountPath)
	set(&c.KVMount, p.KVMount)
	set(&c.KeyPathPrefix, p.KeyPathPrefix)
	if p.TLS != nil {
		t := *p.TLS
		c.TLS = &t
	}
	set(&c.EnableCache, p.EnableCache)
	set(&c.MaxCachedKeys, p.MaxCachedKeys)
	set(&c.CacheTTLSeconds, p.CacheTTLSeconds)
	set(&c.TimeoutSeconds, p.TimeoutSeconds)
	set(&c.RetryAttempts, p.RetryAttempts)
	return c
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// clone returns a deep copy of c (the pointer fields are copied, so the
// Manager's Config can't be changed through a caller's Config).
func (c Config) clone() Config {
	c.AuthMethod = c.AuthMethod.clone()
	if c.TLS != nil {
		t := *c.TLS
		c.TLS = &t
	}
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
