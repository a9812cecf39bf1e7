package kms

import (
	"errors"
	"sync"
	"time"
)

// ErrCircuitOpen is returned at once, without calling the backend, while
// the Manager's circuit breaker is open: the backend answered
// ErrUnavailable to several calls in a row and is given a cool-down. It
// also matches ErrUnavailable, so code that treats the backend as down keeps
// working. See WithCircuitBreaker.
var ErrCircuitOpen = errors.New("kms: backend circuit open")

// Circuit breaker defaults (see WithCircuitBreaker).
const (
	DefaultBreakerFailures = 5
	DefaultBreakerCoolDown = time.Second
)

// BreakerState is the state of the Manager's circuit breaker, in Status.
type BreakerState string

// Breaker states: Closed (calls reach the backend), Open (calls fail with
// ErrCircuitOpen until the cool-down ends) and HalfOpen (one probe call is
// let through; its success closes the breaker, its failure opens it again).
const (
	BreakerClosed   BreakerState = "closed"
	BreakerOpen     BreakerState = "open"
	BreakerHalfOpen BreakerState = "half-open"
)

// WithCircuitBreaker sets the circuit breaker: after failures consecutive
// backend attempts that end in ErrUnavailable (a deadline of ours included),
// the backend is not called for coolDown; calls fail at once with an error
// wrapping ErrCircuitOpen and ErrUnavailable, and Status reports the breaker
// open. After the cool-down one call (or Status's health probe) is let
// through as a probe: success closes the breaker, failure opens it for
// another cool-down. Any other answer, success or a caller's error such as
// ErrKeyNotFound, counts as the backend being up. failures 0 turns the
// breaker off. Defaults: DefaultBreakerFailures, DefaultBreakerCoolDown.
//
// Cached data keys keep serving while the breaker is open, until their
// cache_ttl_seconds; ClearCache or Stop ends that at once.
func WithCircuitBreaker(failures int, coolDown time.Duration) Option {
	return func(m *Manager) {
		m.breakerFailures, m.breakerCoolDown = max(failures, 0), max(coolDown, time.Millisecond)
	}
}

// breaker is one backend's circuit breaker. It lives with the backend
// (sharedBackend), so a hot swap that keeps the backend keeps its state.
type breaker struct {
	failures int           // threshold; 0: off
	coolDown time.Duration //
	now      func() time.Time

	mu        sync.Mutex
	state     BreakerState
	run       int       // consecutive ErrUnavailable attempts
	openUntil time.Time // while open
	probing   bool      // a half-open probe is in flight
}

func newBreaker(failures int, coolDown time.Duration) *breaker {
	return &breaker{failures: failures, coolDown: coolDown, now: time.Now, state: BreakerClosed}
}

// allow reports whether an attempt may call the backend now; false means
// fail with ErrCircuitOpen. probe is true for the half-open probe, whose
// outcome must be recorded.
func (b *breaker) allow() (ok, probe bool) {
	if b == nil || b.failures == 0 {
		return true, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerClosed:
		return true, false
	case BreakerOpen:
		if b.now().Before(b.openUntil) {
			return false, false
		}
		b.state = BreakerHalfOpen
		fallthrough
	default: // half-open
		if b.probing {
			return false, false
		}
		b.probing = true
		return true, true
	}
}

// record takes an attempt's outcome: down is an ErrUnavailable answer.
// It returns the state after it, and whether it changed.
func (b *breaker) record(probe, down bool) (BreakerState, bool) {
	if b == nil || b.failures == 0 {
		return BreakerClosed, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	before := b.state
	if probe {
		b.probing = false
	}
	switch {
	case !down:
		b.run = 0
		if probe || b.state == BreakerHalfOpen {
			b.state = BreakerClosed
		}
	case probe || b.state == BreakerHalfOpen:
		b.state, b.openUntil = BreakerOpen, b.now().Add(b.coolDown)
	default:
		b.run++
		if b.state == BreakerClosed && b.run >= b.failures {
			b.state, b.openUntil = BreakerOpen, b.now().Add(b.coolDown)
		}
	}
	return b.state, b.state != before
}

// snapshot returns the state as Status shows it: open turns half-open once
// the cool-down is over (the next call will probe).
func (b *breaker) snapshot() BreakerState {
	if b == nil || b.failures == 0 {
		return BreakerClosed
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == BreakerOpen && !b.now().Before(b.openUntil) {
		return BreakerHalfOpen
	}
	return b.state
}
