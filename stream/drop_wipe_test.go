package stream

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// wipedAfterGC collects garbage until b holds no marker plaintext, and
// reports whether that happened within a few seconds (cleanups run on their
// own goroutine after a cycle).
func wipedAfterGC(b []byte) bool {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		runtime.GC()
		if !holdsPlaintext(b) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// TestDroppedStreamsWiped checks that the plaintext a stream holds in its
// buffer is wiped when the stream is dropped unfinished: a writer written
// to but never closed, and a sequential reader read half way. The test keeps
// the buffer's backing array (not the stream) to look at it.
func TestDroppedStreamsWiped(t *testing.T) {
	pt := plaintextOf(4 << 10)
	t.Run("writer", func(t *testing.T) {
		for _, pool := range []*BufferPool{nil, new(BufferPool)} {
			b := func() []byte {
				w, err := NewEncryptWriter(io.Discard, testKey, testAAD, WithBufferPool(pool))
				require.NoError(t, err)
				_, err = w.Write(pt)
				require.NoError(t, err)
				buf := *w.(*encryptWriter).fill.pooled
				require.True(t, holdsPlaintext(buf), "the unsealed segment is in the buffer")
				return buf
			}()
			require.True(t, wipedAfterGC(b), "plaintext of a dropped writer left in its buffer (pool %v)", pool != nil)
		}
	})
	t.Run("reader", func(t *testing.T) {
		ct := encrypt(t, pt)
		b := func() []byte {
			r, err := NewDecryptReader(plainReader{bytes.NewReader(ct)}, testKey, testAAD)
			require.NoError(t, err)
			_, err = io.ReadFull(r, make([]byte, 100))
			require.NoError(t, err)
			buf := *r.(*decryptReader).seg.pooled
			require.True(t, holdsPlaintext(buf))
			return buf
		}()
		require.True(t, wipedAfterGC(b), "plaintext of a dropped reader left in its buffer")
	})
	t.Run("closed writer keeps its buffer's cleanup off", func(t *testing.T) {
		// A finished writer's buffer goes back to the pool and on to other
		// streams: its cleanup must be cancelled, or collecting the
		// writer would wipe another stream's segment.
		var out bytes.Buffer
		w, err := NewEncryptWriter(&out, testKey, testAAD)
		require.NoError(t, err)
		_, err = w.Write(pt)
		require.NoError(t, err)
		j := w.(*encryptWriter).fill
		require.True(t, j.guarded)
		require.NoError(t, w.Close())
		require.False(t, j.guarded)
		got, err := decryptAll(out.Bytes())
		require.NoError(t, err)
		require.Equal(t, pt, got)
	})
}

// TestReaderAtCacheWiped checks that the plaintext segment a ReaderAt
// caches is wiped when it is replaced, on Close, and when a ReaderAt that
// was never closed is collected; and that ReadAt fails after Close.
func TestReaderAtCacheWiped(t *testing.T) {
	const seg = 4096
	pt := plaintextOf(5 * seg)
	ct := encrypt(t, pt, WithSegmentSize(seg))

	ra, err := NewDecryptReaderAt(bytes.NewReader(ct), int64(len(ct)), testKey, testAAD, WithSegmentSize(seg))
	require.NoError(t, err)
	final := ra.c.sb.pt // the final segment, cached by NewDecryptReaderAt
	require.True(t, holdsPlaintext(final))
	buf := make([]byte, 10)
	_, err = ra.ReadAt(buf, 100) // caches segment 0, replacing the final one
	require.NoError(t, err)
	require.Equal(t, pt[100:110], buf)
	require.False(t, holdsPlaintext(final), "replaced cache segment not wiped")
	first := ra.c.sb.pt
	require.True(t, holdsPlaintext(first))
	require.NoError(t, ra.Close())
	require.False(t, holdsPlaintext(first), "cache not wiped by Close")
	_, err = ra.ReadAt(buf, 100)
	require.ErrorIs(t, err, ErrClosed)
	var se *Error
	require.True(t, errors.As(err, &se))
	require.NoError(t, ra.Close(), "Close twice")

	dropped := func() []byte {
		ra, err := NewDecryptReaderAt(bytes.NewReader(ct), int64(len(ct)), testKey, testAAD, WithSegmentSize(seg))
		require.NoError(t, err)
		return ra.c.sb.pt
	}()
	require.True(t, holdsPlaintext(dropped))
	require.True(t, wipedAfterGC(dropped), "cache of a dropped ReaderAt not wiped")
}
