package stream

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// Benchmarks: go test -run XXX -bench . -benchmem ./stream
// Competitors (tink-go, minio/sio) are in internal/e2e/stream_bench_test.go.

var benchSizes = []struct {
	name string
	n    int
}{{"4KiB", 4 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}, {"64MiB", 64 << 20}}

// benchModes are the option sets benchmarked: sequential, two goroutines,
// and sequential with a shared BufferPool (what a server would use).
var benchModes = []struct {
	name string
	opts func() []Option
}{
	{"conc=1", func() []Option { return nil }},
	{"conc=2", func() []Option { return []Option{WithConcurrency(2)} }},
	{"pool", func() []Option { return []Option{WithBufferPool(new(BufferPool))} }},
}

func BenchmarkEncrypt(b *testing.B) {
	for _, s := range benchSizes {
		pt := seeded(1, s.n)
		for _, mode := range benchModes {
			b.Run(s.name+"/"+mode.name, func(b *testing.B) {
				opts := mode.opts()
				b.SetBytes(int64(s.n))
				b.ReportAllocs()
				loop(b, func() { encryptDiscard(b, pt, opts...) })
			})
		}
		// io.Copy through a reader without WriteTo: 32 KiB writes, buffered path.
		b.Run(s.name+"/chunked32K", func(b *testing.B) {
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			buf := make([]byte, 32<<10)
			loop(b, func() {
				w, _ := NewEncryptWriter(io.Discard, testKey, testAAD)
				if _, err := io.CopyBuffer(w, plainReader{bytes.NewReader(pt)}, buf); err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

func BenchmarkDecrypt(b *testing.B) {
	for _, s := range benchSizes {
		ct := encrypt(b, seeded(1, s.n))
		for _, mode := range benchModes {
			// io.Copy from a bytes.Reader (the reader's WriteTo).
			b.Run(s.name+"/"+mode.name, func(b *testing.B) {
				opts := mode.opts()
				b.SetBytes(int64(s.n))
				b.ReportAllocs()
				br := bytes.NewReader(ct)
				loop(b, func() {
					br.Reset(ct)
					r, err := NewDecryptReader(br, testKey, testAAD, opts...)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(io.Discard, r); err != nil {
						b.Fatal(err)
					}
				})
			})
		}
		// io.ReadFull into one big buffer: segments opened straight into it.
		b.Run(s.name+"/readfull", func(b *testing.B) {
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			br := bytes.NewReader(ct)
			out := make([]byte, s.n)
			loop(b, func() {
				br.Reset(ct)
				r, _ := NewDecryptReader(br, testKey, testAAD)
				if _, err := io.ReadFull(r, out); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkRawGCM is the ceiling: crypto/cipher AES-256-GCM Seal and Open
// over the same bytes in 1 MiB segments, into one reused output buffer
// (what the stream benchmarks do with io.Discard). SealKeyed and OpenKeyed
// also set up the key for every object (aes.NewCipher, cipher.NewGCM), as a
// stream with a fresh key per object must: the baseline for small objects.
// The data is cache-resident for all of them, as it is for the stream
// benchmarks (the same buffers every iteration).
func BenchmarkRawGCM(b *testing.B) {
	block, _ := aes.NewCipher(testKey)
	gcm, _ := cipher.NewGCM(block)
	nonce := make([]byte, 12)
	const seg = DefaultSegmentSize - tagSize
	for _, s := range benchSizes {
		pt := seeded(1, s.n)
		var ct [][]byte
		for rest := pt; len(rest) > 0; rest = rest[min(seg, len(rest)):] {
			ct = append(ct, gcm.Seal(nil, nonce, rest[:min(seg, len(rest))], nil))
		}
		dst := make([]byte, 0, DefaultSegmentSize)
		seal := func(gcm cipher.AEAD) {
			for rest := pt; len(rest) > 0; rest = rest[min(seg, len(rest)):] {
				dst = gcm.Seal(dst[:0], nonce, rest[:min(seg, len(rest))], nil)
			}
		}
		open := func(b *testing.B, gcm cipher.AEAD) {
			for _, c := range ct {
				var err error
				if dst, err = gcm.Open(dst[:0], nonce, c, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
		keyed := func() cipher.AEAD {
			block, _ := aes.NewCipher(testKey)
			gcm, _ := cipher.NewGCM(block)
			return gcm
		}
		b.Run(s.name+"/Seal", func(b *testing.B) {
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			loop(b, func() { seal(gcm) })
		})
		b.Run(s.name+"/SealKeyed", func(b *testing.B) {
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			loop(b, func() { seal(keyed()) })
		})
		b.Run(s.name+"/Open", func(b *testing.B) {
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			loop(b, func() { open(b, gcm) })
		})
		b.Run(s.name+"/OpenKeyed", func(b *testing.B) {
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			loop(b, func() { open(b, keyed()) })
		})
	}
}

// zeroReader is an endless source of zeros, to encrypt big objects to disk
// without holding them in memory.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// BenchmarkReadAt1Byte reads one byte at a random offset of objects of
// growing size, stored encrypted in a file: the cost is one segment, flat.
func BenchmarkReadAt1Byte(b *testing.B) {
	dir := b.TempDir()
	for _, size := range []int64{1 << 20, 16 << 20, 256 << 20, 1 << 30} {
		name := fmt.Sprintf("%dMiB", size>>20)
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		w, _ := NewEncryptWriter(f, testKey, testAAD)
		if _, err := io.CopyN(w, zeroReader{}, size); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		ctSize, _ := f.Seek(0, io.SeekCurrent)
		ra, err := NewDecryptReaderAt(f, ctSize, testKey, testAAD)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("ciphertext=%s", name), func(b *testing.B) {
			b.ReportAllocs()
			rng := rand.New(rand.NewPCG(1, 2))
			one := make([]byte, 1)
			for b.Loop() {
				if _, err := ra.ReadAt(one, rng.Int64N(size)); err != nil {
					b.Fatal(err)
				}
			}
		})
		f.Close()
		os.Remove(path)
	}
}

// encryptDiscard encrypts pt in one Write into io.Discard, as the
// encryption benchmarks do.
func encryptDiscard(b *testing.B, pt []byte, opts ...Option) {
	w, err := NewEncryptWriter(io.Discard, testKey, testAAD, opts...)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := w.Write(pt); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// loop runs f b.N times (b.Loop) and reports, besides wall time, cpu-ns/op:
// the process's CPU time per iteration, GC included. On a shared machine
// wall time counts the time other processes held the CPU; CPU time does not
// (though they still compete for caches and memory bandwidth).
func loop(b *testing.B, f func()) {
	n := 0
	start := processCPU()
	for b.Loop() {
		f()
		n++
	}
	if cpu := processCPU() - start; cpu > 0 && n > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/op")
	}
}
