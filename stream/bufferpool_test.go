package stream

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBufferPoolShared runs many streams of both kinds on one pool from
// several goroutines: every stream still round-trips (buffers are never
// shared by two live streams) and tampering is still caught.
func TestBufferPoolShared(t *testing.T) {
	var pool BufferPool
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 6 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			for i := range 30 {
				seg := []int{100, 1024, 4096}[rng.IntN(3)]
				opts := []Option{WithSegmentSize(seg), WithConcurrency(1 + rng.IntN(3)), WithBufferPool(&pool)}
				pt := seeded(uint64(g*100+i), rng.IntN(20*seg))
				var ct bytes.Buffer
				w, err := NewEncryptWriter(&ct, testKey, testAAD, opts...)
				if err != nil {
					errs <- err
					return
				}
				for rest := pt; len(rest) > 0; {
					n := min(len(rest), 1+rng.IntN(3*seg))
					_, _ = w.Write(rest[:n])
					rest = rest[n:]
				}
				if err := w.Close(); err != nil {
					errs <- err
					return
				}
				bad := rng.IntN(4) == 0 && ct.Len() > 0
				data := bytes.Clone(ct.Bytes())
				if bad {
					data[rng.IntN(len(data))] ^= 1
				}
				r, err := NewDecryptReader(bytes.NewReader(data), testKey, testAAD, opts...)
				var got []byte
				if err == nil {
					got, err = io.ReadAll(r)
				}
				switch {
				case bad && err == nil:
					errs <- fmt.Errorf("tampered stream accepted")
				case !bad && err != nil:
					errs <- err
				case !bad && !bytes.Equal(pt, got):
					errs <- fmt.Errorf("round trip mismatch with a shared pool")
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// With a pool, a steady stream of 1 MiB objects allocates no segment buffers.
func TestBufferPoolAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector randomly drops pooled buffers")
	}
	var pool BufferPool
	pt := seeded(1, 1<<20)
	ct := encrypt(t, pt)
	opts := []Option{WithBufferPool(&pool)}
	run := func() {
		w, _ := NewEncryptWriter(io.Discard, testKey, testAAD, opts...)
		_, _ = w.Write(pt)
		_ = w.Close()
		r, _ := NewDecryptReader(bytes.NewReader(ct), testKey, testAAD, opts...)
		_, _ = io.Copy(io.Discard, r)
	}
	run()
	var before, after runtimeMem
	before.read()
	const n = 20
	for range n {
		run()
	}
	after.read()
	perOp := (after.bytes - before.bytes) / n
	t.Logf("bytes allocated per encrypt+decrypt of 1 MiB with a pool: %d", perOp)
	// Without a pool it is over 2 MiB (a segment buffer per stream); a GC
	// cycle may empty the pool now and then.
	require.Less(t, perOp, uint64(256<<10))
}
