package stream

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

// sizesAround returns plaintext sizes at and around every segment boundary
// for the first few segments of segment size seg.
func sizesAround(seg int) []int {
	g := geometry{int64(seg)}
	sizes := []int{0, 1, 2, 15, 16, 17}
	for i := int64(0); i < 4; i++ {
		b := int(g.ptStart(i + 1))
		sizes = append(sizes, b-1, b, b+1)
	}
	return sizes
}

func TestRoundTrip(t *testing.T) {
	for _, seg := range []int{MinSegmentSize, 64, 100, 4096} {
		for _, conc := range []int{1, 2, 3} {
			for _, size := range sizesAround(seg) {
				name := fmt.Sprintf("seg=%d/conc=%d/size=%d", seg, conc, size)
				t.Run(name, func(t *testing.T) {
					testRoundTrip(t, seg, conc, size)
				})
			}
		}
	}
}

func testRoundTrip(t *testing.T, seg, conc, size int) {
	pt := seeded(uint64(size), size)
	fixed := func() Option { return withRand(bytes.NewReader(seeded(99, 39))) }
	opts := []Option{WithSegmentSize(seg), WithConcurrency(conc)}

	// Reference ciphertext: one Write, sequential, fixed randomness.
	want := encrypt(t, pt, WithSegmentSize(seg), fixed())
	c, err := EncryptedSize(int64(size), seg)
	require.NoError(t, err)
	require.Equal(t, c, int64(len(want)))
	segs, ok := refOpen(testKey, testAAD, want, seg)
	require.True(t, ok, "reference decoder rejects our ciphertext")
	require.True(t, bytes.Equal(pt, bytes.Join(segs, nil)))

	// Every write pattern and concurrency gives the same bytes.
	for _, chunk := range []int{1, 7, seg - 1, seg + 3, 3 * seg} {
		var buf bytes.Buffer
		w, err := NewEncryptWriter(&buf, testKey, testAAD, append(opts, fixed())...)
		require.NoError(t, err)
		for rest := pt; len(rest) > 0; {
			n := min(chunk, len(rest))
			m, err := w.Write(rest[:n])
			require.NoError(t, err)
			require.Equal(t, n, m)
			rest = rest[n:]
		}
		require.NoError(t, w.Close())
		require.NoError(t, w.Close(), "second Close")
		_, err = w.Write([]byte{1})
		require.ErrorIs(t, err, ErrClosed)
		require.Equal(t, want, buf.Bytes(), "chunk %d", chunk)
	}

	// Every read path gives the plaintext back.
	readers := map[string]func([]byte) io.Reader{
		"bytesreader": func(ct []byte) io.Reader { return bytes.NewReader(ct) },
		"plain":       func(ct []byte) io.Reader { return plainReader{bytes.NewReader(ct)} },
		"onebyte":     func(ct []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(ct)) },
		"half":        func(ct []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(ct)) },
		"dataerr":     func(ct []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(ct)) },
		"smallbuf":    func(ct []byte) io.Reader { return bytes.NewBuffer(ct) },
	}
	for name, mk := range readers {
		// io.Copy uses WriteTo.
		r, err := NewDecryptReader(mk(want), testKey, testAAD, opts...)
		require.NoError(t, err, name)
		var out bytes.Buffer
		_, err = io.Copy(&out, r)
		require.NoError(t, err, name)
		require.True(t, bytes.Equal(pt, out.Bytes()), name)
		n, err := r.Read(make([]byte, 10))
		require.Equal(t, 0, n)
		require.Equal(t, io.EOF, err, "sticky EOF after WriteTo")

		// iotest.TestReader exercises Read with many buffer sizes.
		r, err = NewDecryptReader(mk(want), testKey, testAAD, opts...)
		require.NoError(t, err, name)
		require.NoError(t, iotest.TestReader(r, pt), name)
	}

	// Mixed: a few small Reads, then WriteTo.
	r, err := NewDecryptReader(bytes.NewReader(want), testKey, testAAD, opts...)
	require.NoError(t, err)
	head := make([]byte, min(5, size))
	_, err = io.ReadFull(r, head)
	require.NoError(t, err)
	var out bytes.Buffer
	_, err = io.Copy(&out, r)
	require.NoError(t, err)
	require.True(t, bytes.Equal(pt, append(head, out.Bytes()...)))

	// ReaderAt.
	ra, err := NewDecryptReaderAt(bytes.NewReader(want), int64(len(want)), testKey, testAAD, opts...)
	require.NoError(t, err)
	require.Equal(t, int64(size), ra.Size())
	got := make([]byte, size)
	n, err := ra.ReadAt(got, 0)
	if size == 0 {
		require.Equal(t, io.EOF, err)
	} else {
		require.NoError(t, err)
	}
	require.Equal(t, size, n)
	require.True(t, bytes.Equal(pt, got))
	d, err := DecryptedSize(int64(len(want)), seg)
	require.NoError(t, err)
	require.Equal(t, int64(size), d)
}

func TestRoundTripLarge(t *testing.T) {
	pt := seeded(7, 5<<20+12345)
	for _, conc := range []int{1, 2, 4} {
		ct := encrypt(t, pt, WithConcurrency(conc))
		c, err := EncryptedSize(int64(len(pt)), DefaultSegmentSize)
		require.NoError(t, err)
		require.Equal(t, c, int64(len(ct)))
		for _, dconc := range []int{1, 3} {
			got, err := decryptAll(ct, WithConcurrency(dconc))
			require.NoError(t, err)
			require.True(t, bytes.Equal(pt, got))
			r, err := NewDecryptReader(bytes.NewReader(ct), testKey, testAAD, WithConcurrency(dconc))
			require.NoError(t, err)
			var out bytes.Buffer
			_, err = io.Copy(&out, r)
			require.NoError(t, err)
			require.True(t, bytes.Equal(pt, out.Bytes()))
		}
	}
}
