package stream

import (
	"bytes"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// heapPerStream opens n streams of a 4 KiB object at once and keeps them
// open mid-way (writers that have had the whole object written but are not
// closed; readers that have returned the first 100 bytes), as a server
// handling n concurrent requests holds them, and returns the heap in use
// per stream, in bytes.
func heapPerStream(tb testing.TB, n int, decrypt bool, opts ...Option) float64 {
	pt := seeded(1, 4<<10)
	ct := encrypt(tb, pt)
	held := make([]any, n)
	var before, after runtime.MemStats
	settle()
	runtime.ReadMemStats(&before)
	one := make([]byte, 100)
	for i := range held {
		if decrypt {
			r, err := NewDecryptReader(plainReader{bytes.NewReader(ct)}, testKey, testAAD, opts...)
			require.NoError(tb, err)
			_, err = io.ReadFull(r, one)
			require.NoError(tb, err)
			held[i] = r
		} else {
			w, err := NewEncryptWriter(io.Discard, testKey, testAAD, opts...)
			require.NoError(tb, err)
			_, err = w.Write(pt)
			require.NoError(tb, err)
			held[i] = w
		}
	}
	settle()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(held)
	return float64(after.HeapInuse-before.HeapInuse) / float64(n)
}

// settle collects garbage until the heap in use stops shrinking: buffers
// of streams dropped unfinished (an earlier run's) stay reachable from their
// wiping cleanup until it has run, one cycle later.
func settle() {
	var m runtime.MemStats
	last := ^uint64(0)
	for range 10 {
		runtime.GC()
		time.Sleep(time.Millisecond) // let queued cleanups run
		runtime.ReadMemStats(&m)
		if m.HeapInuse >= last {
			return
		}
		last = m.HeapInuse
	}
}

// BenchmarkHeapPerStream reports heap in use per concurrent 4 KiB stream
// (B/stream), 1,000 streams at a time, on the default path.
//
//	go test -run '^$' -bench HeapPerStream ./stream
func BenchmarkHeapPerStream(b *testing.B) {
	for _, dir := range []struct {
		name    string
		decrypt bool
	}{{"encrypt", false}, {"decrypt", true}} {
		b.Run(dir.name+"/4KiB", func(b *testing.B) {
			var per float64
			for b.Loop() {
				per = heapPerStream(b, 1000, dir.decrypt)
			}
			b.ReportMetric(per, "B/stream")
		})
	}
}

// TestHeapPerStream: a server holding many 4 KiB streams at once holds
// about the object per stream (4 KiB of plaintext plus header and tag in a
// 5 KiB buffer class, the AES-GCM state and the stream's own state), not a
// 64 KiB or 1 MiB segment.
func TestHeapPerStream(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector adds shadow memory per allocation")
	}
	for _, decrypt := range []bool{false, true} {
		per := heapPerStream(t, 2000, decrypt)
		t.Logf("decrypt=%v: %.0f bytes per 4 KiB stream", decrypt, per)
		require.Less(t, per, 9000.0)
	}
}
