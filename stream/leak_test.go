package stream

import (
	"bytes"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestNoGoroutineLeak: finished streams stop their workers at once, and
// abandoned ones (never closed, never read to the end) once collected.
func TestNoGoroutineLeak(t *testing.T) {
	base := runtime.NumGoroutine()
	pt := seeded(1, 10<<10)
	opts := []Option{WithSegmentSize(1024), WithConcurrency(4)}
	ct := encrypt(t, pt, opts...)

	func() {
		for range 10 {
			// Finished.
			w, err := NewEncryptWriter(io.Discard, testKey, testAAD, opts...)
			require.NoError(t, err)
			_, _ = w.Write(pt)
			require.NoError(t, w.Close())
			r, err := NewDecryptReader(bytes.NewReader(ct), testKey, testAAD, opts...)
			require.NoError(t, err)
			_, err = io.Copy(io.Discard, r)
			require.NoError(t, err)
			// Abandoned half way.
			w, err = NewEncryptWriter(io.Discard, testKey, testAAD, opts...)
			require.NoError(t, err)
			_, _ = w.Write(pt[:5000])
			r, err = NewDecryptReader(bytes.NewReader(ct), testKey, testAAD, opts...)
			require.NoError(t, err)
			_, _ = r.Read(make([]byte, 10))
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	require.LessOrEqual(t, runtime.NumGoroutine(), base)
}
