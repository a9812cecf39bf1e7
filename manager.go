package kms

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/stream"
)

// Manager owns the active master-key backend, the data-key cache and their
// lifecycle:
//
//	NotConfigured --Configure--> Configured --Start--> Running --Stop--> Configured
//	                                  |                    |
//	                                  +--Start fails--> Error (Status.Error says why;
//	                                                    Configure, Reconfigure or Start again)
//
// While Running, the backend, cache and effective Config form one immutable
// runtime that calls use; Reconfigure builds and health-checks a new runtime,
// swaps it in atomically and retires the old one once the calls that started
// on it have returned (a hot swap). Calls made while not Running fail with
// ErrNotRunning.
//
// Every backend call gets a deadline of timeout_seconds (retries included)
// and, for calls that are safe to repeat, up to retry_attempts retries with
// exponential backoff and jitter when the backend reports ErrUnavailable.
// Retried: DescribeKey, ListKeys, EnableKey, DisableKey, GenerateDataKey,
// Decrypt, Rewrap and health probes. GenerateDataKey is retried because an
// attempt leaves no state behind (each attempt draws a fresh key and only the
// successful attempt's key is returned). Never retried: CreateKey,
// RotateKey, ScheduleKeyDeletion and CancelKeyDeletion, whose repetition
// after a lost answer would act twice or fail spuriously.
//
// A circuit breaker (WithCircuitBreaker; on by default) stops calling a
// backend that answered ErrUnavailable to several attempts in a row: for a
// cool-down, calls fail at once with ErrCircuitOpen (which also matches
// ErrUnavailable) and Status reports Breaker "open"; then one call probes
// and, if it succeeds, closes the breaker. During an outage cached data keys
// keep serving Decrypt until their cache_ttl_seconds; ClearCache or Stop
// ends that at once (an incident playbook's "stop the KMS service to freeze
// new operations").
//
// A Manager is safe for concurrent use. The zero Manager is not usable; call
// NewManager.
type Manager struct {
	logger     *slog.Logger
	newBackend backendFactory                 // built-in backends; tests substitute fakes
	backends   map[BackendType]BackendFactory // registered with WithBackend
	ensureKey  bool                           // WithDefaultKeyCreation
	keyRefs    KeyReferences                  // WithKeyReferences; nil: none
	verRefs    KeyVersionReferences           // WithKeyVersionReferences; nil: none

	breakerFailures int           // WithCircuitBreaker
	breakerCoolDown time.Duration //

	meterProvider metric.MeterProvider // WithMeterProvider; nil: no-op
	inst          instruments
	idleAttrs     [numOps]metric.MeasurementOption

	// lifecycle serialises Configure, Reconfigure, Start and Stop, which may
	// take long (Argon2id unlock, Vault login); mu guards the fields below
	// and is held only briefly, so Status and calls never wait for a swap.
	lifecycle sync.Mutex
	mu        sync.Mutex
	state     State
	cfg       Config // valid unless state is NotConfigured
	reason    string // why state is Error

	rt    atomic.Pointer[runtime] // non-nil exactly while Running
	stats counters

	// buffers recycles segment buffers among envelope streams: a fresh
	// 1 MiB buffer per stream costs more than encrypting 1 MiB.
	buffers stream.BufferPool
}

// backendFactory builds a backend for cfg; tests substitute fakes.
type backendFactory func(ctx context.Context, cfg Config, logger *slog.Logger) (backend.Backend, error)

// Option configures a Manager.
type Option func(*Manager)

// WithLogger sets the structured logger. Without it, or with nil, the
// Manager logs to slog.Default() as it is when NewManager runs. The
// Manager logs lifecycle events at Info, failed calls at Debug (caller
// errors such as ErrKeyNotFound) or Warn (backend faults), with the
// operation and key id, never key material or credentials.
func WithLogger(l *slog.Logger) Option {
	return func(m *Manager) {
		if l != nil {
			m.logger = l
		}
	}
}

// WithDefaultKeyCreation makes Start (and a hot swap to a new backend)
// create the master key default_key_id names when the backend does not have
// it yet, so a fresh key directory serves GenerateDataKey("") at once.
// Without it a missing default key makes those calls fail with
// ErrKeyNotFound until an operator creates it (CreateKey with that KeyID).
// A default key that exists but is disabled or pending deletion is left
// alone.
func WithDefaultKeyCreation() Option {
	return func(m *Manager) { m.ensureKey = true }
}

// NewManager returns a Manager in state NotConfigured.
func NewManager(opts ...Option) *Manager {
	m := &Manager{
		logger:     slog.Default(),
		newBackend: openBuiltin,
		state:      StateNotConfigured,

		breakerFailures: DefaultBreakerFailures,
		breakerCoolDown: DefaultBreakerCoolDown,
	}
	for _, o := range opts {
		o(m)
	}
	m.idleAttrs = opAttrs("")
	m.initMetrics()
	return m
}

// snapshot returns the state, a copy of the Config and the error reason.
func (m *Manager) snapshot() (State, Config, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state, m.cfg.clone(), m.reason
}

func (m *Manager) setState(s State, cfg Config, reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state, m.cfg, m.reason = s, cfg, reason
}

// Config returns a copy of the current configuration, and false while the
// Manager is NotConfigured. Its secrets are of type Secret and print
// redacted; use Summary for display.
func (m *Manager) Config() (Config, bool) {
	st, cfg, _ := m.snapshot()
	if st == StateNotConfigured {
		return Config{}, false
	}
	return cfg, true
}

// DefaultKeyID returns the configured default_key_id (used by
// GenerateDataKey and NewEncryptWriter when given an empty key id), or "".
func (m *Manager) DefaultKeyID() string {
	if rt := m.rt.Load(); rt != nil {
		return rt.cfg.DefaultKeyID
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg.DefaultKeyID
}
