package kms

// STUB: the kms helper replaces this file with the real Manager. The method
// set below is the contract other packages (sse, admin) compile against.

import (
	"context"
	"io"
	"log/slog"
)

// Manager owns the active backend, the data-key cache and the lifecycle.
type Manager struct {
	logger *slog.Logger
}

// Option configures a Manager.
type Option func(*Manager)

// WithLogger sets the structured logger (default: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(m *Manager) { m.logger = l } }

// NewManager returns a Manager in state NotConfigured.
func NewManager(opts ...Option) *Manager {
	m := &Manager{}
	for _, o := range opts {
		o(m)
	}
	return m
}

func (m *Manager) Configure(ctx context.Context, c Config) error        { return ErrNotRunning }
func (m *Manager) Reconfigure(ctx context.Context, p ConfigPatch) error { return ErrNotRunning }
func (m *Manager) Start(ctx context.Context) error                      { return ErrNotRunning }
func (m *Manager) Stop(ctx context.Context) error                       { return ErrNotRunning }
func (m *Manager) Status(ctx context.Context) Status                    { return Status{State: StateNotConfigured} }
func (m *Manager) Config() (Config, bool)                               { return Config{}, false }
func (m *Manager) ClearCache()                                          {}
func (m *Manager) Stats() Stats                                         { return Stats{} }
func (m *Manager) CreateKey(ctx context.Context, req CreateKeyRequest) (KeyMetadata, error) {
	return KeyMetadata{}, ErrNotRunning
}
func (m *Manager) DescribeKey(ctx context.Context, keyID string) (KeyMetadata, error) {
	return KeyMetadata{}, ErrNotRunning
}
func (m *Manager) ListKeys(ctx context.Context, req ListKeysRequest) (ListKeysResult, error) {
	return ListKeysResult{}, ErrNotRunning
}
func (m *Manager) EnableKey(ctx context.Context, keyID string) error  { return ErrNotRunning }
func (m *Manager) DisableKey(ctx context.Context, keyID string) error { return ErrNotRunning }
func (m *Manager) ScheduleKeyDeletion(ctx context.Context, keyID string, pendingDays int) (KeyMetadata, error) {
	return KeyMetadata{}, ErrNotRunning
}
func (m *Manager) CancelKeyDeletion(ctx context.Context, keyID string) (KeyMetadata, error) {
	return KeyMetadata{}, ErrNotRunning
}
func (m *Manager) RotateKey(ctx context.Context, keyID string) (KeyMetadata, error) {
	return KeyMetadata{}, ErrNotRunning
}
func (m *Manager) GenerateDataKey(ctx context.Context, keyID string, ec EncryptionContext) (DataKey, error) {
	return DataKey{}, ErrNotRunning
}
func (m *Manager) Decrypt(ctx context.Context, ciphertext []byte, ec EncryptionContext) (DataKey, error) {
	return DataKey{}, ErrNotRunning
}
func (m *Manager) Rewrap(ctx context.Context, ciphertext []byte, ec EncryptionContext) ([]byte, error) {
	return nil, ErrNotRunning
}
func (m *Manager) DefaultKeyID() string { return "" }

func NewEncryptWriter(ctx context.Context, m *Manager, w io.Writer, keyID string, ec EncryptionContext) (io.WriteCloser, error) {
	return nil, ErrNotRunning
}
func NewDecryptReader(ctx context.Context, m *Manager, r io.Reader, ec EncryptionContext) (io.Reader, error) {
	return nil, ErrNotRunning
}
