package kms

import (
	"context"
	"fmt"
	"time"

	"github.com/envkms/kms/backend"
)

// Configure validates c and makes it the Manager's configuration, in state
// Configured; it starts nothing and contacts no backend. An invalid c yields
// a *ConfigError (wrapping ErrInvalidConfig) listing every bad field, and
// leaves the Manager as it was. While Running it returns ErrAlreadyRunning
// (use Reconfigure, or Stop first). From state Error it clears the error.
func (m *Manager) Configure(ctx context.Context, c Config) error {
	m.lifecycle.Lock()
	defer m.lifecycle.Unlock()
	if st, _, _ := m.snapshot(); st == StateRunning {
		return ErrAlreadyRunning
	}
	if err := c.validate(m.backends); err != nil {
		return err
	}
	c = c.withDefaults()
	m.setState(StateConfigured, c, "")
	m.logger.Info("kms: configured", "backend_type", string(c.BackendType), "default_key_id", c.DefaultKeyID)
	return nil
}

// Reconfigure applies the non-nil fields of p to the current configuration
// and validates the result (a *ConfigError, leaving everything as it was, if
// invalid).
//
// While Running it is a hot swap: it builds and health-checks a runtime for
// the new configuration (reusing the running backend when p leaves the
// backend's settings alone, and the cache when it also leaves the cache's
// settings alone), then switches to it atomically. Calls already in flight
// finish on the old backend, which is closed when the last of them returns;
// calls starting after the switch use the new one; none fails because of
// the swap. If the new backend can't be opened or is unhealthy, Reconfigure
// returns the error and the old configuration keeps serving, still Running.
//
// Otherwise it only updates the configuration (from state Error, the Manager
// becomes Configured). Before any Configure it returns ErrNotConfigured.
func (m *Manager) Reconfigure(ctx context.Context, p ConfigPatch) error {
	m.lifecycle.Lock()
	defer m.lifecycle.Unlock()
	st, cur, _ := m.snapshot()
	if st == StateNotConfigured {
		return ErrNotConfigured
	}
	next := cur.Merge(p)
	if err := next.validate(m.backends); err != nil {
		return err
	}
	next = next.withDefaults()
	if st != StateRunning {
		m.setState(StateConfigured, next, "")
		m.logger.Info("kms: reconfigured", "backend_type", string(next.BackendType), "default_key_id", next.DefaultKeyID)
		return nil
	}
	old := m.rt.Load()
	start := time.Now()
	rt, err := m.newRuntime(ctx, next, old)
	if err != nil {
		m.logger.Warn("kms: hot swap failed; the previous backend keeps serving",
			"backend_type", string(next.BackendType), "err", err)
		return fmt.Errorf("kms: reconfigure: %w", err)
	}
	m.rt.Store(rt)
	m.setState(StateRunning, next, "")
	old.retire()
	m.logger.Info("kms: reconfigured while running (hot swap)",
		"backend_type", string(next.BackendType), "default_key_id", next.DefaultKeyID,
		"backend_reused", old.be == rt.be, "cache_reused", rt.cache != nil && old.cache == rt.cache,
		"took", time.Since(start))
	return nil
}

// Start opens the configured backend, checks that it serves (a health
// probe: a local key directory unlocks with the master key, Vault answers
// and accepts the credentials) and enters Running. If that fails the
// Manager enters state Error with the reason in Status, and Start returns an
// error wrapping the cause (e.g. ErrUnavailable, ErrAccessDenied, a
// *ConfigError for an unreadable secret file). Before Configure it returns
// ErrNotConfigured; while Running, ErrAlreadyRunning.
func (m *Manager) Start(ctx context.Context) error {
	m.lifecycle.Lock()
	defer m.lifecycle.Unlock()
	st, cfg, _ := m.snapshot()
	switch st {
	case StateNotConfigured:
		return ErrNotConfigured
	case StateRunning:
		return ErrAlreadyRunning
	}
	start := time.Now()
	rt, err := m.newRuntime(ctx, cfg, nil)
	if err != nil {
		err = fmt.Errorf("kms: start %s backend: %w", cfg.BackendType, err)
		m.setState(StateError, cfg, err.Error())
		m.logger.Error("kms: start failed", "backend_type", string(cfg.BackendType), "err", err)
		return err
	}
	m.rt.Store(rt)
	m.setState(StateRunning, cfg, "")
	m.logger.Info("kms: started", "backend_type", string(cfg.BackendType), "default_key_id", cfg.DefaultKeyID,
		"enable_cache", cfg.cacheEnabled(), "took", time.Since(start))
	return nil
}

// Stop leaves Running for Configured: new calls fail with ErrNotRunning at
// once, and Stop waits until the calls in flight have returned and the
// backend is closed, or until ctx is done (the backend is then closed when
// the last call returns). It returns the backend's Close error, if any, or
// ctx's error. From state Error it just returns to Configured; otherwise it
// returns ErrNotRunning.
func (m *Manager) Stop(ctx context.Context) error {
	m.lifecycle.Lock()
	defer m.lifecycle.Unlock()
	st, cfg, _ := m.snapshot()
	switch st {
	case StateError:
		m.setState(StateConfigured, cfg, "")
		return nil
	case StateRunning:
	default:
		return ErrNotRunning
	}
	rt := m.rt.Swap(nil)
	m.setState(StateConfigured, cfg, "")
	rt.retire()
	select {
	case <-rt.be.closed:
		m.logger.Info("kms: stopped", "backend_type", string(cfg.BackendType))
		if rt.be.closeErr != nil {
			return fmt.Errorf("kms: stop: closing the backend: %w", rt.be.closeErr)
		}
		return nil
	case <-ctx.Done():
		m.logger.Warn("kms: stopped; backend closes when the calls in flight return", "backend_type", string(cfg.BackendType))
		return fmt.Errorf("kms: stop: waiting for calls in flight: %w", ctx.Err())
	}
}

// Status reports the state, the redacted configuration summary and, while
// Running, the result of a health probe of the backend (Healthy, and Error
// with the reason when unhealthy). In state Error, Error says why Start
// failed. Status never contains secrets.
func (m *Manager) Status(ctx context.Context) Status {
	st, cfg, reason := m.snapshot()
	s := Status{State: st, Error: reason}
	if st == StateNotConfigured {
		return s
	}
	s.BackendType = cfg.BackendType
	sum := cfg.Summary()
	s.ConfigSummary = &sum
	if st != StateRunning {
		return s
	}
	_, err := run(m, opHealth, "", func(rt *runtime) (struct{}, error) {
		defer func() { s.Breaker = rt.be.breaker.snapshot() }()
		return invoke(ctx, m, rt, opHealth, "", func(ctx context.Context, b backend.Backend) (struct{}, error) {
			return struct{}{}, b.Health(ctx)
		})
	})
	s.Healthy = err == nil
	if err != nil {
		s.Error = err.Error()
	}
	return s
}
