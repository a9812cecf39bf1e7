package stream

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAllocsIndependentOfSize proves the steady state allocates nothing per
// segment: a whole encrypt/decrypt costs the same number of allocations for
// 4 segments and for 400.
func TestAllocsIndependentOfSize(t *testing.T) {
	const seg = 1024
	for _, conc := range []int{1, 2} {
		opts := []Option{WithSegmentSize(seg), WithConcurrency(conc)}
		cost := func(segments int) (enc, dec, pull, chunked, at float64) {
			pt := seeded(1, segments*(seg-16))
			ct := encrypt(t, pt, opts...)
			out := make([]byte, len(pt))
			chunk := make([]byte, 100)
			enc = testing.AllocsPerRun(5, func() {
				w, _ := NewEncryptWriter(io.Discard, testKey, testAAD, opts...)
				_, _ = w.Write(pt)
				_ = w.Close()
			})
			chunked = testing.AllocsPerRun(5, func() {
				w, _ := NewEncryptWriter(io.Discard, testKey, testAAD, opts...)
				for rest := pt; len(rest) > 0; rest = rest[min(len(rest), len(chunk)):] {
					_, _ = w.Write(rest[:min(len(rest), len(chunk))])
				}
				_ = w.Close()
			})
			br := bytes.NewReader(ct)
			dec = testing.AllocsPerRun(5, func() {
				br.Reset(ct)
				r, _ := NewDecryptReader(br, testKey, testAAD, opts...)
				_, _ = r.(io.WriterTo).WriteTo(io.Discard)
			})
			pull = testing.AllocsPerRun(5, func() {
				br.Reset(ct)
				r, _ := NewDecryptReader(plainReader{br}, testKey, testAAD, opts...)
				_, _ = io.ReadFull(r, out)
			})
			ra, err := NewDecryptReaderAt(bytes.NewReader(ct), int64(len(ct)), testKey, testAAD, opts...)
			require.NoError(t, err)
			one := make([]byte, 1)
			var off int64
			at = testing.AllocsPerRun(50, func() {
				off = (off + 7*seg + 3) % int64(len(pt))
				_, _ = ra.ReadAt(one, off)
			})
			return
		}
		e1, d1, p1, c1, a1 := cost(4)
		e2, d2, p2, c2, a2 := cost(400)
		t.Logf("conc %d allocs: encrypt %v/%v chunked %v/%v writeto %v/%v pull %v/%v readat %v/%v", conc, e1, e2, c1, c2, d1, d2, p1, p2, a1, a2)
		// Starting worker goroutines sometimes allocates a stack, sometimes
		// reuses one: allow that jitter, not growth with 100x the segments.
		slack := 0.0
		if conc > 1 {
			slack = 4
		}
		if raceEnabled {
			slack += 4 // the internal buffer pool drops buffers at random
		}
		require.InDelta(t, e1, e2, slack, "encrypt")
		require.InDelta(t, c1, c2, slack, "chunked encrypt")
		require.InDelta(t, d1, d2, slack, "WriteTo decrypt")
		require.InDelta(t, p1, p2, slack, "pull decrypt")
		require.Zero(t, a2, "ReadAt")
		if conc == 1 && !raceEnabled {
			// The stream, its buffer, the AES key schedule, GCM, the
			// config (options were given), HKDF's two crypto/hmac states
			// (10) and its one scratch (1). A writer
			// returning from Write with plaintext in its buffer registers
			// the cleanup that wipes it if the writer is dropped (guard:
			// two allocations in runtime.AddCleanup).
			require.LessOrEqual(t, e1, 17.0, "encrypt allocs per object")
			require.LessOrEqual(t, d1, 15.0, "decrypt allocs per object")
			require.LessOrEqual(t, p1, 16.0, "pull decrypt allocs per object")
		}
	}
}
