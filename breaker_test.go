package kms

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// After repeated ErrUnavailable the backend is not called for the
// cool-down: calls fail at once with ErrCircuitOpen (also ErrUnavailable),
// Status says so, and a half-open probe closes the breaker once the backend
// answers again.
func TestCircuitBreaker(t *testing.T) {
	ctx := context.Background()
	w := newFakeWorld()
	cfg := fakeConfig("a")
	cfg.RetryAttempts = NoRetries
	cfg.EnableCache = new(false)
	m := startFake(t, w, cfg, WithCircuitBreaker(3, 200*time.Millisecond))
	dk, err := m.GenerateDataKey(ctx, "", nil)
	require.NoError(t, err)

	w.failNext.Store(1 << 20) // the backend is down
	for range 3 {
		_, err := m.Decrypt(ctx, dk.Ciphertext, nil)
		require.ErrorIs(t, err, ErrUnavailable)
		require.NotErrorIs(t, err, ErrCircuitOpen)
	}
	before := w.backendOps.Load()
	start := time.Now()
	for range 100 {
		_, err := m.Decrypt(ctx, dk.Ciphertext, nil)
		require.ErrorIs(t, err, ErrCircuitOpen)
		require.ErrorIs(t, err, ErrUnavailable)
	}
	require.Equal(t, before, w.backendOps.Load(), "an open breaker calls nothing")
	require.Less(t, time.Since(start), 100*time.Millisecond, "calls fail at once")
	st := m.Status(ctx)
	require.Equal(t, BreakerOpen, st.Breaker)
	require.False(t, st.Healthy)
	require.Contains(t, st.Error, "cool-down")

	// Still down after the cool-down: the probe fails and reopens.
	time.Sleep(250 * time.Millisecond)
	st = m.Status(ctx) // its health probe is the half-open probe; it fails
	require.Equal(t, BreakerOpen, st.Breaker)
	require.False(t, st.Healthy)
	_, err = m.Decrypt(ctx, dk.Ciphertext, nil)
	require.ErrorIs(t, err, ErrCircuitOpen)

	// The backend recovers: the next probe closes the breaker.
	w.failNext.Store(0)
	time.Sleep(250 * time.Millisecond)
	got, err := m.Decrypt(ctx, dk.Ciphertext, nil)
	require.NoError(t, err)
	require.Equal(t, dk.Plaintext, got.Plaintext)
	st = m.Status(ctx)
	require.Equal(t, BreakerClosed, st.Breaker)
	require.True(t, st.Healthy)
}

// Caller errors (no such key) mean the backend is up: they never open it.
func TestCircuitBreakerIgnoresCallerErrors(t *testing.T) {
	ctx := context.Background()
	m := startFake(t, newFakeWorld(), fakeConfig("a"), WithCircuitBreaker(2, time.Hour))
	for range 10 {
		_, err := m.DescribeKey(ctx, "missing")
		require.ErrorIs(t, err, ErrKeyNotFound)
	}
	_, err := m.GenerateDataKey(ctx, "", nil)
	require.NoError(t, err)
	require.False(t, errors.Is(err, ErrCircuitOpen))
	require.Equal(t, BreakerClosed, m.Status(ctx).Breaker)
}
