package stream

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// The fuzz targets use small segments so that short inputs span many.
const fuzzSeg = 64

// refSegment is one segment opened on its own by the reference decoder.
type refSegment struct {
	pt []byte
	ok bool
}

// refSegments splits ct per the spec and opens every segment independently
// (the one ending the input as last). ok is false if the header is invalid.
func refSegments(key, aad, ct []byte, segSize int) (segs []refSegment, ok bool) {
	if len(ct) < HeaderSize || ct[0] != HeaderSize {
		return nil, false
	}
	k, _ := hkdf.Key(sha256.New, key, ct[1:33], string(aad), 32)
	block, _ := aes.NewCipher(k)
	gcm, _ := cipher.NewGCM(block)
	body := ct[HeaderSize:]
	for i := uint32(0); ; i++ {
		size := segSize
		if i == 0 {
			size = segSize - HeaderSize
		}
		last := len(body) <= size
		seg := body[:min(size, len(body))]
		body = body[len(seg):]
		nonce := make([]byte, 12)
		copy(nonce, ct[33:40])
		binary.BigEndian.PutUint32(nonce[7:], i)
		if last {
			nonce[11] = 1
		}
		pt, err := gcm.Open(nil, nonce, seg, nil)
		segs = append(segs, refSegment{pt, err == nil})
		if last {
			return segs, true
		}
	}
}

// FuzzDecryptReader feeds arbitrary bytes to the decrypting reader on every
// path: it must not panic, must accept exactly the valid streams, and must
// release exactly the leading segments that authenticate.
func FuzzDecryptReader(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, byte(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, mode byte) {
		conc := 1 + int(mode&1)
		var src io.Reader = bytes.NewReader(data)
		if mode&2 != 0 {
			src = plainReader{src}
		}
		refs, valid := refOpen(testKey, testAAD, data, fuzzSeg)
		want := bytes.Join(refs, nil)
		r, err := NewDecryptReader(src, testKey, testAAD, WithSegmentSize(fuzzSeg), WithConcurrency(conc))
		var got []byte
		if err == nil {
			if mode&4 != 0 {
				var buf bytes.Buffer
				_, err = io.Copy(&buf, r)
				got = buf.Bytes()
			} else {
				got, err = io.ReadAll(r)
			}
		}
		if valid {
			require.NoError(t, err)
		} else if !errors.Is(err, ErrAuthentication) {
			t.Fatalf("invalid stream: got %v, want ErrAuthentication", err)
		}
		if !bytes.Equal(want, got) {
			t.Fatalf("released %d bytes, %d authenticate", len(got), len(want))
		}
	})
}

// FuzzReaderAt opens arbitrary bytes as a ReaderAt and reads a range: no
// panic, only authenticated bytes, io.ReaderAt semantics.
func FuzzReaderAt(f *testing.F) {
	for i, s := range fuzzSeeds(f) {
		f.Add(s, int64(i*13), uint16(i*37))
	}
	f.Fuzz(func(t *testing.T, data []byte, off int64, n uint16) {
		segs, hdrOK := refSegments(testKey, testAAD, data, fuzzSeg)
		_, _, sizeOK := geometry{fuzzSeg}.segments(int64(len(data)))
		ra, err := NewDecryptReaderAt(bytes.NewReader(data), int64(len(data)), testKey, testAAD, WithSegmentSize(fuzzSeg))
		finalOK := hdrOK && sizeOK && segs[len(segs)-1].ok
		if !finalOK {
			if !errors.Is(err, ErrAuthentication) {
				t.Fatalf("got %v, want ErrAuthentication", err)
			}
			return
		}
		require.NoError(t, err)
		size := int64(len(data) - HeaderSize - tagSize*len(segs))
		if ra.Size() != size {
			t.Fatalf("size %d, want %d", ra.Size(), size)
		}
		buf := make([]byte, n)
		got, err := ra.ReadAt(buf, off)
		if off < 0 {
			require.ErrorIs(t, err, ErrInvalidArgument)
			return
		}
		// Expected: the range's bytes up to the first segment that fails.
		g := geometry{fuzzSeg}
		var want []byte
		bad := false
		for p := off; p < min(off+int64(n), size); {
			i := g.segmentOf(p)
			if !segs[i].ok {
				bad = true
				break
			}
			chunk := segs[i].pt[p-g.ptStart(i):]
			chunk = chunk[:min(int64(len(chunk)), off+int64(n)-p)]
			want = append(want, chunk...)
			p += int64(len(chunk))
		}
		switch {
		case bad:
			require.ErrorIs(t, err, ErrAuthentication)
		case off >= size || off+int64(n) > size:
			require.Equal(t, io.EOF, err)
		default:
			require.NoError(t, err)
		}
		require.Equal(t, len(want), got)
		require.Equal(t, nonNil(want), nonNil(buf[:got]))
	})
}

// fuzzSeeds are valid streams, and a few damaged ones, under the test key.
func fuzzSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for i, size := range []int{0, 1, 8, 9, 56, 57, 150} {
		ct := encrypt(t, seeded(uint64(i), size), WithSegmentSize(fuzzSeg), withRand(bytes.NewReader(seeded(uint64(100+i), 39))))
		seeds = append(seeds, ct)
	}
	last := seeds[len(seeds)-1]
	seeds = append(seeds, last[:len(last)-1], append(bytes.Clone(last), 0), []byte{HeaderSize})
	mid := bytes.Clone(last)
	mid[100] ^= 1
	return append(seeds, mid)
}

// TestWriteFuzzCorpus regenerates testdata/fuzz when STREAM_UPDATE_TESTDATA=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("STREAM_UPDATE_TESTDATA") != "1" {
		t.Skip("set STREAM_UPDATE_TESTDATA=1 to regenerate")
	}
	for i, s := range fuzzSeeds(t) {
		q := strconv.QuoteToASCII(string(s))
		files := map[string]string{
			"FuzzDecryptReader": fmt.Sprintf("go test fuzz v1\n[]byte(%s)\nbyte(%q)\n", q, byte(i%8)),
			"FuzzReaderAt":      fmt.Sprintf("go test fuzz v1\n[]byte(%s)\nint64(%d)\nuint16(%d)\n", q, i*13, i*37),
		}
		for target, body := range files {
			dir := filepath.Join("testdata", "fuzz", target)
			require.NoError(t, os.MkdirAll(dir, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644))
		}
	}
}
