package stream

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// Small segments make a short ciphertext with many segments: 64-byte
// segments, 200 bytes of plaintext: 5 segments, 320 bytes.
const tamperSeg = 64

func tamperStream(t testing.TB) (pt, ct []byte) {
	pt = seeded(1, 200)
	ct = encrypt(t, pt, WithSegmentSize(tamperSeg))
	require.Len(t, ct, 320)
	return pt, ct
}

// checkRejected asserts that every decryption path rejects bad with
// ErrAuthentication and releases exactly the leading segments that an
// independent decoder authenticates, never more.
func checkRejected(t *testing.T, bad []byte, name string) {
	t.Helper()
	refSegs, valid := refOpen(testKey, testAAD, bad, tamperSeg)
	require.False(t, valid, "%s: reference decoder accepted it", name)
	authentic := bytes.Join(refSegs, nil)

	for _, conc := range []int{1, 2} {
		opts := []Option{WithSegmentSize(tamperSeg), WithConcurrency(conc)}
		// Pull path, small reads.
		out, err := decryptAll(bad, opts...)
		requireAuthErr(t, err, name, "pull", conc)
		require.Equal(t, authentic, nonNil(out), "%s: pull released unauthenticated bytes", name)

		// Pull path, one big read: the whole buffer must hold no unauthenticated plaintext.
		if r, err := NewDecryptReader(plainReader{bytes.NewReader(bad)}, testKey, testAAD, opts...); err != nil {
			requireAuthErr(t, err, name)
		} else {
			buf := make([]byte, 4096)
			n, err := io.ReadFull(r, buf)
			requireAuthErr(t, err, name, "readfull", conc)
			require.Equal(t, authentic, nonNil(buf[:n]), name)
			// Sticky.
			_, err2 := r.Read(buf)
			require.Equal(t, err, err2, "%s: error not sticky", name)
		}

		// io.Copy (WriteTo) from a bytes.Reader.
		if r, err := NewDecryptReader(bytes.NewReader(bad), testKey, testAAD, opts...); err != nil {
			requireAuthErr(t, err, name)
		} else {
			var sink bytes.Buffer
			_, err := io.Copy(&sink, r)
			requireAuthErr(t, err, name, "writeto", conc)
			require.Equal(t, authentic, nonNil(sink.Bytes()), "%s: WriteTo released unauthenticated bytes", name)
		}
	}

	// ReaderAt: rejected at open, or (a middle segment) on the read.
	ra, err := NewDecryptReaderAt(bytes.NewReader(bad), int64(len(bad)), testKey, testAAD, WithSegmentSize(tamperSeg))
	if err != nil {
		requireAuthErr(t, err, name, "readerat open")
		return
	}
	buf := make([]byte, ra.Size())
	n, err := ra.ReadAt(buf, 0)
	requireAuthErr(t, err, name, "readat")
	require.Equal(t, authentic[:n], buf[:n], name)
	require.LessOrEqual(t, n, len(authentic), name)
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func TestTamperEveryBitFlip(t *testing.T) {
	_, ct := tamperStream(t)
	for i := range ct {
		for bit := range 8 {
			bad := bytes.Clone(ct)
			bad[i] ^= 1 << bit
			checkRejected(t, bad, fmt.Sprintf("flip byte %d bit %d", i, bit))
		}
	}
}

func TestTamperTruncateEveryOffset(t *testing.T) {
	_, ct := tamperStream(t)
	for n := range len(ct) {
		checkRejected(t, ct[:n], fmt.Sprintf("truncated to %d", n))
	}
}

// segmentsOf splits a ciphertext into header and segments.
func segmentsOf(ct []byte) (hdr []byte, segs [][]byte) {
	hdr, body := ct[:HeaderSize], ct[HeaderSize:]
	for i := 0; len(body) > 0; i++ {
		n := min(len(body), tamperSeg)
		if i == 0 {
			n = min(len(body), tamperSeg-HeaderSize)
		}
		segs = append(segs, body[:n])
		body = body[n:]
	}
	return hdr, segs
}

func join(hdr []byte, segs ...[]byte) []byte {
	return bytes.Join(append([][]byte{hdr}, segs...), nil)
}

func TestTamperSegments(t *testing.T) {
	_, ct := tamperStream(t)
	hdr, s := segmentsOf(ct)
	require.Len(t, s, 5)
	// A second stream under the same key and aad, same plaintext.
	_, ct2 := tamperStream(t)
	hdr2, s2 := segmentsOf(ct2)
	require.NotEqual(t, ct, ct2)

	cases := map[string][]byte{
		"swap 1 and 2":           join(hdr, s[0], s[2], s[1], s[3], s[4]),
		"swap 2 and 3":           join(hdr, s[0], s[1], s[3], s[2], s[4]),
		"duplicate 1":            join(hdr, s[0], s[1], s[1], s[2], s[3], s[4]),
		"duplicate last":         join(hdr, s[0], s[1], s[2], s[3], s[4], s[4]),
		"drop 2":                 join(hdr, s[0], s[1], s[3], s[4]),
		"drop last":              join(hdr, s[0], s[1], s[2], s[3]),
		"last moved early":       join(hdr, s[0], s[4]),
		"splice 2 from other":    join(hdr, s[0], s[1], s2[2], s[3], s[4]),
		"splice last from other": join(hdr, s[0], s[1], s[2], s[3], s2[4]),
		"other header":           join(hdr2, s...),
		"append 1 byte":          append(bytes.Clone(ct), 0),
		"append 16 bytes":        append(bytes.Clone(ct), make([]byte, 16)...),
		"append a segment":       append(bytes.Clone(ct), s[1]...),
		"append other stream":    append(bytes.Clone(ct), ct2...),
		"header only":            hdr,
		"empty":                  {},
		"bad header length":      append([]byte{41}, ct[1:]...),
	}
	for name, bad := range cases {
		checkRejected(t, bad, name)
	}
}

func TestWrongKeyOrAAD(t *testing.T) {
	for _, size := range []int{0, 1, 200} {
		pt := seeded(3, size)
		ct := encrypt(t, pt, WithSegmentSize(tamperSeg))
		otherKey := bytes.Clone(testKey)
		otherKey[31] ^= 1
		for name, ka := range map[string][2][]byte{
			"key":       {otherKey, testAAD},
			"aad":       {testKey, []byte("bucket/other")},
			"empty aad": {testKey, nil},
		} {
			opts := []Option{WithSegmentSize(tamperSeg)}
			r, err := NewDecryptReader(bytes.NewReader(ct), ka[0], ka[1], opts...)
			require.NoError(t, err)
			out, err := io.ReadAll(r)
			requireAuthErr(t, err, name)
			require.Empty(t, out)
			_, err = NewDecryptReaderAt(bytes.NewReader(ct), int64(len(ct)), ka[0], ka[1], opts...)
			requireAuthErr(t, err, name)
		}
	}
}

// TestNoPlaintextOfTamperedSegment corrupts one middle segment of a large
// stream and reads with one buffer that could hold everything: the bytes
// of the corrupted segment's plaintext must appear nowhere in it.
func TestNoPlaintextOfTamperedSegment(t *testing.T) {
	const seg = 4096
	g := geometry{seg}
	pt := seeded(11, 10*seg)
	ct := encrypt(t, pt, WithSegmentSize(seg))
	const k = 3
	bad := bytes.Clone(ct)
	bad[g.ctStart(k)+int64(seg)-1] ^= 0x80 // last tag byte of segment k
	secret := pt[g.ptStart(k):g.ptStart(k+1)]

	for _, conc := range []int{1, 2} {
		opts := []Option{WithSegmentSize(seg), WithConcurrency(conc)}
		for name, src := range map[string]io.Reader{"plain": plainReader{bytes.NewReader(bad)}, "bytesreader": bytes.NewReader(bad)} {
			r, err := NewDecryptReader(src, testKey, testAAD, opts...)
			require.NoError(t, err)
			var sink bytes.Buffer
			_, err = io.Copy(&sink, r)
			requireAuthErr(t, err)
			require.Equal(t, pt[:g.ptStart(k)], sink.Bytes(), name)
			require.False(t, bytes.Contains(sink.Bytes(), secret[:32]), name)

			r, err = NewDecryptReader(src, testKey, testAAD, opts...)
			if err == nil {
				buf := make([]byte, len(pt))
				n, err := io.ReadFull(r, buf)
				requireAuthErr(t, err)
				require.False(t, bytes.Contains(buf, secret[:32]), "%s: tampered plaintext in the read buffer", name)
				require.Equal(t, pt[:n], buf[:n])
			}
		}
	}

	ra, err := NewDecryptReaderAt(bytes.NewReader(bad), int64(len(bad)), testKey, testAAD, WithSegmentSize(seg))
	require.NoError(t, err)
	for _, rng := range [][2]int64{{0, int64(len(pt))}, {g.ptStart(k), g.ptStart(k + 1)}, {g.ptStart(k) + 5, g.ptStart(k) + 6}, {g.ptStart(k) - 10, g.ptStart(k) + 10}} {
		buf := make([]byte, rng[1]-rng[0])
		n, err := ra.ReadAt(buf, rng[0])
		requireAuthErr(t, err)
		require.Equal(t, pt[rng[0]:rng[0]+int64(n)], buf[:n])
		require.LessOrEqual(t, rng[0]+int64(n), max(rng[0], g.ptStart(k)))
		if len(buf) >= 32 {
			require.False(t, bytes.Contains(buf, secret[:32]))
		}
	}
	// Untouched segments still read fine.
	buf := make([]byte, 100)
	_, err = ra.ReadAt(buf, g.ptStart(k+1))
	require.NoError(t, err)
	require.Equal(t, pt[g.ptStart(k+1):][:100], buf)
}
