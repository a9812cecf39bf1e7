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
	for _, seg := range []int{MinSegmentSize, 64, 1000, 4096, DefaultSegmentSize, MaxSegmentSize} {
		g := geometry{int64(seg)}
		sizes := []int64{0, 1, g.ptCap(0) - 1, g.ptCap(0), g.ptCap(0) + 1, g.ptStart(7), 1 << 40}
		for range 1000 {
			sizes = append(sizes, rng.Int64N(1<<42))
		}
		for _, p := range sizes {
			c, err := EncryptedSize(p, seg)
			if err != nil {
				requireOpErr(t, err, "EncryptedSize", ErrTooLarge)
				continue
			}
			d, err := DecryptedSize(c, seg)
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
		_, err := DecryptedSize(c, seg)
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
	const seg = DefaultSegmentSize
	c, err := EncryptedSize(maxPT, seg)
	require.NoError(t, err)
	require.Positive(t, c)
	d, err := DecryptedSize(c, seg)
	require.NoError(t, err)
	require.Equal(t, maxPT, d)
	_, err = EncryptedSize(maxPT+1, seg)
	requireOpErr(t, err, "EncryptedSize", ErrTooLarge)
	_, err = DecryptedSize(c+DefaultSegmentSize, seg)
	requireAuthErr(t, err)
	_, err = EncryptedSize(-1, seg)
	requireOpErr(t, err, "EncryptedSize", ErrInvalidArgument)
	_, err = EncryptedSize(math.MaxInt64, seg)
	requireOpErr(t, err, "EncryptedSize", ErrTooLarge)
	_, err = EncryptedSize(math.MaxInt64, MinSegmentSize)
	requireOpErr(t, err, "EncryptedSize", ErrTooLarge)
	_, err = EncryptedSize(10, 10)
	requireOpErr(t, err, "EncryptedSize", ErrInvalidArgument)
	_, err = DecryptedSize(100, 10)
	requireOpErr(t, err, "DecryptedSize", ErrInvalidArgument)
	_, err = DecryptedSize(math.MaxInt64, seg)
	requireAuthErr(t, err)
	_, err = DecryptedSize(-1, seg)
	requireAuthErr(t, err)
	c, err = EncryptedSize(0, seg)
	require.NoError(t, err)
	require.Equal(t, int64(HeaderSize+tagSize), c)
}

// SegmentEnd is the plaintext end of the segment holding each offset.
func TestSegmentEnd(t *testing.T) {
	for _, seg := range []int{MinSegmentSize, 64, 100, DefaultSegmentSize, MaxSegmentSize} {
		g := geometry{int64(seg)}
		for i := range int64(5) {
			for _, off := range []int64{g.ptStart(i), (g.ptStart(i) + g.ptStart(i+1)) / 2, g.ptStart(i+1) - 1} {
				end, err := SegmentEnd(off, seg)
				require.NoError(t, err)
				require.Equal(t, g.ptStart(i+1), end, "seg %d off %d", seg, off)
				require.Equal(t, i, g.segmentOf(off))
			}
		}
		maxPT := g.ptCap(0) + (maxSegments-1)*g.ptCap(1)
		end, err := SegmentEnd(maxPT-1, seg)
		require.NoError(t, err)
		require.Equal(t, maxPT, end)
		for _, off := range []int64{-1, maxPT, math.MaxInt64} {
			_, err := SegmentEnd(off, seg)
			requireOpErr(t, err, "SegmentEnd", ErrInvalidArgument)
		}
	}
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
		start, end, err := CiphertextRange(off, n, seg)
		require.NoError(t, err)
		require.Zero(t, start%seg)
		require.Zero(t, end%seg)
		require.Equal(t, g.segmentOf(off)*seg, start)
		rec := &recordingReaderAt{r: bytes.NewReader(ct)}
		ra, err := NewDecryptReaderAt(rec, int64(len(ct)), testKey, testAAD, WithSegmentSize(seg))
		require.NoError(t, err)
		// Evict the cached final segment so ReadAt has to read.
		ra.c.mu.Lock()
		ra.c.sb = nil
		ra.c.mu.Unlock()
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
	start, end, err := CiphertextRange(0, int64(len(pt)), seg)
	require.NoError(t, err)
	require.Equal(t, int64(0), start)
	require.GreaterOrEqual(t, end, int64(len(ct)))
	require.Less(t, end-seg, int64(len(ct)))
	s, e, err := CiphertextRange(7, 0, seg)
	require.NoError(t, err)
	require.Equal(t, [2]int64{0, 0}, [2]int64{s, e})
	for _, bad := range [][2]int64{{-1, 5}, {5, -1}, {math.MaxInt64, 1}} {
		_, _, err := CiphertextRange(bad[0], bad[1], seg)
		requireOpErr(t, err, "CiphertextRange", ErrInvalidArgument)
	}
	s, e, err = CiphertextRange(5, math.MaxInt64, DefaultSegmentSize)
	require.NoError(t, err)
	require.Equal(t, int64(0), s)
	require.Equal(t, int64(math.MaxInt64), e)
}
