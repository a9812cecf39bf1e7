package stream

import (
	"bytes"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// marker fills the plaintext of TestPooledBuffersWiped; ciphertext or a
// header contains it with probability about 2^-80 per position.
var marker = []byte("PlAiNtExT!")

// plaintextOf returns n bytes of repeated marker.
func plaintextOf(n int) []byte {
	return bytes.Repeat(marker, n/len(marker)+1)[:n]
}

// holdsPlaintext reports whether b holds a piece of a marker plaintext.
func holdsPlaintext(b []byte) bool { return bytes.Contains(b, marker[:8]) }

// TestPooledBuffersWiped runs many streams of both kinds at once, of many
// sizes, written and read every way (one Write, many small ones; WriteTo,
// small Reads, io.ReadFull of exactly the plaintext; abandoned half way,
// tampered), on the internal pool and on a shared BufferPool, each under its
// own key, with a recognisable plaintext. Meanwhile checkers keep taking
// buffers of every class from the pools: none may hold any of it, so no
// stream can find plaintext of another in a recycled buffer. Every stream
// must still round-trip (no buffer is shared by two live streams). Run it
// with -race: a buffer given back while still in use would show.
func TestPooledBuffersWiped(t *testing.T) {
	var shared BufferPool
	var stop atomic.Bool
	var dirty atomic.Int64
	var checkers sync.WaitGroup
	check := func(seed uint64) {
		rng := rand.New(rand.NewPCG(seed, 1))
		for !stop.Load() {
			// Small classes, the full buffers of the segment sizes below,
			// and the shared pool.
			sizes := []int{1 + rng.IntN(smallMax), DefaultSegmentSize, DefaultSegmentSize + 1, 4096, 4097}
			n := sizes[rng.IntN(len(sizes))]
			b := getBuffer(n)
			if holdsPlaintext(*b) {
				dirty.Add(1)
			}
			putBuffer(b)
			if rng.IntN(4) == 0 {
				sb := shared.get(sizes[1+rng.IntN(4)])
				if holdsPlaintext(*sb) {
					dirty.Add(1)
				}
				shared.put(sb)
			}
		}
	}
	for i := range 2 {
		checkers.Go(func() { check(uint64(i)) })
	}

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 2))
			for i := range 25 {
				key := seeded(uint64(1000*g+i), keySize)
				pt := plaintextOf([]int{1, 100, 4096, 5000, 70 << 10, 600 << 10, 1<<20 + 3}[rng.IntN(7)])
				var opts []Option
				if rng.IntN(3) == 0 {
					opts = append(opts, WithSegmentSize(4096))
				}
				if rng.IntN(4) == 0 {
					opts = append(opts, WithBufferPool(&shared))
				}
				if rng.IntN(4) == 0 {
					opts = append(opts, WithConcurrency(2))
				}
				var ct bytes.Buffer
				w, err := NewEncryptWriter(&ct, key, testAAD, opts...)
				if err != nil {
					errs <- err
					return
				}
				for rest := pt; len(rest) > 0; {
					n := min(len(rest), 1+rng.IntN(64<<10))
					_, _ = w.Write(rest[:n])
					rest = rest[n:]
				}
				if rng.IntN(10) == 0 {
					continue // abandoned writer: its buffers are dropped, not pooled
				}
				if err := w.Close(); err != nil {
					errs <- err
					return
				}
				data := ct.Bytes()
				tampered := rng.IntN(5) == 0
				if tampered {
					data[rng.IntN(len(data))] ^= 1
				}
				r, err := NewDecryptReader(bytes.NewReader(data), key, testAAD, opts...)
				if err != nil {
					if !tampered {
						errs <- err
					}
					continue
				}
				var got []byte
				switch rng.IntN(3) {
				case 0:
					var out bytes.Buffer
					_, err = io.Copy(&out, r)
					got = out.Bytes()
				case 1:
					got = make([]byte, len(pt))
					_, err = io.ReadFull(r, got)
				default:
					var out bytes.Buffer
					_, err = io.CopyBuffer(&out, plainReader{r}, make([]byte, 1+rng.IntN(9000)))
					got = out.Bytes()
				}
				if tampered {
					if err == nil {
						errs <- io.ErrUnexpectedEOF // tampering not detected
					}
					continue
				}
				if err != nil {
					errs <- err
					continue
				}
				if !bytes.Equal(got, pt) {
					errs <- io.ErrShortBuffer // a stream saw another's bytes
				}
			}
		})
	}
	wg.Wait()
	stop.Store(true)
	checkers.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Zero(t, dirty.Load(), "a pooled buffer held plaintext of an earlier stream")
}

// TestBufferSizedToObject: a small object on the default path uses a buffer
// of about its own size, from the smallest class that fits, and gives it
// back.
func TestBufferSizedToObject(t *testing.T) {
	pt := bytes.Repeat([]byte{0xAB}, 4096)
	var ct bytes.Buffer
	w, err := NewEncryptWriter(&ct, testKey, testAAD)
	require.NoError(t, err)
	_, err = w.Write(pt)
	require.NoError(t, err)
	ew := w.(*encryptWriter)
	require.LessOrEqual(t, len(ew.p.jobs[0].buf), 5<<10, "writer buffer")
	require.NoError(t, w.Close())
	require.Nil(t, ew.p.jobs[0].buf, "writer keeps its buffer after Close")

	r, err := NewDecryptReader(plainReader{bytes.NewReader(ct.Bytes())}, testKey, testAAD)
	require.NoError(t, err)
	dr := r.(*decryptReader)
	got := make([]byte, 100)
	_, err = r.Read(got)
	require.NoError(t, err)
	require.LessOrEqual(t, len(dr.seg.buf), 5<<10, "reader buffer")
	rest := make([]byte, 4096-100)
	_, err = io.ReadFull(r, rest)
	require.NoError(t, err)
	require.Nil(t, dr.seg.buf, "reader keeps its buffer once the last byte is read")
	_, err = r.Read(got)
	require.Equal(t, io.EOF, err)
}

// TestSmallClasses: classes are increasing, each fits its requests with at
// most a quarter of slack, and the index is within range.
func TestSmallClasses(t *testing.T) {
	last := 0
	for n := 1; n <= smallMax; n++ {
		i, size := smallClass(n)
		require.Less(t, i, numSmall)
		require.GreaterOrEqual(t, size, n)
		if n > minClass {
			require.LessOrEqual(t, size, n+n/4+1, "n %d", n)
		}
		require.GreaterOrEqual(t, size, last)
		last = size
		if i2, s2 := smallClass(size); i2 != i || s2 != size {
			t.Fatalf("class of %d is %d/%d, of its size %d/%d", n, i, size, i2, s2)
		}
	}
}
