package stream

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKeySize(t *testing.T) {
	ct := encrypt(t, []byte("x"))
	for _, n := range []int{0, 1, 16, 24, 31, 33, 64} {
		key := make([]byte, n)
		var errs []error
		_, err := NewEncryptWriter(io.Discard, key, nil)
		errs = append(errs, err)
		_, err = NewDecryptReader(bytes.NewReader(ct), key, nil)
		errs = append(errs, err)
		_, err = NewDecryptReaderAt(bytes.NewReader(ct), int64(len(ct)), key, nil)
		errs = append(errs, err)
		for _, err := range errs {
			require.ErrorIs(t, err, ErrInvalidKeySize, "len %d", n)
			var se *Error
			require.ErrorAs(t, err, &se)
			require.NotErrorIs(t, err, ErrAuthentication)
		}
	}
}

func TestInvalidOptions(t *testing.T) {
	for name, opt := range map[string]Option{
		"segment too small": WithSegmentSize(MinSegmentSize - 1),
		"segment zero":      WithSegmentSize(0),
		"segment too large": WithSegmentSize(MaxSegmentSize + 1),
		"concurrency 0":     WithConcurrency(0),
		"concurrency -1":    WithConcurrency(-1),
		"concurrency huge":  WithConcurrency(maxConcurrency + 1),
	} {
		_, err := NewEncryptWriter(io.Discard, testKey, nil, opt)
		require.ErrorIs(t, err, ErrInvalidArgument, name)
		_, err = NewDecryptReader(bytes.NewReader(nil), testKey, nil, opt)
		require.ErrorIs(t, err, ErrInvalidArgument, name)
		_, err = NewDecryptReaderAt(bytes.NewReader(nil), 0, testKey, nil, opt)
		require.ErrorIs(t, err, ErrInvalidArgument, name)
		var se *Error
		require.ErrorAs(t, err, &se)
		require.Equal(t, "NewDecryptReaderAt", se.Op)
	}
	// The size functions take the segment size alone.
	for _, seg := range []int{MinSegmentSize - 1, 0, -1, MaxSegmentSize + 1} {
		_, err := EncryptedSize(1, seg)
		requireOpErr(t, err, "EncryptedSize", ErrInvalidArgument)
		_, err = DecryptedSize(100, seg)
		requireOpErr(t, err, "DecryptedSize", ErrInvalidArgument)
		_, _, err = CiphertextRange(0, 1, seg)
		requireOpErr(t, err, "CiphertextRange", ErrInvalidArgument)
		_, err = SegmentEnd(0, seg)
		requireOpErr(t, err, "SegmentEnd", ErrInvalidArgument)
	}
	// nil options are ignored; the last valid option wins.
	_, err := NewEncryptWriter(io.Discard, testKey, nil, nil, WithSegmentSize(100), WithSegmentSize(200))
	require.NoError(t, err)
}

type failWriter struct {
	after int
	err   error
}

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, f.err
	}
	f.after--
	return len(p), nil
}

func TestWriterErrorsSticky(t *testing.T) {
	boom := errors.New("disk full")
	for _, conc := range []int{1, 2} {
		fw := &failWriter{after: 2, err: boom}
		w, err := NewEncryptWriter(fw, testKey, nil, WithSegmentSize(64), WithConcurrency(conc))
		require.NoError(t, err)
		var werr error
		for range 100 {
			if _, werr = w.Write(make([]byte, 50)); werr != nil {
				break
			}
		}
		require.ErrorIs(t, werr, boom)
		_, err = w.Write([]byte{1})
		require.ErrorIs(t, err, boom, "sticky")
		require.ErrorIs(t, w.Close(), boom)
		require.ErrorIs(t, w.Close(), boom)
	}
	// Failing on the final segment surfaces from Close.
	fw := &failWriter{after: 0, err: boom}
	w, err := NewEncryptWriter(fw, testKey, nil)
	require.NoError(t, err)
	_, err = w.Write([]byte("small"))
	require.NoError(t, err)
	require.ErrorIs(t, w.Close(), boom)
}

type failReader struct {
	r   io.Reader
	n   int
	err error
}

func (f *failReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	p = p[:min(len(p), f.n)]
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

func TestReaderIOErrorPassesThrough(t *testing.T) {
	pt := seeded(2, 1000)
	ct := encrypt(t, pt, WithSegmentSize(100))
	boom := errors.New("connection reset")
	for _, conc := range []int{1, 2} {
		for _, cut := range []int{10, 40, 150, 500} {
			r, err := NewDecryptReader(&failReader{r: bytes.NewReader(ct), n: cut, err: boom}, testKey, testAAD, WithSegmentSize(100), WithConcurrency(conc))
			if cut < HeaderSize {
				require.ErrorIs(t, err, boom)
				require.NotErrorIs(t, err, ErrAuthentication)
				continue
			}
			require.NoError(t, err)
			out, err := io.ReadAll(r)
			require.ErrorIs(t, err, boom)
			require.NotErrorIs(t, err, ErrAuthentication)
			require.Equal(t, pt[:len(out)], out)
			_, err2 := r.Read(make([]byte, 1))
			require.Equal(t, err, err2)
		}
	}
}

// TestErrorsLeakNothing collects the errors of every failure path and checks
// that none mentions the key, the derived key material, the aad or any
// plaintext, in any formatting.
func TestErrorsLeakNothing(t *testing.T) {
	key := []byte("K3y-m4terial-that-must-not-leak!")
	aad := []byte("associated-data-that-stays-out")
	pt := []byte(strings.Repeat("PLAINTEXT-SECRET-", 20))
	var buf bytes.Buffer
	w, err := NewEncryptWriter(&buf, key, aad, WithSegmentSize(64))
	require.NoError(t, err)
	_, _ = w.Write(pt)
	require.NoError(t, w.Close())
	ct := buf.Bytes()

	var errs []error
	collect := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	readAll := func(r io.Reader, err error) {
		collect(err)
		if err == nil {
			_, err = io.ReadAll(r)
			collect(err)
		}
	}
	bad := bytes.Clone(ct)
	bad[100] ^= 1
	readAll(NewDecryptReader(bytes.NewReader(bad), key, aad, WithSegmentSize(64)))
	readAll(NewDecryptReader(bytes.NewReader(ct), key, []byte("x"), WithSegmentSize(64)))
	readAll(NewDecryptReader(bytes.NewReader(ct[:77]), key, aad, WithSegmentSize(64)))
	readAll(NewDecryptReader(bytes.NewReader(ct[:20]), key, aad, WithSegmentSize(64)))
	readAll(NewDecryptReader(bytes.NewReader(ct), key[:31], aad))
	_, err = NewEncryptWriter(io.Discard, append(bytes.Clone(key), 1), aad)
	collect(err)
	_, err = NewDecryptReaderAt(bytes.NewReader(bad[:len(bad)-1]), int64(len(bad)-1), key, aad, WithSegmentSize(64))
	collect(err)
	ra, err := NewDecryptReaderAt(bytes.NewReader(bad), int64(len(bad)), key, aad, WithSegmentSize(64))
	require.NoError(t, err)
	_, err = ra.ReadAt(make([]byte, 300), 0)
	collect(err)
	_, err = DecryptedSize(65, 64)
	collect(err)
	require.GreaterOrEqual(t, len(errs), 9)

	secrets := [][]byte{key, key[:8], aad, []byte("PLAINTEXT"), []byte("SECRET")}
	for _, err := range errs {
		for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			s := fmt.Sprintf(f, err)
			for _, sec := range secrets {
				for _, enc := range []string{string(sec), hex.EncodeToString(sec), base64.StdEncoding.EncodeToString(sec), fmt.Sprint(sec)} {
					require.NotContains(t, s, enc, "error %q leaks", s)
				}
			}
		}
	}
}
