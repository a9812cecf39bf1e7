package stream

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWriteToFromMemory checks WriteTo from a bytes.Reader or bytes.Buffer
// (segments opened in the source's memory, see memOpener) for plaintext
// sizes around segment boundaries, after first reading none, one byte,
// exactly one segment (which leaves a byte read ahead) or some more with
// Read, and with the final segment full or empty.
func TestWriteToFromMemory(t *testing.T) {
	const seg = 4096
	g := geometry{seg}
	p0, p1 := int(g.ptCap(0)), int(g.ptCap(1))
	sizes := []int{0, 1, p0 - 1, p0, p0 + 1, p0 + p1, p0 + p1 + 1, p0 + 3*p1, p0 + 3*p1 + 77}
	for _, size := range sizes {
		pt := seeded(uint64(size), size)
		ct := encrypt(t, pt, WithSegmentSize(seg))
		for _, pre := range []int{0, 1, p0, p0 + 5} {
			if pre > size {
				continue
			}
			srcs := map[string]func() io.Reader{
				"bytes.Reader": func() io.Reader { return bytes.NewReader(ct) },
				"bytes.Buffer": func() io.Reader { return bytes.NewBuffer(bytes.Clone(ct)) },
			}
			for name, src := range srcs {
				for _, conc := range []int{1, 2, 3} {
					r, err := NewDecryptReader(src(), testKey, testAAD, WithSegmentSize(seg), WithConcurrency(conc))
					require.NoError(t, err)
					head := make([]byte, pre)
					_, err = io.ReadFull(r, head)
					require.NoError(t, err)
					var out bytes.Buffer
					n, err := r.(io.WriterTo).WriteTo(&out)
					require.NoError(t, err, "%s size %d pre %d", name, size, pre)
					require.Equal(t, int64(size-pre), n)
					require.Equal(t, pt, append(head, out.Bytes()...), "%s size %d pre %d", name, size, pre)
					m, err := r.Read(make([]byte, 10))
					require.Zero(t, m)
					require.ErrorIs(t, err, io.EOF)
				}
			}
		}
	}
}

// TestWriteToFromMemoryRejects checks that the memory path rejects
// truncation at a segment boundary and bytes appended after the final
// segment, and hands out nothing of a segment that fails.
func TestWriteToFromMemoryRejects(t *testing.T) {
	const seg = 4096
	g := geometry{seg}
	pt := seeded(5, int(g.ptCap(0)+3*g.ptCap(1)+100))
	ct := encrypt(t, pt, WithSegmentSize(seg))
	for name, bad := range map[string][]byte{
		"cut after segment 1":   ct[:g.ctStart(2)],
		"cut after segment 3":   ct[:g.ctStart(4)],
		"appended byte":         append(bytes.Clone(ct), 0),
		"appended segment":      append(bytes.Clone(ct), ct[g.ctStart(1):g.ctStart(2)]...),
		"header only":           ct[:HeaderSize],
		"short final":           ct[:g.ctStart(4)+tagSize-1],
		"segment 2 flipped":     flipAt(ct, g.ctStart(2)+10),
		"segments 1, 2 swapped": join(ct[:g.ctStart(1)], ct[g.ctStart(2):g.ctStart(3)], ct[g.ctStart(1):g.ctStart(2)], ct[g.ctStart(3):]),
	} {
		for _, conc := range []int{1, 2, 3} {
			r, err := NewDecryptReader(bytes.NewReader(bad), testKey, testAAD, WithSegmentSize(seg), WithConcurrency(conc))
			require.NoError(t, err)
			var out bytes.Buffer
			_, err = io.Copy(&out, r)
			requireAuthErr(t, err, name)
			require.True(t, bytes.HasPrefix(pt, out.Bytes()), name)
			require.Less(t, out.Len(), len(pt), name)
		}
	}
}

// TestWriteToFromMemoryWriterError checks that the destination's error is
// returned and sticky.
func TestWriteToFromMemoryWriterError(t *testing.T) {
	const seg = 4096
	pt := seeded(6, 9*seg)
	ct := encrypt(t, pt, WithSegmentSize(seg))
	for _, conc := range []int{1, 2} {
		r, err := NewDecryptReader(bytes.NewReader(ct), testKey, testAAD, WithSegmentSize(seg), WithConcurrency(conc))
		require.NoError(t, err)
		boom := errors.New("boom")
		_, err = r.(io.WriterTo).WriteTo(failAfter{n: 2, err: boom, calls: new(int)})
		require.ErrorIs(t, err, boom)
		_, err = r.(io.WriterTo).WriteTo(io.Discard)
		require.ErrorIs(t, err, boom)
		_, err = r.Read(make([]byte, 10))
		require.ErrorIs(t, err, boom)
	}
}

// flipAt returns a copy of b with one bit of byte i flipped.
func flipAt(b []byte, i int64) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}

type failAfter struct {
	n     int
	calls *int
	err   error
}

func (f failAfter) Write(p []byte) (int, error) {
	*f.calls++
	if *f.calls > f.n {
		return 0, f.err
	}
	return len(p), nil
}

// TestWriteToFromMemoryTamperEachSegment flips a byte of each segment in
// turn and checks, for every concurrency (whichever goroutine opens the
// segment: a worker's share or the caller's own), that WriteTo hands out
// exactly the plaintext of the segments before it, nothing of it or after.
func TestWriteToFromMemoryTamperEachSegment(t *testing.T) {
	const seg, segments = 4096, 9
	g := geometry{seg}
	pt := seeded(7, int(g.ptCap(0)+(segments-1)*g.ptCap(1)))
	ct := encrypt(t, pt, WithSegmentSize(seg))
	for i := int64(0); i < segments; i++ {
		bad := flipAt(ct, g.ctStart(i)+3)
		want := g.ptStart(i)
		for _, conc := range []int{1, 2, 3, 4} {
			r, err := NewDecryptReader(bytes.NewReader(bad), testKey, testAAD, WithSegmentSize(seg), WithConcurrency(conc))
			require.NoError(t, err)
			var out bytes.Buffer
			_, err = io.Copy(&out, r)
			requireAuthErr(t, err, "segment %d conc %d", i, conc)
			require.Equal(t, int(want), out.Len(), "segment %d conc %d", i, conc)
			require.True(t, bytes.Equal(pt[:want], out.Bytes()), "segment %d conc %d", i, conc)
		}
	}
}
