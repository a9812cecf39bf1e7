package stream

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"io"
	"sync"
	"testing"
	"time"
)

// BenchmarkConcurrencySpeedup measures WithConcurrency(n) against the
// sequential default on the same 64 MiB in the same iteration, alternating
// which goes first, so that both see the same machine: on a shared VM the
// speed of one core drifts by tens of percent between runs, which separate
// sub-benchmarks would report as speedup or slowdown. x-speedup is the
// sequential wall time over the concurrent one (2.0 = perfect on two
// cores). Encrypt writes the object in one Write into io.Discard; decrypt
// is io.Copy from a bytes.Reader into io.Discard.
//
//	go test -run '^$' -bench ConcurrencySpeedup -benchtime 20x ./stream
func BenchmarkConcurrencySpeedup(b *testing.B) {
	const size = 64 << 20
	pt := seeded(1, size)
	ct := encrypt(b, pt)
	enc := func(opts ...Option) { encryptDiscard(b, pt, opts...) }
	dec := func(opts ...Option) {
		r, err := NewDecryptReader(bytes.NewReader(ct), testKey, testAAD, opts...)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
	// raw is the ceiling: AES-256-GCM Seal of the same 1 MiB segments into
	// a reused buffer, on one goroutine, or with WithConcurrency(n) on n
	// goroutines each sealing every n-th segment into its own buffer, with
	// no stream around it. It tells how much of the two cores the memory
	// and the machine let any parallel AES-GCM use.
	block, _ := aes.NewCipher(testKey)
	gcm, _ := cipher.NewGCM(block)
	const seg = DefaultSegmentSize - tagSize
	dsts := [2][]byte{make([]byte, 0, DefaultSegmentSize), make([]byte, 0, DefaultSegmentSize)}
	nonce := make([]byte, 12)
	sealShare := func(k, n int) {
		for off := k * seg; off < len(pt); off += n * seg {
			dsts[k] = gcm.Seal(dsts[k][:0], nonce, pt[off:min(off+seg, len(pt))], nil)
		}
	}
	raw := func(opts ...Option) {
		if len(opts) == 0 {
			sealShare(0, 1)
			return
		}
		var wg sync.WaitGroup
		wg.Go(func() { sealShare(1, 2) })
		sealShare(0, 2)
		wg.Wait()
	}
	for _, op := range []struct {
		name string
		run  func(...Option)
	}{{"raw-seal", raw}, {"encrypt", enc}, {"decrypt", dec}} {
		for _, n := range []int{2} {
			b.Run(op.name+"/conc="+string(rune('0'+n)), func(b *testing.B) {
				b.SetBytes(size)
				b.ReportAllocs()
				var seq, par time.Duration
				for i := 0; b.Loop(); i++ {
					for k := range 2 {
						start := time.Now()
						if (i+k)%2 == 0 {
							op.run()
							seq += time.Since(start)
						} else {
							op.run(WithConcurrency(n))
							par += time.Since(start)
						}
					}
				}
				b.ReportMetric(seq.Seconds()/par.Seconds(), "x-speedup")
				b.ReportMetric(float64(seq.Nanoseconds())/float64(b.N), "ns/op-seq")
				b.ReportMetric(float64(par.Nanoseconds())/float64(b.N), "ns/op-conc")
			})
		}
	}
}
