package stream

import (
	"bytes"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSizesInverse(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, seg := range []int{minSegmentSize, 64, 1000, 4096, DefaultSegmentSize, maxSegmentSize} {
		g := geometry{int64(seg)}
		sizes := []int64{0, 1, g.ptCap(0) - 1, g.ptCap(0), g.ptCap(0) + 1, g.ptStart(7), 1 << 40}
		for range 1000 {
			sizes = append(sizes, rng.Int64N(1<<42))
		}
		for _, p := range sizes {
			c := EncryptedSize(p, WithSegmentSize(seg))
			if c < 0 {
				continue
			}
			d, err := DecryptedSize(c, WithSegmentSize(seg))
			require.NoError(t, err, "seg %d p %d c %d", seg, p, c)
			require.Equal(t, p, d, "seg %d", seg)
		}
	}
}

// Every ciphertext size is accepted exactly when it is structurally a
// stream: at least a header and a tag, and no final segment shorter than a tag.
func TestDecryptedSizeEveryCiphertextSize(t *testing.T) {
	const seg = 64
	for c := int64(0); c < 10*seg; c++ {
		_, err := DecryptedSize(c, WithSegmentSize(seg))
		last := (c-1)%seg + 1
		ok := c >= HeaderSize+tagSize && (c <= seg || last >= tagSize)
		if ok {
			require.NoError(t, err, "c=%d", c)
		} else {
			requireAuthErr(t, err, "c=%d", c)
		}
	}
}

func TestSizeLimits(t *testing.T) {
	g := geometry{DefaultSegmentSize}
	maxPT := g.ptCap(0) + (maxSegments-1)*g.ptCap(1)
	c := EncryptedSize(maxPT)
	require.Positive(t, c)
	d, err := DecryptedSize(c)
	require.NoError(t, err)
	require.Equal(t, maxPT, d)
	require.Equal(t, int64(-1), EncryptedSize(maxPT+1))
	_, err = DecryptedSize(c + DefaultSegmentSize)
	requireAuthErr(t, err)
	require.Equal(t, int64(-1), EncryptedSize(-1))
	require.Equal(t, int64(-1), EncryptedSize(math.MaxInt64))
	require.Equal(t, int64(-1), EncryptedSize(10, WithSegmentSize(10)))
	_, err = DecryptedSize(100, WithSegmentSize(10))
	require.ErrorIs(t, err, ErrInvalidArgument)
	_, err = DecryptedSize(math.MaxInt64)
	requireAuthErr(t, err)
	require.Equal(t, int64(HeaderSize+tagSize), EncryptedSize(0))
}

// recordingReaderAt remembers the ciphertext intervals read.
type recordingReaderAt struct {
	r     *bytes.Reader
	mu    sync.Mutex
	reads [][2]int64
}

func (c *recordingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.mu.Lock()
	c.reads = append(c.reads, [2]int64{off, off + int64(len(p))})
	c.mu.Unlock()
	return c.r.ReadAt(p, off)
}

func TestCiphertextRange(t *testing.T) {
	const seg = 100
	g := geometry{seg}
	pt := seeded(4, 3000)
	ct := encrypt(t, pt, WithSegmentSize(seg))
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		off := rng.Int64N(int64(len(pt)))
		n := 1 + rng.Int64N(400)
		start, end := CiphertextRange(off, n, WithSegmentSize(seg))
		require.Zero(t, start%seg)
		require.Zero(t, end%seg)
		require.Equal(t, g.segmentOf(off)*seg, start)
		rec := &recordingReaderAt{r: bytes.NewReader(ct)}
		ra, err := NewDecryptReaderAt(rec, int64(len(ct)), testKey, testAAD, WithSegmentSize(seg))
		require.NoError(t, err)
		// Evict the cached final segment so ReadAt has to read.
		ra.mu.Lock()
		ra.cache = nil
		ra.mu.Unlock()
		rec.reads = nil
		checkRange(t, ra, pt, off, int(n))
		for _, r := range rec.reads {
			require.GreaterOrEqual(t, r[0], start)
			require.LessOrEqual(t, r[1], min(end, int64(len(ct))))
		}
		if start == 0 {
			// The header comes with the first segment.
			require.Less(t, int64(HeaderSize), end)
		}
	}
	// The whole plaintext needs the whole ciphertext.
	start, end := CiphertextRange(0, int64(len(pt)), WithSegmentSize(seg))
	require.Equal(t, int64(0), start)
	require.GreaterOrEqual(t, end, int64(len(ct)))
	require.Less(t, end-seg, int64(len(ct)))
	for _, bad := range [][2]int64{{-1, 5}, {0, 0}, {5, -1}, {math.MaxInt64, 1}} {
		s, e := CiphertextRange(bad[0], bad[1])
		require.Equal(t, [2]int64{0, 0}, [2]int64{s, e}, "%v", bad)
	}
	s, e := CiphertextRange(5, math.MaxInt64)
	require.Equal(t, int64(0), s)
	require.Equal(t, int64(math.MaxInt64), e)
}
