package stream

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// checkRange compares ra.ReadAt(len n at off) with the plaintext under
// io.ReaderAt semantics.
func checkRange(t testing.TB, ra *ReaderAt, pt []byte, off int64, n int) {
	buf := make([]byte, n)
	got, err := ra.ReadAt(buf, off)
	size := int64(len(pt))
	switch {
	case off >= size:
		require.Equal(t, 0, got)
		require.Equal(t, io.EOF, err, "off %d n %d", off, n)
	case off+int64(n) > size:
		require.Equal(t, int(size-off), got)
		require.Equal(t, io.EOF, err, "off %d n %d", off, n)
		require.Equal(t, pt[off:], buf[:got])
	default:
		require.NoError(t, err, "off %d n %d", off, n)
		require.Equal(t, n, got)
		require.Equal(t, pt[off:off+int64(n)], buf)
	}
}

func TestReadAtRandomRanges(t *testing.T) {
	for _, tc := range []struct{ seg, size int }{
		{MinSegmentSize, 1000}, {64, 0}, {64, 1}, {100, 5000}, {4096, 50000}, {4096, 4040}, {4096, 4041},
	} {
		g := geometry{int64(tc.seg)}
		pt := seeded(uint64(tc.size), tc.size)
		ct := encrypt(t, pt, WithSegmentSize(tc.seg))
		seq, err := decryptAll(ct, WithSegmentSize(tc.seg))
		require.NoError(t, err)
		require.True(t, bytes.Equal(pt, seq))
		ra, err := NewDecryptReaderAt(bytes.NewReader(ct), int64(len(ct)), testKey, testAAD, WithSegmentSize(tc.seg))
		require.NoError(t, err)
		require.Equal(t, int64(tc.size), ra.Size())

		rng := rand.New(rand.NewPCG(uint64(tc.seg), uint64(tc.size)))
		// Borders: every segment boundary +-2, lengths across borders.
		for i := int64(0); g.ptStart(i) <= int64(tc.size)+1; i++ {
			b := g.ptStart(i)
			for d := int64(-2); d <= 2; d++ {
				if b+d < 0 {
					continue
				}
				for _, n := range []int{0, 1, 2, tc.seg - 16, tc.seg, 2*tc.seg + 1} {
					checkRange(t, ra, seq, b+d, n)
				}
			}
		}
		// Random ranges, some past EOF.
		for range 3000 {
			off := rng.Int64N(int64(tc.size) + 100)
			n := rng.IntN(3*tc.seg + 10)
			checkRange(t, ra, seq, off, n)
		}
		// Zero-length read inside the plaintext, negative offset.
		if tc.size > 0 {
			n, err := ra.ReadAt(nil, 0)
			require.Equal(t, 0, n)
			require.NoError(t, err)
		}
		_, err = ra.ReadAt(make([]byte, 1), -1)
		require.ErrorIs(t, err, ErrInvalidArgument)
		// io.SectionReader over it reads the whole plaintext.
		all, err := io.ReadAll(io.NewSectionReader(ra, 0, ra.Size()))
		require.NoError(t, err)
		require.True(t, bytes.Equal(pt, all))
	}
}

func TestReadAtConcurrent(t *testing.T) {
	const seg = 1024
	pt := seeded(5, 200*seg)
	ct := encrypt(t, pt, WithSegmentSize(seg))
	ra, err := NewDecryptReaderAt(bytes.NewReader(ct), int64(len(ct)), testKey, testAAD, WithSegmentSize(seg))
	require.NoError(t, err)
	var wg sync.WaitGroup
	var failures atomic.Int64
	for w := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for range 500 {
				off := rng.Int64N(int64(len(pt)) + 10)
				buf := make([]byte, rng.IntN(3*seg))
				n, err := ra.ReadAt(buf, off)
				if err != nil && !(errors.Is(err, io.EOF) && off+int64(len(buf)) > int64(len(pt))) {
					failures.Add(1)
					continue
				}
				if !bytes.Equal(buf[:n], pt[min(off, int64(len(pt))):][:n]) {
					failures.Add(1)
				}
			}
		})
	}
	wg.Wait()
	require.Zero(t, failures.Load())
}

// countingReaderAt counts the ciphertext bytes read.
type countingReaderAt struct {
	r     io.ReaderAt
	bytes atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.bytes.Add(int64(len(p)))
	return c.r.ReadAt(p, off)
}

func TestReadAtTouchesOnlyNeededSegments(t *testing.T) {
	const seg = 4096
	g := geometry{seg}
	pt := seeded(8, 100*seg)
	ct := encrypt(t, pt, WithSegmentSize(seg))
	cr := &countingReaderAt{r: bytes.NewReader(ct)}
	ra, err := NewDecryptReaderAt(cr, int64(len(ct)), testKey, testAAD, WithSegmentSize(seg))
	require.NoError(t, err)
	// Open reads the header and the final segment only.
	require.LessOrEqual(t, cr.bytes.Load(), int64(HeaderSize+seg))

	cr.bytes.Store(0)
	checkRange(t, ra, pt, g.ptStart(50)+7, 1)
	require.Equal(t, int64(seg), cr.bytes.Load(), "one byte costs one segment")
	cr.bytes.Store(0)
	checkRange(t, ra, pt, g.ptStart(50)+100, 10)
	require.Zero(t, cr.bytes.Load(), "same segment again comes from the cache")
	cr.bytes.Store(0)
	checkRange(t, ra, pt, g.ptStart(60)-1, 2)
	require.Equal(t, int64(2*seg), cr.bytes.Load(), "a border costs two segments")
}

func TestReaderAtRejects(t *testing.T) {
	pt := seeded(9, 1000)
	ct := encrypt(t, pt, WithSegmentSize(100))
	opts := []Option{WithSegmentSize(100)}
	// Claimed size larger than the data: the reads come up short.
	_, err := NewDecryptReaderAt(bytes.NewReader(ct), int64(len(ct))+50, testKey, testAAD, opts...)
	requireAuthErr(t, err)
	_, err = NewDecryptReaderAt(bytes.NewReader(ct), -1, testKey, testAAD, opts...)
	require.ErrorIs(t, err, ErrInvalidArgument)
	// Wrong segment size.
	_, err = NewDecryptReaderAt(bytes.NewReader(ct), int64(len(ct)), testKey, testAAD, WithSegmentSize(101))
	requireAuthErr(t, err)
	// An underlying I/O error is passed through, not disguised.
	boom := errors.New("boom")
	_, err = NewDecryptReaderAt(errReaderAt{boom}, int64(len(ct)), testKey, testAAD, opts...)
	require.ErrorIs(t, err, boom)
	require.NotErrorIs(t, err, ErrAuthentication)
}

type errReaderAt struct{ err error }

func (e errReaderAt) ReadAt([]byte, int64) (int, error) { return 0, e.err }
