package s3srv

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"go.opentelemetry.io/otel/metric"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/envkms/kms"
)

// DefaultKeyID is the master key SSE-S3, and SSE-KMS without a key id, use.
// New creates it if the key directory doesn't hold it yet.
const DefaultKeyID = "default"

// kmsPaths returns the local backend's key directory and master-key file.
//
// The master key (the secret that seals the key files) is generated once and
// kept in DIR/.kms/master.key with mode 0600, next to the keys it protects.
// That is convenient for an example and wrong for production, where the
// master secret belongs somewhere else (a secrets manager, a separate disk,
// an environment variable) or the keys in Vault.
func kmsPaths(dataDir string) (keyDir, masterKeyFile string) {
	return filepath.Join(dataDir, ".kms", "keys"), filepath.Join(dataDir, ".kms", "master.key")
}

// openManager configures and starts a Manager on the local backend under
// dataDir and makes sure DefaultKeyID exists.
func openManager(ctx context.Context, dataDir string, kmsCfg *kms.Config, log *slog.Logger, mp metric.MeterProvider, opts ...kms.Option) (*kms.Manager, error) {
	if kmsCfg != nil {
		return startManager(ctx, *kmsCfg, log, mp, opts...)
	}
	keyDir, mkFile := kmsPaths(dataDir)
	if err := mkdirAllDurable(keyDir); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDataDir, err)
	}
	created, err := ensureMasterKeyFile(mkFile)
	if err != nil {
		return nil, err
	}
	if created {
		log.Warn("s3server: generated a new local master key; it is stored next to the keys it protects, which suits an example only",
			"master_key_file", mkFile)
	}
	return startManager(ctx, kms.Config{
		BackendType:     kms.BackendLocal,
		KeyDir:          keyDir,
		MasterKeyFile:   mkFile,
		DefaultKeyID:    DefaultKeyID,
		MaxCachedKeys:   1000,
		CacheTTLSeconds: 300,
	}, log, mp, opts...)
}

// startManager configures and starts a Manager on cfg and makes sure its
// default key exists.
func startManager(ctx context.Context, cfg kms.Config, log *slog.Logger, mp metric.MeterProvider, opts ...kms.Option) (*kms.Manager, error) {
	if cfg.DefaultKeyID == "" {
		cfg.DefaultKeyID = DefaultKeyID
	}
	m := kms.NewManager(append([]kms.Option{kms.WithLogger(log), kms.WithMeterProvider(mp)}, opts...)...)
	if err := m.Configure(ctx, cfg); err != nil {
		return nil, fmt.Errorf("s3srv: configure kms: %w", err)
	}
	if err := m.Start(ctx); err != nil {
		return nil, fmt.Errorf("s3srv: start kms: %w", err)
	}
	if err := ensureKey(ctx, m, cfg.DefaultKeyID); err != nil {
		_ = m.Stop(ctx)
		return nil, err
	}
	return m, nil
}

// ensureMasterKeyFile creates path with 32 random bytes (base64) unless it
// exists. It reports whether it created the file.
func ensureMasterKeyFile(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%w: master key file: %v", ErrDataDir, err)
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	enc := []byte(base64.StdEncoding.EncodeToString(raw[:]))
	clear(raw[:])
	_, werr := f.Write(enc)
	clear(enc)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		// Durable before any key file is sealed with it: losing it to a
		// power cut would lose every key.
		werr = syncDir(filepath.Dir(path))
	}
	if werr != nil {
		_ = os.Remove(path)
		return false, fmt.Errorf("%w: master key file: %v", ErrDataDir, werr)
	}
	return true, nil
}

// ensureKey creates master key id unless it exists.
func ensureKey(ctx context.Context, m *kms.Manager, id string) error {
	_, err := m.DescribeKey(ctx, id)
	if err == nil {
		return nil
	}
	if !errors.Is(err, kms.ErrKeyNotFound) {
		return fmt.Errorf("s3srv: describe key %q: %w", id, err)
	}
	_, err = m.CreateKey(ctx, kms.CreateKeyRequest{KeyID: id, Description: "s3server default key (SSE-S3, SSE-KMS without key id)"})
	if err != nil && !errors.Is(err, kms.ErrKeyExists) {
		return fmt.Errorf("s3srv: create key %q: %w", id, err)
	}
	return nil
}
