package kms

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// hotSwapLoad runs workers that each loop GenerateDataKey → Decrypt (twice:
// the fresh ciphertext and the one from the previous iteration) and check
// the plaintexts, while reconfigure is called every 2 ms; the workers stop
// once each did minIter iterations and minSwaps reconfigurations happened.
// Every call must succeed.
//
// Why this is a fair test of "nothing fails in between": every
// configuration the test swaps to can serve every ciphertext the workload
// holds (either the backend is reused, or the new backend opens a replica of
// the same keys), so a failure can only come from the swap itself, e.g. a
// call running on a backend that was closed under it, a nil runtime, or a
// wiped cache entry handed out.
func hotSwapLoad(t *testing.T, m *Manager, workers, minIter int, minSwaps int64, reconfigure func(i int) error) (swaps int) {
	t.Helper()
	ctx := context.Background()
	var (
		wg       sync.WaitGroup
		failures atomic.Int64
		firstErr atomic.Pointer[error]
		done     = make(chan struct{})
		swapped  atomic.Int64
	)
	fail := func(err error) {
		failures.Add(1)
		firstErr.CompareAndSwap(nil, &err)
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ec := EncryptionContext{"worker": fmt.Sprint(w)}
			var prev DataKey
			for it := 0; it < minIter || swapped.Load() < minSwaps; it++ {
				dk, err := m.GenerateDataKey(ctx, "", ec)
				if err != nil {
					fail(err)
					continue
				}
				got, err := m.Decrypt(ctx, dk.Ciphertext, ec)
				if err != nil {
					fail(err)
				} else if !bytes.Equal(got.Plaintext, dk.Plaintext) {
					fail(fmt.Errorf("decrypt returned a different key"))
				}
				got.Zero()
				if prev.Ciphertext != nil {
					got, err := m.Decrypt(ctx, prev.Ciphertext, ec)
					if err != nil {
						fail(err)
					} else if !bytes.Equal(got.Plaintext, prev.Plaintext) {
						fail(fmt.Errorf("decrypt of the previous key returned a different key"))
					}
					got.Zero()
				}
				prev.Zero()
				prev = dk
			}
		}()
	}
	swapDone := make(chan int)
	go func() {
		i := 0
		for {
			select {
			case <-done:
				swapDone <- i
				return
			default:
			}
			if err := reconfigure(i); err != nil {
				fail(fmt.Errorf("reconfigure %d: %w", i, err))
			}
			i++
			swapped.Add(1)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	wg.Wait()
	close(done)
	swaps = <-swapDone
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d calls failed during hot swaps; first: %v", n, *firstErr.Load())
	}
	require.Equal(t, StateRunning, m.Status(ctx).State)
	return swaps
}

// cacheAndTimeoutPatches alternates settings that keep the backend but
// replace the runtime (and, for the cache settings, the cache).
func cacheAndTimeoutPatches(i int) ConfigPatch {
	on, off := true, false
	ttl1, ttl2, max1, max2, t1, t2, r1, r2 := 60, 120, 50, 5000, 10, 20, 1, 3
	switch i % 4 {
	case 0:
		return ConfigPatch{EnableCache: &off, TimeoutSeconds: &t1}
	case 1:
		return ConfigPatch{EnableCache: &on, CacheTTLSeconds: &ttl1, MaxCachedKeys: &max1, RetryAttempts: &r1}
	case 2:
		return ConfigPatch{CacheTTLSeconds: &ttl2, MaxCachedKeys: &max2, TimeoutSeconds: &t2}
	default:
		return ConfigPatch{RetryAttempts: &r2}
	}
}

func TestHotSwapFake(t *testing.T) {
	w := newFakeWorld()
	m := startFake(t, w, fakeConfig("a"))
	// "/fake/a" and "/fake/b" are the same store: replicas of the same keys.
	w.stores["/fake/b"] = w.stores["/fake/a"]
	w.delay.Store(int64(100 * time.Microsecond)) // calls overlap the swaps
	ctx := context.Background()
	swaps := hotSwapLoad(t, m, 8, 500, 200, func(i int) error {
		p := cacheAndTimeoutPatches(i)
		if i%3 == 0 { // every third swap replaces the backend too
			dir := []string{"/fake/a", "/fake/b"}[i/3%2]
			p.KeyDir = &dir
		}
		return m.Reconfigure(ctx, p)
	})
	t.Logf("%d reconfigurations, %d backends opened, %d backend calls", swaps, len(w.opened), w.backendOps.Load())
	require.GreaterOrEqual(t, swaps, 200)
	require.Zero(t, w.afterClose.Load(), "no call reached a closed backend")
	for _, b := range w.opened[:len(w.opened)-1] {
		require.True(t, b.closed.Load(), "every replaced backend was closed")
	}
}
