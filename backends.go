package kms

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/local"
	"github.com/envkms/kms/vault"
)

// Defaults of the vault backend for empty Config fields.
const (
	DefaultVaultMountPath     = vault.DefaultMountPath
	DefaultVaultKVMount       = vault.DefaultKVMount
	DefaultVaultKeyPathPrefix = vault.DefaultKeyPathPrefix
)

// BackendFactory opens a backend for cfg, which the Manager has validated
// (common fields; the factory checks cfg.BackendOptions, ideally with
// BackendOptions.Decode, returning a *ConfigError). ctx carries the
// Manager's timeout_seconds deadline. The Manager owns the Backend it
// returns: it health-checks it, serves calls through its cache, retries and
// timeouts, and closes it when Stop or a hot swap retires it.
type BackendFactory func(ctx context.Context, cfg Config) (Backend, error)

// WithBackend registers backend type t on this Manager (there is no global
// registry): Configure and Reconfigure accept backend_type t, validating the
// common fields (cache, timeouts, retries, default_key_id) and leaving
// backend_options to f, and Start or a hot swap calls f to open the backend.
// The Manager's cache, retries, timeouts, hot swap, Status and config
// summary apply to it exactly as to the built-ins (a hot swap reuses the
// running backend when no field but the Manager's own settings changed).
//
// Registering "local" or "vault" replaces the built-in for this Manager (the
// built-in's field checks then do not apply). A nil f is ignored. A backend
// should pass backendtest.Run.
func WithBackend(t BackendType, f func(ctx context.Context, cfg Config) (Backend, error)) Option {
	return func(m *Manager) {
		if f == nil || t == "" {
			return
		}
		if m.backends == nil {
			m.backends = map[BackendType]BackendFactory{}
		}
		m.backends[t] = f
	}
}

// openBackend opens the backend cfg (already validated) selects: a
// registered one, or a built-in through m.newBackend.
func (m *Manager) openBackend(ctx context.Context, cfg Config) (backend.Backend, error) {
	if f, ok := m.backends[cfg.BackendType]; ok {
		b, err := f(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("%s backend: %w", cfg.BackendType, err)
		}
		if b == nil {
			return nil, fmt.Errorf("%s backend: factory returned no backend: %w", cfg.BackendType, backend.ErrUnavailable)
		}
		return b, nil
	}
	return m.newBackend(ctx, cfg, m.logger)
}

// openBuiltin builds a built-in backend: a local.Backend on key_dir unlocked
// with the master key (read from master_key_file when given; the copy is
// wiped once the backend is open), or a vault.Backend. It does not
// health-check; newRuntime does.
func openBuiltin(ctx context.Context, cfg Config, logger *slog.Logger) (backend.Backend, error) {
	switch cfg.BackendType {
	case BackendLocal:
		return openLocal(ctx, cfg, logger)
	case BackendVault:
		return openVault(ctx, cfg, logger)
	}
	return nil, &ConfigError{Problems: []FieldProblem{{Field: "backend_type", Problem: "unknown backend type"}}}
}

func openLocal(ctx context.Context, cfg Config, logger *slog.Logger) (backend.Backend, error) {
	lc := local.Config{
		Dir:               cfg.KeyDir,
		InsecurePlaintext: cfg.InsecurePlaintextKeys,
		Logger:            logger,
	}
	switch {
	case cfg.MasterKeyFile != "":
		mk, err := readSecretFile("master_key_file", cfg.MasterKeyFile)
		if err != nil {
			return nil, err
		}
		defer clear(mk)
		lc.MasterKey = mk
	case cfg.MasterKey != "":
		mk := []byte(cfg.MasterKey.Reveal())
		defer clear(mk)
		lc.MasterKey = mk
	}
	if cfg.InsecurePlaintextKeys {
		logger.Warn("kms: local backend with insecure_plaintext_keys: key material is stored unsealed; development only", "key_dir", cfg.KeyDir)
	}
	b, err := local.New(ctx, lc)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func openVault(ctx context.Context, cfg Config, logger *slog.Logger) (backend.Backend, error) {
	vc := vault.Config{
		Address:       cfg.Address,
		Namespace:     cfg.Namespace,
		MountPath:     cfg.MountPath,
		KVMount:       cfg.KVMount,
		KeyPathPrefix: cfg.KeyPathPrefix,
		Timeout:       cfg.timeout(),
		// The Manager retries (retry_attempts, on ErrUnavailable, for the
		// calls safe to repeat); a second layer of retries in the backend
		// would multiply the attempts.
		RetryAttempts: -1,
		Logger:        logger,
	}
	if a := cfg.AuthMethod; a != nil {
		vc.Token = a.Token.Reveal()
		vc.TokenFile = a.TokenFile
		if r := a.AppRole; r != nil {
			vc.AppRole = &vault.AppRole{
				RoleID:       r.RoleID,
				SecretID:     r.SecretID.Reveal(),
				SecretIDFile: r.SecretIDFile,
				MountPath:    r.MountPath,
			}
		}
	}
	if t := cfg.TLS; t != nil {
		vc.TLS = vault.TLSConfig{CAFile: t.CAFile, ClientCert: t.ClientCert, ClientKey: t.ClientKey, SkipVerify: t.SkipTLSVerify}
		if t.SkipTLSVerify {
			logger.Warn("kms: vault backend with skip_tls_verify: the server certificate is not verified; testing only", "address", cfg.Address)
		}
	}
	b, err := vault.New(ctx, vc)
	if err != nil {
		return nil, fmt.Errorf("vault backend: %w", err)
	}
	return b, nil
}
