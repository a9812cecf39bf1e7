package kms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/envkms/kms/backend"
)

// op names a Manager operation for counters, logs and the retry policy.
type op int

const (
	opCreateKey op = iota
	opDescribeKey
	opListKeys
	opEnableKey
	opDisableKey
	opScheduleKeyDeletion
	opCancelKeyDeletion
	opRotateKey
	opGenerateDataKey
	opDecrypt
	opRewrap
	opHealth
	opUpdateKeyDescription
	opTagKey
	opUntagKey
	opSetRotationPeriod
	opDestroyKeyVersions
	numOps
)

func (o op) String() string {
	switch o {
	case opCreateKey:
		return "CreateKey"
	case opDescribeKey:
		return "DescribeKey"
	case opListKeys:
		return "ListKeys"
	case opEnableKey:
		return "EnableKey"
	case opDisableKey:
		return "DisableKey"
	case opScheduleKeyDeletion:
		return "ScheduleKeyDeletion"
	case opCancelKeyDeletion:
		return "CancelKeyDeletion"
	case opRotateKey:
		return "RotateKey"
	case opGenerateDataKey:
		return "GenerateDataKey"
	case opDecrypt:
		return "Decrypt"
	case opRewrap:
		return "Rewrap"
	case opHealth:
		return "Health"
	case opUpdateKeyDescription:
		return "UpdateKeyDescription"
	case opTagKey:
		return "TagKey"
	case opUntagKey:
		return "UntagKey"
	case opSetRotationPeriod:
		return "SetRotationPeriod"
	case opDestroyKeyVersions:
		return "DestroyKeyVersions"
	}
	return "op?"
}

// retryable reports whether o may be repeated after ErrUnavailable: its
// repetition is harmless even if an earlier attempt took effect. See the
// Manager doc for the reasoning.
func (o op) retryable() bool {
	switch o {
	case opDescribeKey, opListKeys, opEnableKey, opDisableKey,
		opGenerateDataKey, opDecrypt, opRewrap, opHealth,
		opUpdateKeyDescription, opTagKey, opUntagKey, // edits are idempotent
		opSetRotationPeriod:
		return true
	}
	return false
}

// Backoff between retries: full jitter over base·2^attempt, capped.
const (
	retryBaseDelay = 50 * time.Millisecond
	retryMaxDelay  = 2 * time.Second
)

func backoff(attempt int) time.Duration {
	d := retryMaxDelay
	if attempt < 6 {
		d = min(retryBaseDelay<<attempt, retryMaxDelay)
	}
	return d/2 + rand.N(d/2+1)
}

// run counts o and runs f on the current runtime, holding a reference to it
// so a hot swap waits for f before closing the backend f uses.
func run[T any](m *Manager, o op, keyID string, f func(rt *runtime) (T, error)) (T, error) {
	m.stats.ops[o].Add(1)
	rt, err := m.acquire()
	if err != nil {
		m.stats.errs[o].Add(1)
		m.recordCall(nil, o, err)
		var zero T
		return zero, err
	}
	defer rt.release()
	v, err := f(rt)
	if err != nil {
		m.stats.errs[o].Add(1)
		m.logFailure(o, keyID, err)
	}
	m.recordCall(rt, o, err)
	return v, err
}

// invoke calls fn on rt's backend under a deadline of rt.timeout, repeating
// it on ErrUnavailable while o is retryable, attempts remain and the
// deadline allows. A deadline of ours that passes becomes an error wrapping
// ErrUnavailable and context.DeadlineExceeded; the caller's own
// cancellation is returned as is.
func invoke[T any](ctx context.Context, m *Manager, rt *runtime, o op, keyID string, fn func(context.Context, backend.Backend) (T, error)) (T, error) {
	cctx, cancel := context.WithTimeout(ctx, rt.timeout)
	defer cancel()
	attempts := 1
	if o.retryable() {
		attempts += rt.cfg.retries()
	}
	for i := 0; ; i++ {
		ok, probe := rt.be.breaker.allow()
		if !ok {
			var zero T
			return zero, fmt.Errorf("kms: %s: the %s backend is not called for a cool-down after repeated failures: %w: %w",
				o, rt.cfg.BackendType, ErrCircuitOpen, backend.ErrUnavailable)
		}
		var start time.Time
		if m.meterProvider != nil { // no clock reads on the hot path without metrics
			start = time.Now()
		}
		v, err := fn(cctx, rt.be.Backend)
		if m.meterProvider != nil {
			m.recordLatency(rt, o, time.Since(start))
		}
		ours := ctx.Err() == nil && cctx.Err() != nil // our deadline passed
		m.recordAttempt(rt, probe, errors.Is(err, backend.ErrUnavailable) || (err != nil && ours))
		if err == nil {
			return v, nil
		}
		if ours {
			var zero T
			return zero, fmt.Errorf("kms: %s: no answer from the %s backend within %s: %w: %w",
				o, rt.cfg.BackendType, rt.timeout, backend.ErrUnavailable, context.DeadlineExceeded)
		}
		if !errors.Is(err, backend.ErrUnavailable) || i+1 >= attempts || ctx.Err() != nil {
			var zero T
			return zero, err
		}
		d := backoff(i)
		m.logger.Debug("kms: retrying after backend unavailable",
			"op", o.String(), "key_id", keyID, "attempt", i+1, "backoff", d, "err", err)
		t := time.NewTimer(d)
		select {
		case <-cctx.Done():
			t.Stop()
			// Report the last backend error; the deadline is the reason we stop.
			var zero T
			if ctx.Err() != nil {
				return zero, err
			}
			return zero, fmt.Errorf("kms: %s: backend unavailable for %s: %w", o, rt.timeout, err)
		case <-t.C:
		}
	}
}

// recordAttempt feeds an attempt's outcome to the breaker and logs its
// transitions.
func (m *Manager) recordAttempt(rt *runtime, probe, down bool) {
	st, changed := rt.be.breaker.record(probe, down)
	if !changed {
		return
	}
	if st == BreakerOpen {
		m.logger.Warn("kms: circuit breaker open: backend calls fail at once for a cool-down",
			"backend_type", string(rt.cfg.BackendType), "cool_down", rt.be.breaker.coolDown)
	} else {
		m.logger.Info("kms: circuit breaker closed: the backend answers again", "backend_type", string(rt.cfg.BackendType))
	}
}

// logFailure logs a failed call: caller mistakes at Debug, backend faults at
// Warn. The error text is safe to log: no error of this module holds key
// material or credentials.
func (m *Manager) logFailure(o op, keyID string, err error) {
	level := slog.LevelWarn
	switch {
	case errors.Is(err, ErrNotRunning),
		errors.Is(err, backend.ErrKeyNotFound),
		errors.Is(err, backend.ErrKeyExists),
		errors.Is(err, backend.ErrKeyDisabled),
		errors.Is(err, backend.ErrKeyPendingDeletion),
		errors.Is(err, backend.ErrInvalidCiphertext),
		errors.Is(err, backend.ErrContextMismatch),
		errors.Is(err, backend.ErrInvalidArgument),
		errors.Is(err, context.Canceled):
		level = slog.LevelDebug
	}
	m.logger.Log(context.Background(), level, "kms: call failed", "op", o.String(), "key_id", keyID, "err", err)
}
