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

// openBackend builds the backend cfg (already validated) selects: a
// local.Backend on key_dir unlocked with the master key (read from
// master_key_file when given; the copy is wiped once the backend is open), or
// a vault.Backend. It does not health-check; newRuntime does.
func openBackend(ctx context.Context, cfg Config, logger *slog.Logger) (backend.Backend, error) {
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
