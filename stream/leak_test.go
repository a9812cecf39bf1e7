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

// TestSmallStreamStartsNoWorkers: with WithConcurrency, a stream of one
// segment starts no goroutine (a writer starts them with its second
// segment; a reader whose source tells its length runs sequentially when it
// holds one segment), and it still round-trips.
func TestSmallStreamStartsNoWorkers(t *testing.T) {
	opts := []Option{WithSegmentSize(1024), WithConcurrency(4)}
	pt := seeded(1, 900)
	base := runtime.NumGoroutine()
	var ct bytes.Buffer
	w, err := NewEncryptWriter(&ct, testKey, testAAD, opts...)
	require.NoError(t, err)
	_, err = w.Write(pt)
	require.NoError(t, err)
	require.Equal(t, base, runtime.NumGoroutine(), "writer of one segment")
	r, err := NewDecryptReader(bytes.NewReader(encrypt(t, pt, opts...)), testKey, testAAD, opts...)
	require.NoError(t, err)
	require.Equal(t, base, runtime.NumGoroutine(), "reader of one segment")
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, pt, got)
	require.NoError(t, w.Close())
	got, err = decryptAll(ct.Bytes(), opts...)
	require.NoError(t, err)
	require.Equal(t, pt, got)

	// A second segment starts the writer's workers.
	w, err = NewEncryptWriter(io.Discard, testKey, testAAD, opts...)
	require.NoError(t, err)
	_, err = w.Write(seeded(2, 3000))
	require.NoError(t, err)
	require.Greater(t, runtime.NumGoroutine(), base)
	require.NoError(t, w.Close())
}

// TestInOrderEndsWithTheCall: the goroutines that seal the whole segments of
// a large Write, or open those of WriteTo from memory, have ended when the
// call returns, even when the stream is left unfinished.
func TestInOrderEndsWithTheCall(t *testing.T) {
	pt := seeded(2, 64<<10)
	opts := []Option{WithSegmentSize(1024), WithConcurrency(3)}
	ct := encrypt(t, pt, opts...)
	base := runtime.NumGoroutine()
	w, err := NewEncryptWriter(io.Discard, testKey, testAAD, opts...)
	require.NoError(t, err)
	_, err = w.Write(pt)
	require.NoError(t, err)
	require.Equal(t, base, runtime.NumGoroutine(), "after Write, before Close")
	r, err := NewDecryptReader(bytes.NewReader(ct), testKey, testAAD, opts...)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, r)
	require.NoError(t, err)
	require.Equal(t, base, runtime.NumGoroutine(), "after WriteTo")
	require.NoError(t, w.Close())
}
